"""Turn the errors an operator can fix into one clear line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from benchlink.core.auth import AuthError
from benchlink.storage.database import WrongKeyError
from benchlink.storage.keys import KeyUnavailableError

T = TypeVar("T")


def friendly(call: Callable[[], T]) -> T | int:
    try:
        return call()
    except KeyUnavailableError as exc:
        print(f"benchlink: no database key: {exc}", file=sys.stderr)
        return 3
    except WrongKeyError as exc:
        print(f"benchlink: {exc}", file=sys.stderr)
        return 3
    except AuthError as exc:
        print(f"benchlink: {exc}", file=sys.stderr)
        return 4
    except (EOFError, KeyboardInterrupt):
        print("\nbenchlink: cancelled; nothing was changed", file=sys.stderr)
        return 4
