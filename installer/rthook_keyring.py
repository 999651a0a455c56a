"""PyInstaller runtime hook: choose the keyring backend explicitly inside the bundle.

keyring finds its backends through entry points, and a frozen app carries no entry-point metadata
for them, so left alone it would settle on the "fail" backend and Benchlink would refuse to start
without a key file even on a desktop with a working credential store. The user's own choice
(``PYTHON_KEYRING_BACKEND``) still wins.
"""

from __future__ import annotations

import os
import sys


def _candidates() -> list[str]:
    if sys.platform == "win32":
        return ["keyring.backends.Windows.WinVaultKeyring"]
    if sys.platform == "darwin":
        return ["keyring.backends.macOS.Keyring"]
    return ["keyring.backends.SecretService.Keyring", "keyring.backends.kwallet.DBusKeyring"]


def _choose() -> None:
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return
    import importlib

    import keyring
    import keyring.backends.fail

    for dotted in _candidates():
        module_name, _, class_name = dotted.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            cls.priority  # noqa: B018 - raises when the backend is not usable on this machine
            keyring.set_keyring(cls())
            return
        except Exception:  # noqa: BLE001 - try the next backend
            continue
    keyring.set_keyring(keyring.backends.fail.Keyring())


_choose()
