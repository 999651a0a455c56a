"""Benchlink plugin for Roche analyzers (first party)."""

__version__ = "0.1.0"
