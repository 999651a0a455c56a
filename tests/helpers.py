"""Shared helpers for tests that run Benchlink as a user would: real processes, real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SENTINEL_NAME = "Zzyzxsentinel^Quentinsentinel"
SENTINEL_LAST = "Zzyzxsentinel"
ADMIN_PASSWORD = "correct-horse-battery-9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCHLINK_")}
    env.update(
        BENCHLINK_HOME=str(home),
        BENCHLINK_KEY_FILE=str(home / "db.key"),
        BENCHLINK_NO_KEYRING="1",
        PYTHONUNBUFFERED="1",
        QT_QPA_PLATFORM="offscreen",
        BENCHLINK_USER="admin",
        BENCHLINK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        BENCHLINK_PASSWORD=ADMIN_PASSWORD,
    )
    return env


def benchlink(home: Path, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchlink", *args], env=cli_env(home), capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"benchlink {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_serve(home: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchlink", "serve", *extra], env=cli_env(home),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def use_event_loop(home: Path, loop: str) -> None:
    """Run this home's ``serve`` on ``loop`` (``asyncio`` or ``uvloop``): Windows PCs get the standard
    loop, Linux services uvloop, and the end-to-end guarantees must hold on both."""
    if loop == "uvloop":
        import importlib.util

        import pytest

        if importlib.util.find_spec("uvloop") is None:
            pytest.skip("uvloop is not installed (it does not exist on Windows)")
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[serve]\nevent_loop = "{loop}"\n')


def write_tcp_config(home: Path, port: int, name: str = "chem-1", driver: str = "astm") -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"""
[[device]]
name = "{name}"
driver = "{driver}"
[device.transport]
kind = "tcp-server"
host = "127.0.0.1"
port = {port}
""",
        encoding="utf-8",
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def submit_from_threads(submit: Callable[[int, str], Any], *, producers: int = 4, each: int = 50) -> list[Any]:
    """Call ``submit(n, device)`` from ``producers`` threads released together (``each`` calls per
    thread, device ``dev<k>``); returns every return value. Used to prove group commit merges."""
    results: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(producers)

    def produce(k: int) -> None:
        start.wait()
        for i in range(each):
            value = submit(k * 1000 + i, f"dev{k}")
            with lock:
                results.append(value)

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
