"""Which asyncio event loop runs the engine: uvloop where it exists, the standard loop otherwise.

Why it matters: with 200 analyzers the event loop thread does a socket read and a link step for
the ENQ, every frame and the EOT of every message, and writes an ACK for the ENQ and each frame.
The standard selector loop pays Python for each of those; uvloop (libuv) does the polling, socket
calls and buffering in C. uvloop does not exist on Windows, where the lab PCs run the GUI; there
the standard loop is used and nothing else changes, because the engine only ever talks to the
``asyncio`` API.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

# ``auto`` = uvloop when it can be imported, else the standard loop.
from benchlink.runtime.settings import EVENT_LOOPS, ConfigError

T = TypeVar("T")


class EventLoopUnavailable(ConfigError):
    """``event_loop = "uvloop"`` was asked for on a machine without uvloop."""


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        module = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
    return factory


def _standard_loop() -> asyncio.AbstractEventLoop:
    # Not asyncio.new_event_loop(): under qasync the installed policy would hand back a Qt loop.
    return asyncio.DefaultEventLoopPolicy().new_event_loop()


def loop_factory(choice: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The name of the loop that ``choice`` resolves to on this machine, and how to make one."""
    if choice not in EVENT_LOOPS:
        raise ValueError(f"event_loop {choice!r}: use one of {', '.join(EVENT_LOOPS)}")
    if choice != "asyncio":
        uvloop = _uvloop_factory()
        if uvloop is not None:
            return "uvloop", uvloop
        if choice == "uvloop":
            raise EventLoopUnavailable(
                "event_loop = \"uvloop\" but uvloop is not installed (it does not exist on Windows); "
                "install it with `pip install uvloop` or set event_loop = \"auto\"")
    return "asyncio", _standard_loop


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """``asyncio.run`` on the chosen loop (Python 3.11's ``asyncio.run`` takes no loop factory)."""
    _, factory = loop_factory(choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def running_loop_name() -> str:
    """``uvloop`` or ``asyncio``, for the status file and diagnostics."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
