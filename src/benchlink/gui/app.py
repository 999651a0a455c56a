"""Start the desktop app: Qt and the GUI's asyncio on one thread (qasync), the engine on its own
thread and loop (gui.engine_host), one window.

Ingest never queues behind painting, and the window never waits on the engine: every command is
sent to the engine loop and awaited. Stopping is ordered (window closed -> window's engine calls
done -> engine stopped on its loop -> engine thread ended -> store closed), so the last
acknowledged message is committed before the process exits.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import qasync
import structlog
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from benchlink.gui.engine_host import EngineHost
from benchlink.gui.main_window import MainWindow
from benchlink.gui.queries import QueryRunner
from benchlink.runtime import stall_report

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
        # 125 % and 150 % Windows scaling: exact factors, not rounded to 100 % / 200 %.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication([sys.argv[0] if sys.argv else "benchlink"])
    # Reader threads step SQLite rows with the GIL released and take it back per row; with the UI
    # thread busy, each take-back waits for the switch interval (5 ms by default), so a 100-row
    # page could queue for the GIL a hundred times. 1 ms keeps a page read in the milliseconds.
    sys.setswitchinterval(0.001)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    # The window's `closed` signal ends the run, after the engine has stopped; Qt quitting on
    # its own would stop the loop under a still-running engine.
    app.setQuitOnLastWindowClosed(False)
    return app


def freeze_startup_heap() -> None:
    """Move every object alive after start-up out of the garbage collector's view.

    A full (generation 2) collection walks every tracked object and holds the GIL throughout;
    with Qt, the engine and the plugins loaded that is ~50 ms, which froze the window at random
    during ingest (measured: the largest stall equalled the one gen-2 pass). Start-up objects
    live as long as the process anyway, so they are frozen once; later passes see only new ones.
    """
    gc.collect()
    gc.freeze()


def window_settings(home: Path) -> QSettings:
    """Layout lives beside the database, so `--home` gives a fully separate workstation."""
    home.mkdir(parents=True, exist_ok=True)
    return QSettings(str(home / "gui.ini"), QSettings.Format.IniFormat)


def _auth_service(engine: Engine) -> object | None:
    """The sign-in service, or None when this build has none (the window then runs unrestricted)."""
    try:
        from benchlink.runtime.auth_service import AuthService, policy_from_settings
    except ImportError:
        return None
    try:
        policy = policy_from_settings(engine.settings)
    except ValueError as exc:  # ConfigError: a broken [security] table must not lock everyone out
        _log.error("security_settings_ignored", error=str(exc))
        return AuthService(engine.store)
    return AuthService(engine.store, policy=policy)


async def sign_in(auth: object, runner: QueryRunner, *, unattended: bool) -> tuple[bool, object | None]:
    """(go on?, session). First start offers to create the administrator; later starts log in."""
    from benchlink.gui.auth_dialogs import CreateAdminDialog, LoginDialog, run_dialog

    loop = asyncio.get_running_loop()
    has_users = await loop.run_in_executor(None, auth.has_users)  # type: ignore[attr-defined]
    if not has_users:
        if unattended:
            return True, None
        dialog: CreateAdminDialog | LoginDialog = CreateAdminDialog(auth, runner)
        code = await run_dialog(dialog)
        return True, dialog.value if code else None
    dialog = LoginDialog(auth, runner)
    code = await run_dialog(dialog)
    return bool(code), dialog.value if code else None


def install_idle_lock(window: MainWindow, session: object, runner: QueryRunner) -> object:
    """Hide every panel after the idle time and ask for the password again."""
    from benchlink.gui.auth_dialogs import IdleWatch, UnlockDialog, run_dialog

    watch = IdleWatch(session, parent=window)
    app = QApplication.instance()
    if app is not None:
        app.installEventFilter(watch)

    async def unlock() -> None:
        window.hide_for_lock()
        await run_dialog(UnlockDialog(session, runner, parent=window))
        window.restore_after_lock()
        watch.paused = False

    def locked() -> None:
        asyncio.get_running_loop().create_task(unlock())

    def lock_now() -> None:
        if not watch.paused:
            session.lock()  # type: ignore[attr-defined]
            watch.paused = True
            locked()

    watch.locked.connect(locked)
    window.lock_requested.connect(lock_now)
    return watch


async def _run_window(
    host: EngineHost, home: Path, screenshot: Path | None, quit_after: float | None
) -> int:
    # Devices start, on the engine's own thread, before anyone signs in and while the window is
    # built: an analyzer must never wait for a person to log in, nor for Qt to paint.
    started = asyncio.wrap_future(host.start())
    engine = host.engine
    session: object | None = None
    auth = _auth_service(engine)
    auth_runner = QueryRunner()
    if auth is not None:
        go_on, session = await sign_in(auth, auth_runner, unattended=quit_after is not None)
        if not go_on:
            auth_runner.close()
            await _settle(started)
            await host.aclose()
            return 0
    window = MainWindow(host, settings=window_settings(home), session=session)
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

    engine_error = await _settle(started)
    if engine_error is not None:
        window.statusBar().showMessage(f"The engine did not start: {engine_error}")
    elif engine.not_started:
        names = ", ".join(engine.not_started)
        window.statusBar().showMessage(f"Not started: {names}; see the Devices table and fix the configuration")
    if session is not None:
        install_idle_lock(window, session, auth_runner)
    window.refresh_devices()
    freeze_startup_heap()

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
        # Disarmed in run_gui once the store is closed: the watch covers every step of the stop.
        stall_report.arm(engine.settings.log_dir, "gui-close")
        wakeup.stop()
        signal.signal(signal.SIGINT, previous_sigint)
        if quitter is not None and not quitter.done():
            quitter.cancel()
        await window.wait_for_commands()
        auth_runner.close()
        await host.aclose()  # engine stopped on its loop (last commits land), then its thread ends
    return exit_code


async def _settle(started: asyncio.Future[None]) -> Exception | None:
    """Wait for the engine start; a failure is returned (the window still shows what it can)."""
    try:
        await started
    except Exception as exc:  # noqa: BLE001 - reported in the status bar
        _log.error("engine_start_failed", error_type=type(exc).__name__)
        return exc
    return None


def show_start_refused(reason: str) -> None:
    """The window could not start: say why in a dialog, since a start from an icon has no console."""
    from PySide6.QtWidgets import QMessageBox

    make_application()
    QMessageBox.critical(None, APP_NAME, f"Benchlink cannot start.\n\n{reason[:1].upper()}{reason[1:]}")


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
        host = EngineHost(build_engine(settings, store))
        try:
            return int(qasync.run(_run_window(host, settings.home, screenshot, quit_after)))
        finally:
            host.stop()  # a no-op after a clean close; ends the thread if the Qt loop died early
    finally:
        store.engine.dispose()  # close pooled connections before the process exits
        stall_report.disarm_at_exit()
