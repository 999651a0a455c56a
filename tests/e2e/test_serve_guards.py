"""What serve refuses or reports at start: a second engine on one home, a device that cannot start."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.helpers import benchlink, free_port, port_open, start_serve, wait_for, write_tcp_config


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_a_second_engine_on_the_same_home_is_refused_and_the_first_keeps_its_analyzer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    write_tcp_config(home, port)
    first = start_serve(home)
    try:
        assert wait_for(lambda: port_open(port) or first.poll() is not None, 30), "serve never listened"
        second = benchlink(home, "serve", "--duration", "20", check=False, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"benchlink serve (pid {first.pid}) is already running on {home}" in second.stderr
        assert "--home" in second.stderr and "Traceback" not in second.stderr
        # The window is refused the same way, before it opens anything.
        window = benchlink(home, "gui", "--quit-after", "1", check=False, timeout=60)
        assert window.returncode == 2 and "already running" in window.stderr, window.stderr
        assert first.poll() is None and port_open(port)
    finally:
        _stop(first)
    # The lock goes with the process: the home is free again at once.
    again = benchlink(home, "serve", "--duration", "1", timeout=60)
    assert "stopped cleanly" in again.stderr


def test_a_device_that_cannot_start_is_said_on_the_console_and_in_status(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    write_tcp_config(home, port, name="chem-x", driver="astmm")
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[[device]]\nname = "chem-ok"\ndriver = "astm"\n[device.transport]\n'
                     f'kind = "tcp-server"\nhost = "127.0.0.1"\nport = {free_port()}\n')
    proc = start_serve(home)
    try:
        assert wait_for(lambda: (home / "status.json").exists() or proc.poll() is not None, 30)
        status = benchlink(home, "status", check=False)
        assert status.returncode == 1, status.stdout  # monitoring sees that an analyzer is not served
        line = next(ln for ln in status.stdout.splitlines() if ln.startswith("chem-x"))
        assert line.split()[1] == "error" and "not started: no driver named 'astmm'" in line
        assert "chem-ok" in status.stdout
        data = json.loads((home / "status.json").read_text(encoding="utf-8"))
        assert list(data["not_started"]) == ["chem-x"]
    finally:
        err = _stop(proc)
    assert "chem-x: error not started: no driver named 'astmm'; installed drivers:" in err
    assert f"fix the [[device]] entries that did not start in {home / 'config.toml'}" in err


def test_start_mistakes_get_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    negative = benchlink(home, "serve", "--duration", "-1", check=False)
    assert negative.returncode == 2 and "must be more than 0 seconds" in negative.stderr
    refused = benchlink(home, "simulate", "--connect", f"127.0.0.1:{free_port()}", "--count", "1", check=False)
    assert refused.returncode == 1 and "Connection refused; is `benchlink serve`" in refused.stderr
    profile = benchlink(home, "simulate", "--connect", "127.0.0.1:1", "--profile", "nosuch", check=False)
    listed = profile.stderr.split("available: ", 1)[1].strip().split(", ")
    assert profile.returncode == 2 and listed == sorted(set(listed)) and "generic-astm" in listed


def test_a_port_taken_by_another_program_is_named_with_the_remedy(tmp_path: Path) -> None:
    import socket

    home = tmp_path / "home"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        write_tcp_config(home, port)
        out = benchlink(home, "serve", "--duration", "1", timeout=60)
    assert (f"chem-1: error cannot listen on 127.0.0.1:{port}: another program already uses port {port}; "
            "stop it, or choose another port here and on the analyzer") in out.stderr
