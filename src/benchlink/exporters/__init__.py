"""benchlink.exporters"""
