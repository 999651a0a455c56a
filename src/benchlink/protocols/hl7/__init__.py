"""HL7 v2 over MLLP: framing, escaping, parsing, observations, acknowledgements (sans-I/O)."""
