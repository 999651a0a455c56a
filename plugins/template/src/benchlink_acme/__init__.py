"""Benchlink plugin for ACME analyzers (template: rename me)."""

__version__ = "0.1.0"
