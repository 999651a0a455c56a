"""The real app in a real X server: starts, shows live demo results, screenshots, exits cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parents[2]
DOCS_SHOT = REPO / "docs" / "screenshots" / "main-window.png"
QUIT_AFTER = 6


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not on PATH; install it with: apt-get install -y xvfb xauth libxcb-cursor0")
    read_fd, write_fd = os.pipe()
    log = (tmp_path / "xvfb.log").open("wb")
    # -displayfd lets Xvfb pick a free display and tell us which, so parallel runs never clash.
    # -terminate ends the server when the app disconnects, so even a crashed pytest leaves none behind.
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-terminate", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=log, stderr=subprocess.STDOUT,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            proc.wait(timeout=10)
            output = (tmp_path / "xvfb.log").read_text(errors="replace")
            pytest.fail(f"Xvfb exited ({proc.returncode}) without a display: {output}")
        yield f":{number}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _command(home: Path, out: Path) -> list[str]:
    try:
        import benchlink.cli.main  # noqa: F401
    except ImportError:
        code = (
            "import sys; from pathlib import Path;"
            "from benchlink.runtime.settings import load_settings;"
            "from benchlink.gui.app import run_gui;"
            f"sys.exit(run_gui(load_settings(home=Path({str(home)!r}), demo=True),"
            f" screenshot=Path({str(out)!r}), quit_after={QUIT_AFTER}))"
        )
        return [sys.executable, "-c", code]
    # Options after the subcommand: argparse lets a subparser's defaults overwrite options given
    # before it, which would send the run to the user's real home.
    return [sys.executable, "-m", "benchlink", "gui", "--home", str(home), "--demo",
            "--screenshot", str(out), "--quit-after", str(QUIT_AFTER)]


def demo_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    # The demo analyzer on an ephemeral port, so a running Benchlink on 15999 cannot interfere.
    (home / "config.toml").write_text(
        '[[device]]\nname = "demo-analyzer"\ndriver = "astm"\n'
        '[device.transport]\nkind = "tcp-server"\nhost = "127.0.0.1"\nport = 0\n',
        encoding="utf-8",
    )
    return home


def x_env(x_display: str, tmp_path: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"QT_QPA_PLATFORM", "WAYLAND_DISPLAY"}}
    env.update(DISPLAY=x_display, BENCHLINK_HOME=str(home), BENCHLINK_NO_KEYRING="1",
               BENCHLINK_KEY_FILE=str(tmp_path / "benchlink.key"),
               # A bus that is not there: libdbus then fails at once instead of autolaunching a session
               # bus for the bare X server, whose accessibility and portal calls wait 25 s each for
               # services no test machine runs.
               DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path / 'no-session-bus'}",
               # A hung app is sent SIGABRT (run_app); faulthandler then prints every thread's stack.
               PYTHONFAULTHANDLER="1")
    return env


def run_app(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the app; if it outlives `timeout`, fail with each thread's stack rather than a bare timeout."""
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(f"the app was still running after {timeout:.0f} s; its threads when stopped:\n{err}\n"
                    f"stdout:\n{out}")
    # A stop that took over 20 s but ended: the app left its threads' stacks (runtime.stall_report).
    for report in (Path(env["BENCHLINK_HOME"]) / "logs").glob("stall-*.txt"):
        warnings.warn(f"the app's stop stalled:\n{report.read_text(encoding='utf-8')}", stacklevel=2)
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def assert_not_blank(path: Path) -> QImage:
    image = QImage(str(path))
    assert not image.isNull(), path
    greys = [image.pixelColor(x, y).lightness()
             for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)]
    assert statistics.pvariance(greys) > 50, f"{path.name} is (nearly) blank"
    assert len(set(greys)) > 10, path.name
    return image


def test_main_window_screenshot(x_display: str, tmp_path: Path, qapp: object) -> None:
    home = demo_home(tmp_path)
    out = tmp_path / "main-window.png"
    env = x_env(x_display, tmp_path, home)
    proc = run_app(_command(home, out), env, tmp_path, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert out.exists(), proc.stderr

    image = QImage(str(out))
    assert not image.isNull()
    assert (image.width(), image.height()) == (1280, 800)
    greys = [
        image.pixelColor(x, y).lightness()
        for x in range(0, image.width(), 7)
        for y in range(0, image.height(), 7)
    ]
    assert statistics.pvariance(greys) > 50, "screenshot is (nearly) blank"
    assert len(set(greys)) > 20

    # It ran in the given home (database and window state side by side) and shut down cleanly.
    assert (home / "benchlink.db").exists()
    assert (home / "gui.ini").exists()
    status = json.loads((home / "status.json").read_text(encoding="utf-8"))
    assert status["running"] is False  # the engine was stopped, not abandoned, when the window closed
    if os.environ.get("BENCHLINK_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, DOCS_SHOT)


def test_every_main_panel_screenshot(x_display: str, tmp_path: Path, qapp: object) -> None:
    """Each panel with live demo data in a real X window; copied into docs/ for the operator guide."""
    home = demo_home(tmp_path)
    out = tmp_path / "shots"
    script = Path(__file__).with_name("panel_shots.py")
    proc = run_app([sys.executable, str(script), str(out), str(home)], x_env(x_display, tmp_path, home), tmp_path,
                   timeout=150)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    names = sorted(p.name for p in out.glob("*.png"))
    expected = sorted(["main-window.png", "main-window-dark.png", "dialog-device.png", "dialog-export.png",
                       *(f"panel-{n}.png" for n in ("results", "devices", "mapping", "orders", "quarantine", "log",
                                                     "trace", "audit", "plugins"))])
    assert names == expected
    for path in out.glob("*.png"):
        assert_not_blank(path)
    light = QImage(str(out / "main-window.png"))
    dark = QImage(str(out / "main-window-dark.png"))
    assert (light.width(), light.height()) == (1280, 800)
    # The dark theme really is dark: the window background at the status bar is darker.
    assert dark.pixelColor(640, 790).lightness() < light.pixelColor(640, 790).lightness() - 80
    if os.environ.get("BENCHLINK_UPDATE_SCREENSHOTS") == "1":
        for path in out.glob("*.png"):
            shutil.copyfile(path, DOCS_SHOT.parent / path.name)
