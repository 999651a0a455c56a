"""benchlink.gui"""
