"""Dockable panels; each renders one model and sends commands, nothing more."""
