"""A window that cannot start says why in a dialog: from an icon, stderr is seen by nobody."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from benchlink.cli.main import main
from benchlink.runtime.instance_lock import InstanceLock


def _read_and_close_the_dialog(seen: list[str]) -> None:
    """Poll for the modal box the code under test opens, note its text, press OK."""
    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.accept()
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("BENCHLINK_HOME", str(home))
    monkeypatch.setenv("BENCHLINK_KEY_FILE", str(tmp_path / "db.key"))
    return home


def test_a_configuration_error_is_shown_in_a_dialog(qapp: Any, home: Path, capsys: Any) -> None:
    (home / "config.toml").write_text('[log]\nlevel = "loud"\n', encoding="utf-8")
    seen: list[str] = []
    _read_and_close_the_dialog(seen)
    assert main(["gui"]) == 2
    assert len(seen) == 1 and seen[0].startswith("Benchlink cannot start.")
    assert "[log].level = 'loud': use one of debug, info, warning, error" in seen[0]
    assert "configuration error" in capsys.readouterr().err  # and on stderr, for a console


def test_another_engine_on_the_home_is_shown_in_a_dialog(qapp: Any, home: Path) -> None:
    seen: list[str] = []
    with InstanceLock(home, "benchlink serve"):
        _read_and_close_the_dialog(seen)
        assert main(["gui"]) == 2
    assert len(seen) == 1 and "Benchlink serve (pid" in seen[0] and "is already running on" in seen[0]


def test_unattended_runs_never_wait_on_a_dialog(qapp: Any, home: Path) -> None:
    (home / "config.toml").write_text("[nonsense]\n", encoding="utf-8")
    shown: list[str] = []
    _read_and_close_the_dialog(shown)
    assert main(["gui", "--quit-after", "1"]) == 2
    QApplication.processEvents()
    assert shown == []
