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
    database: Path | None = None,
) -> bytes:
    """Return the database key, creating a random one only for a brand-new database.

    Order: explicit ``key_file`` (created with mode 0600 when missing), then the OS keyring,
    then :class:`KeyUnavailableError`. Pass the SQLCipher file as ``database``: when it already
    exists, a missing key means the key was lost or misconfigured, and a fresh key could never open
    that file. Creating one anyway would only hide the real problem behind a "wrong key" error
    and leave a decoy key file behind, so this refuses instead.
    """
    if key_file is not None:
        return _key_from_file(Path(key_file), database)
    if use_keyring:
        key = _key_from_keyring(keyring_service, keyring_user, database)
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


def _refuse_if_database_exists(database: Path | None, missing: str, remedy: str) -> None:
    """Stop before a new key is made for a database that was encrypted with another one."""
    if database is not None and Path(database).exists():
        raise KeyUnavailableError(
            f"{missing} but the database {database} exists. {remedy} (a new key cannot open the existing "
            "database); no new key was created."
        )


def _key_from_file(path: Path, database: Path | None) -> bytes:
    if path.is_dir():
        raise KeyUnavailableError(
            f"key file {path} is a directory, not a key file; point BENCHLINK_KEY_FILE (or [database] key_file) "
            "at the key file itself."
        )
    if path.exists():
        return _read_key_file(path)
    _refuse_if_database_exists(
        database, f"key file {path} is missing",
        f"Restore {path} from your backup of the key, or point BENCHLINK_KEY_FILE at the backed-up key file")
    return _create_key_file(path)


def _read_key_file(path: Path) -> bytes:
    if not path.is_file():
        raise KeyUnavailableError(
            f"key file {path} is not a regular file; point BENCHLINK_KEY_FILE (or [database] key_file) at the "
            "key file itself."
        )
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise KeyUnavailableError(
            f"key file {path} is readable or writable by other users; run `chmod 600 {path}` "
            "(and check who could have copied it)."
        )
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise KeyUnavailableError(
            f"cannot read key file {path}: {exc.strerror}. Run Benchlink as the account that owns the key file."
        ) from exc
    return _parse_hex_key(text, f"key file {path}")


def _create_key_file(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        if path.exists():
            # Another process created it between our check and open: use theirs, never overwrite.
            return _read_key_file(path)
        raise KeyUnavailableError(
            f"cannot create key file {path}: something already stands in the way (a broken link at that path, "
            "or a file where one of its folders should be). Point BENCHLINK_KEY_FILE at a writable location "
            "owned by the service account."
        ) from None
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


def _key_from_keyring(service: str, user: str, database: Path | None) -> bytes | None:
    """Return the key from the keyring, creating it there; ``None`` when no usable keyring exists."""
    try:
        import keyring
        import keyring.backends.fail
    except ImportError:  # pragma: no cover - keyring is a hard dependency
        return None
    if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
        return None
    try:
        stored = keyring.get_password(service, user)
    except Exception:  # noqa: BLE001 - third-party backends raise anything (DBus, COM errors)
        return None
    if stored is not None:
        return _parse_hex_key(stored, f"keyring entry {service}/{user}")
    _refuse_if_database_exists(
        database, f"the keyring has no entry {service}/{user}",
        "Restore the key into the keyring, or set BENCHLINK_KEY_FILE to the backed-up key file")
    return _new_keyring_key(service, user)


def _new_keyring_key(service: str, user: str) -> bytes | None:
    import keyring

    key = secrets.token_bytes(KEY_BYTES)
    try:
        keyring.set_password(service, user, key.hex())
        # Read back: some backends accept a write and silently drop it (e.g. a chainer with no
        # real backend). A key we cannot read again would lock the database forever.
        if keyring.get_password(service, user) != key.hex():
            return None
    except Exception:  # noqa: BLE001 - third-party backends raise anything (DBus, COM errors)
        return None
    return key


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
