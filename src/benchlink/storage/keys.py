"""Where the 256-bit database key comes from.

Guarantee 4 says the database is unreadable without its key and that nothing ever falls back to
plaintext. So this module either returns 32 bytes or raises :class:`KeyUnavailableError`; there is
no third outcome. A key file wins over the keyring because services (no login session, hence no
keyring) are configured explicitly by IT, and an explicit choice must not be second-guessed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32
_HEX_LEN = KEY_BYTES * 2


class KeyUnavailableError(RuntimeError):
    """No key could be found or created; the message says how to provide one."""


def load_or_create_key(
    *,
    key_file: Path | None,
    use_keyring: bool = True,
    keyring_service: str = "benchlink",
    keyring_user: str = "database-key",
) -> bytes:
    """Return the database key, creating a random one on first run.

    Order: explicit ``key_file`` (created with mode 0600 when missing), then the OS keyring,
    then :class:`KeyUnavailableError`.
    """
    if key_file is not None:
        return _key_from_file(Path(key_file))
    if use_keyring:
        key = _key_from_keyring(keyring_service, keyring_user)
        if key is not None:
            return key
        raise KeyUnavailableError(
            "no database key: the OS keyring is unavailable (no keyring backend is installed or "
            "running). Set BENCHLINK_KEY_FILE=/path/to/benchlink.key to keep the key in a file "
            "readable only by the service account, or install/unlock a keyring backend "
            "(Windows Credential Manager, macOS Keychain, Secret Service/KWallet on Linux)."
        )
    raise KeyUnavailableError(
        "no database key: the keyring is disabled and no key file was given. "
        "Set BENCHLINK_KEY_FILE=/path/to/benchlink.key (it is created on first run with mode 0600)."
    )


def _parse_hex_key(text: str, origin: str) -> bytes:
    text = text.strip()
    if len(text) != _HEX_LEN:
        raise KeyUnavailableError(
            f"{origin} does not hold a database key ({_HEX_LEN} hex digits expected, found "
            f"{len(text)} characters). Restore the original key; a new key cannot open the existing "
            "database."
        )
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise KeyUnavailableError(
            f"{origin} does not hold a database key (non-hex characters). Restore the original key; "
            "a new key cannot open the existing database."
        ) from None


def _key_from_file(path: Path) -> bytes:
    if path.exists():
        if os.name == "posix" and path.stat().st_mode & 0o077:
            raise KeyUnavailableError(
                f"key file {path} is readable or writable by other users; run `chmod 600 {path}` "
                "(and check who could have copied it)."
            )
        return _parse_hex_key(path.read_text(encoding="ascii", errors="replace"), f"key file {path}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        # Another process created it between our check and open: use theirs, never overwrite.
        return _key_from_file(path)
    except OSError as exc:
        raise KeyUnavailableError(
            f"cannot create key file {path}: {exc.strerror}. Point BENCHLINK_KEY_FILE at a writable "
            "location owned by the service account."
        ) from exc
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def _key_from_keyring(service: str, user: str) -> bytes | None:
    """Return the key from the keyring, creating it there; ``None`` when no usable keyring exists."""
    try:
        import keyring
        import keyring.backends.fail
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a hard dependency
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return None
    try:
        stored = keyring.get_password(service, user)
        if stored is not None:
            return _parse_hex_key(stored, f"keyring entry {service}/{user}")
        key = secrets.token_bytes(KEY_BYTES)
        keyring.set_password(service, user, key.hex())
        # Read back: some backends accept a write and silently drop it (e.g. a chainer with no
        # real backend). A key we cannot read again would lock the database forever.
        if keyring.get_password(service, user) != key.hex():
            return None
        return key
    except KeyringError:
        return None
    except Exception:  # noqa: BLE001 - third-party backends raise anything (DBus, COM errors)
        return None


def write_key_file(path: Path, key: bytes) -> None:
    """Replace the key file atomically (temp file 0600 + fsync + rename): a crash leaves the old
    key or the new one in place, never a torn file."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"database key must be {KEY_BYTES} bytes, got {len(key)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if os.name == "posix":
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def store_key(
    key: bytes,
    *,
    key_file: Path | None,
    use_keyring: bool = True,
    keyring_service: str = "benchlink",
    keyring_user: str = "database-key",
) -> str:
    """Save a (rotated) key where :func:`load_or_create_key` will look for it; returns where.

    Same precedence as loading: the key file when one is configured, else the keyring. The
    keyring write is read back, because some backends accept a write and drop it.
    """
    if key_file is not None:
        write_key_file(Path(key_file), key)
        return f"key file {key_file}"
    if not use_keyring:
        raise KeyUnavailableError("no key file is configured and the keyring is disabled: nowhere to store the key")
    import keyring

    keyring.set_password(keyring_service, keyring_user, key.hex())
    if keyring.get_password(keyring_service, keyring_user) != key.hex():
        raise KeyUnavailableError(
            f"the keyring did not keep the new key ({keyring_service}/{keyring_user}); check the keyring "
            "backend, or configure BENCHLINK_KEY_FILE instead"
        )
    return f"keyring entry {keyring_service}/{keyring_user}"
