"""benchlink.storage"""
