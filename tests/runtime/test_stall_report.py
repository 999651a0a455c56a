"""A stop that hangs leaves each thread's stack in the log folder; a quick stop leaves nothing.

Each case runs in its own interpreter: faulthandler's timer is process-wide, and pytest's own
plugins may hold it.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from benchlink.runtime.diagnostics import write_bundle
from benchlink.runtime.settings import load_settings

SCRIPT = """
import sys, threading, time
from pathlib import Path
from benchlink.runtime import stall_report

log_dir, pause, at_exit = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "at-exit"

def writer_drain_that_never_ends() -> None:
    time.sleep(pause)

stall_report.arm(log_dir, "gui-close", after=0.3)
helper = threading.Thread(target=writer_drain_that_never_ends, name="helper")
helper.start()
if at_exit:  # the stop code returns at once; Python's join of the helper is what takes long
    stall_report.disarm_at_exit()
    print("returned")
else:
    writer_drain_that_never_ends()
    helper.join()
    print(stall_report.disarm())
"""


def _run(log_dir: Path, pause: float, at_exit: bool = False) -> list[str]:
    """The script's output lines (structlog, unconfigured here, prints to stdout); the last is disarm()'s."""
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(log_dir), str(pause), "at-exit" if at_exit else "-"],
                          capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


def test_a_stop_past_the_limit_leaves_every_threads_stack(tmp_path: Path) -> None:
    *logged, printed = _run(tmp_path / "logs", pause=1.5)
    reports = list((tmp_path / "logs").glob("stall-gui-close-*.txt"))
    assert [str(p) for p in reports] == [printed]
    assert "stop_stalled" in logged[0] and printed in logged[0]
    text = reports[0].read_text(encoding="utf-8")
    assert text.startswith("Benchlink: gui-close was still running 0.3 s after it began")
    # Both the main thread and the helper are in it, down to the function that was stuck.
    assert text.count("writer_drain_that_never_ends") == 2
    assert text.count("Thread 0x") == 2 and "Timeout (0:00:00.300000)!" in text


def test_the_watch_lasts_through_pythons_join_of_worker_threads(tmp_path: Path) -> None:
    returned, logged = _run(tmp_path / "logs", pause=1.5, at_exit=True)
    assert returned == "returned" and "stop_stalled" in logged  # disarmed at exit, after the join
    (report,) = (tmp_path / "logs").glob("stall-*.txt")
    text = report.read_text(encoding="utf-8")
    assert "writer_drain_that_never_ends" in text and "_shutdown" in text  # main thread in threading's join


def test_a_quick_exit_after_disarm_at_exit_leaves_no_report(tmp_path: Path) -> None:
    assert _run(tmp_path / "logs", pause=0.0, at_exit=True) == ["returned"]
    assert list((tmp_path / "logs").glob("stall-*.txt")) == []


def test_a_quick_stop_leaves_no_report(tmp_path: Path) -> None:
    assert _run(tmp_path / "logs", pause=0.0) == ["None"]
    assert list((tmp_path / "logs").glob("stall-*.txt")) == []


def test_the_support_bundle_carries_the_newest_reports(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    settings = load_settings(environ={"BENCHLINK_HOME": str(home), "BENCHLINK_KEY_FILE": str(tmp_path / "k")})
    _run(settings.log_dir, pause=1.5)
    (report,) = settings.log_dir.glob("stall-*.txt")
    bundle = tmp_path / "b.zip"
    write_bundle(settings, bundle, [])
    with zipfile.ZipFile(bundle) as zf:
        assert "writer_drain_that_never_ends" in zf.read(f"logs/{report.name}").decode("utf-8")
