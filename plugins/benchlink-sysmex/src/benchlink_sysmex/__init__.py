"""Benchlink plugin for Sysmex analyzers (first party)."""

__version__ = "0.1.0"
