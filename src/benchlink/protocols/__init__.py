"""benchlink.protocols"""
