"""Benchlink plugin for Mindray analyzers (first party)."""

__version__ = "0.1.0"
