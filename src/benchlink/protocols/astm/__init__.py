"""benchlink.protocols.astm"""
