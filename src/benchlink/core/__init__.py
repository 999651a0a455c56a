"""Domain model, mapping and the in-memory buffers the GUI renders. No I/O, no Qt, no SQL."""
