from __future__ import annotations

import stat
from pathlib import Path

import pytest

from benchlink.storage.keys import KeyUnavailableError, load_or_create_key


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "benchlink.key"
    first = load_or_create_key(key_file=path, use_keyring=False)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.hex()
    assert load_or_create_key(key_file=path, use_keyring=False) == first


def test_two_new_key_files_differ(tmp_path: Path) -> None:
    a = load_or_create_key(key_file=tmp_path / "a.key", use_keyring=False)
    b = load_or_create_key(key_file=tmp_path / "b.key", use_keyring=False)
    assert a != b


def test_key_file_wins_over_keyring(tmp_path: Path, fake_keyring: object) -> None:
    key = load_or_create_key(key_file=tmp_path / "k", use_keyring=True)
    assert (tmp_path / "k").exists()
    assert fake_keyring.entries == {}  # type: ignore[attr-defined]
    assert len(key) == 32


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    load_or_create_key(key_file=path, use_keyring=False)
    path.chmod(0o644)
    with pytest.raises(KeyUnavailableError, match="chmod 600"):
        load_or_create_key(key_file=path, use_keyring=False)


def test_corrupt_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("not a key\n")
    path.chmod(0o600)
    with pytest.raises(KeyUnavailableError, match="does not hold a database key"):
        load_or_create_key(key_file=path, use_keyring=False)
    assert path.read_text() == "not a key\n"


def test_keyring_creates_then_returns_same_key(fake_keyring: object) -> None:
    key = load_or_create_key(key_file=None, keyring_service="svc", keyring_user="u")
    assert fake_keyring.entries[("svc", "u")] == key.hex()  # type: ignore[attr-defined]
    assert load_or_create_key(key_file=None, keyring_service="svc", keyring_user="u") == key


def test_no_keyring_and_no_key_file_raises_with_instructions(no_keyring: None) -> None:
    with pytest.raises(KeyUnavailableError) as err:
        load_or_create_key(key_file=None)
    assert "BENCHLINK_KEY_FILE" in str(err.value)
    assert "keyring" in str(err.value)


def test_keyring_disabled_and_no_file_raises(fake_keyring: object) -> None:
    with pytest.raises(KeyUnavailableError, match="BENCHLINK_KEY_FILE"):
        load_or_create_key(key_file=None, use_keyring=False)
    assert fake_keyring.entries == {}  # type: ignore[attr-defined]
