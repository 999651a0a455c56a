"""benchlink.drivers"""
