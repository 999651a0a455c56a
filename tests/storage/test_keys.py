from __future__ import annotations

import stat
from pathlib import Path

import pytest
from tests.storage.conftest import KEY, DictKeyring

from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.settings import Settings
from benchlink.storage.database import open_engine
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


def _existing_database(path: Path) -> Path:
    """A real SQLCipher file encrypted with a key the code under test does not know."""
    open_engine(None, path=path, key=KEY).dispose()
    assert path.exists()
    return path


def test_missing_key_file_beside_an_existing_database_is_refused_not_created(tmp_path: Path) -> None:
    database = _existing_database(tmp_path / "benchlink.db")
    key_file = tmp_path / "keys" / "missing.key"
    with pytest.raises(KeyUnavailableError) as err:
        load_or_create_key(key_file=key_file, use_keyring=False, database=database)
    assert f"key file {key_file} is missing but the database {database} exists" in str(err.value)
    assert "Restore" in str(err.value)
    assert not key_file.parent.exists()


def test_missing_keyring_entry_beside_an_existing_database_is_refused(tmp_path: Path,
                                                                       fake_keyring: DictKeyring) -> None:
    database = _existing_database(tmp_path / "benchlink.db")
    with pytest.raises(KeyUnavailableError, match="keyring has no entry svc/u but the database"):
        load_or_create_key(key_file=None, keyring_service="svc", keyring_user="u", database=database)
    assert fake_keyring.entries == {}


def test_a_new_database_still_gets_a_new_key(tmp_path: Path, fake_keyring: DictKeyring) -> None:
    database = tmp_path / "not-yet.db"
    assert len(load_or_create_key(key_file=tmp_path / "k", use_keyring=False, database=database)) == 32
    assert len(load_or_create_key(key_file=None, keyring_service="svc", keyring_user="u", database=database)) == 32


def test_key_path_that_is_a_directory_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailableError, match="is a directory, not a key file; point BENCHLINK_KEY_FILE"):
        load_or_create_key(key_file=tmp_path, use_keyring=False)


def test_corrupt_keyring_entry_is_reported_as_such(fake_keyring: DictKeyring) -> None:
    fake_keyring.entries[("svc", "u")] = "not a key"
    with pytest.raises(KeyUnavailableError, match="keyring entry svc/u does not hold a database key"):
        load_or_create_key(key_file=None, keyring_service="svc", keyring_user="u")
    assert fake_keyring.entries[("svc", "u")] == "not a key"


def test_open_store_never_makes_a_new_keyring_key_for_an_existing_database(tmp_path: Path,
                                                                            fake_keyring: DictKeyring) -> None:
    settings = Settings(home=tmp_path, config_file=tmp_path / "config.toml", use_keyring=True, writer="thread")
    open_store(settings).engine.dispose()
    assert settings.database_path.exists() and len(fake_keyring.entries) == 1
    fake_keyring.entries.clear()  # the keyring was reset (new Windows profile, wiped Secret Service)
    with pytest.raises(KeyUnavailableError, match="no new key was created"):
        open_store(settings)
    assert fake_keyring.entries == {}
