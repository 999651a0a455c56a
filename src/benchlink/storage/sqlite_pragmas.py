"""How every SQLCipher connection is set up, in one place: the engine's connect hook and the
database writer's child process (which opens its connection without SQLAlchemy) apply the same
list, so the two can never disagree about journal mode, durability or locking."""

from __future__ import annotations

#: Bytes of WAL left on disk after the log is rewound (160 MiB).
WAL_SIZE_LIMIT = 160 * 1024 * 1024


def key_pragma(key_hex: str) -> str:
    """The raw-key form (``x'…'``) skips SQLCipher's passphrase KDF; never log this string."""
    if len(key_hex) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key_hex):
        raise ValueError("the database key must be 32 bytes, given as 64 hex digits")
    return f"PRAGMA key=\"x'{key_hex}'\""


def connection_pragmas(cache_kib: int = 65536, wal_autocheckpoint: int = 1000) -> list[str]:
    return [
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=30000",
        # Every page read from disk costs a decryption; a 64 MiB cache keeps the hot index pages of
        # a million-row results table decrypted (the 2 MiB default thrashes).
        f"PRAGMA cache_size=-{int(cache_kib)}",
        "PRAGMA temp_store=MEMORY",
        f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}",
        # After a burst the WAL file keeps its largest size until it is rewound; this cuts it back
        # then (a little above the checkpointer's rewind point, so a busy writer never re-extends it).
        f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}",
    ]
