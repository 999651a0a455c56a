"""Turn the errors an operator can fix into one clear line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from benchlink.core.auth import AuthError
from benchlink.storage.database import WrongKeyError
from benchlink.storage.keys import KeyUnavailableError

T = TypeVar("T")

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_KEY = 3
EXIT_AUTH = 4
EXIT_INTERRUPTED = 130

#: Every exit status the ``benchlink`` command uses, with its meaning. Scripts and service managers
#: branch on these, so docs/cli.md renders this table, and a test fails when a command returns a
#: status that is not listed here.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_PROBLEM, "the command ran but found a problem: a failed `doctor` check, a broken audit chain, a "
                   "capture or replayed message that does not decode or has a frame with a bad checksum, a "
                   "plugin that failed to load, a `status` with no running `serve` or with a device not "
                   "started, unacknowledged simulated messages, a `db` action that was refused"),
    (EXIT_USAGE, "usage or configuration error: an unknown option or argument, a configuration file that is "
                 "missing (when named by `--config`/`BENCHLINK_CONFIG`) or has a mistake, a bad value, an "
                 "export destination that cannot be written, another engine already running on the home"),
    (EXIT_KEY, "the database key is missing, unreadable or wrong (nothing was created or changed)"),
    (EXIT_AUTH, "login refused or cancelled: no, wrong or expired credentials, a locked or disabled account, "
                "a role without the right, or a password prompt left with Ctrl+C/Ctrl+D"),
    (EXIT_INTERRUPTED, "interrupted with Ctrl+C during an export; no file written, nothing marked as exported"),
)


def friendly(call: Callable[[], T]) -> T | int:
    try:
        return call()
    except KeyUnavailableError as exc:
        print(f"benchlink: no database key: {exc}", file=sys.stderr)
        return EXIT_KEY
    except WrongKeyError as exc:
        print(f"benchlink: {exc}", file=sys.stderr)
        return EXIT_KEY
    except AuthError as exc:
        print(f"benchlink: {exc}", file=sys.stderr)
        return EXIT_AUTH
    except (EOFError, KeyboardInterrupt):
        print("\nbenchlink: cancelled; nothing was changed", file=sys.stderr)
        return EXIT_AUTH
