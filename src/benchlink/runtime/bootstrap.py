"""Opening the store and building the engine, shared by the CLI, the GUI and the tests."""

from __future__ import annotations

from benchlink.runtime.engine import Engine
from benchlink.runtime.plugins import PluginManager
from benchlink.runtime.settings import Settings
from benchlink.storage.database import open_engine
from benchlink.storage.keys import load_or_create_key
from benchlink.storage.store import Store


def open_store(settings: Settings) -> Store:
    """Open (creating on first run) the encrypted database and bring its schema to head."""
    settings.home.mkdir(parents=True, exist_ok=True)
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        engine = open_engine(settings.database_url)
    else:
        key = load_or_create_key(key_file=settings.key_file, use_keyring=settings.use_keyring,
                                 database=settings.database_path)
        engine = open_engine(None, path=settings.database_path, key=key)
    store = Store(engine)
    store.migrate()
    return store


def build_engine(settings: Settings, store: Store, *, plugins: PluginManager | None = None) -> Engine:
    return Engine(settings, store, plugins=plugins)
