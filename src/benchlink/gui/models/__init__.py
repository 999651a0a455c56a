"""Qt item models: the only place widgets get their rows from."""
