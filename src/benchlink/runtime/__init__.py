"""benchlink.runtime"""
