"""benchlink.transports"""
