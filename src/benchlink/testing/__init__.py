"""benchlink.testing"""
