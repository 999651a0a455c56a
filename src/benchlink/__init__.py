"""Benchlink: connects laboratory analyzers to a lab's information system."""

__version__ = "0.1.0"
