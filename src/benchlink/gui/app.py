"""Start the desktop app: Qt and asyncio on one thread (qasync), one engine, one window.

The engine's device tasks, the GUI's store reads and Qt's painting all share the loop, so
nothing in the window may block; stopping is ordered (window closed -> engine stopped ->
store closed) so the last acknowledged message is committed before the process exits.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import qasync
import structlog
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from benchlink.gui.main_window import MainWindow

if TYPE_CHECKING:
    from benchlink.runtime.engine import Engine
    from benchlink.runtime.settings import Settings

_log = structlog.get_logger("benchlink.gui")

APP_NAME = "Benchlink"


def make_application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        app = QApplication([sys.argv[0] if sys.argv else "benchlink"])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    # The window's `closed` signal ends the run, after the engine has stopped; Qt quitting on
    # its own would stop the loop under a still-running engine.
    app.setQuitOnLastWindowClosed(False)
    return app


def window_settings(home: Path) -> QSettings:
    """Layout lives beside the database, so `--home` gives a fully separate workstation."""
    home.mkdir(parents=True, exist_ok=True)
    return QSettings(str(home / "gui.ini"), QSettings.Format.IniFormat)


async def _run_window(
    engine: Engine, home: Path, screenshot: Path | None, quit_after: float | None
) -> int:
    window = MainWindow(engine, settings=window_settings(home))
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    window.show()
    exit_code = 0

    previous_sigint = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    # Qt holds the thread in C++; a periodic no-op lets Python notice Ctrl+C.
    wakeup = QTimer()
    wakeup.start(250)
    wakeup.timeout.connect(lambda: None)

    try:
        await engine.start()
    except Exception as exc:  # noqa: BLE001 - the window still shows what it can
        _log.error("engine_start_failed", error_type=type(exc).__name__)
        window.statusBar().showMessage(f"The engine did not start: {exc}")
    window.devices_model.set_snapshots(engine.snapshots())

    quitter: asyncio.Task[None] | None = None
    if quit_after is not None:
        async def grab_and_quit() -> None:
            nonlocal exit_code
            await asyncio.sleep(quit_after)
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                if not window.grab().save(str(screenshot)):
                    _log.error("screenshot_failed", path=str(screenshot))
                    exit_code = 1
            window.close()

        quitter = asyncio.get_running_loop().create_task(grab_and_quit())
    try:
        await closed.wait()
    finally:
        wakeup.stop()
        signal.signal(signal.SIGINT, previous_sigint)
        if quitter is not None and not quitter.done():
            quitter.cancel()
        await window.wait_for_commands()
        await engine.stop()
    return exit_code


def run_gui(settings: Settings, screenshot: Path | None = None, quit_after: float | None = None) -> int:
    """Run the desktop app until its window closes; returns the process exit code.

    With `quit_after`, the window closes itself after that many seconds, first saving a
    screenshot to `screenshot` if given (docs and the X-server test use this).
    """
    from benchlink.runtime.bootstrap import build_engine, open_store
    from benchlink.runtime.logging_setup import configure_logging

    configure_logging(settings.log_dir, level=settings.log_level)
    make_application()
    store = open_store(settings)
    try:
        engine = build_engine(settings, store)
        return int(qasync.run(_run_window(engine, settings.home, screenshot, quit_after)))
    finally:
        store.engine.dispose()  # close pooled connections before the process exits
