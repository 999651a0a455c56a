"""benchlink.cli"""
