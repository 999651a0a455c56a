from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from benchlink.core.logbuffer import LogEntry, LogRing
from benchlink.gui.models.log_model import LogFeed, LogModel
from benchlink.gui.panels.log import LogPanel


def entry(n: int, level: str = "info", event: str = "message stored", device: str = "cobas") -> LogEntry:
    return LogEntry(timestamp=f"2024-01-01T00:00:{n:02d}", level=level, event=event, device=device,
                    fields={"n": n})


def test_model_is_bounded_and_drops_oldest(qapp: object) -> None:
    model = LogModel(capacity=5)
    model.append_entries([entry(i) for i in range(3)])
    model.append_entries([entry(i) for i in range(3, 9)])
    assert model.rowCount() == 5
    assert [model.entry_at(r).fields["n"] for r in range(5)] == [4, 5, 6, 7, 8]  # type: ignore[union-attr]
    assert model.data(model.index(0, 4)) == "n=4"


def test_feed_marshals_entries_from_other_threads(qtbot: object) -> None:
    ring = LogRing(capacity=100)
    ring.append(entry(0, event="before window"))
    model = LogModel(capacity=50)
    feed = LogFeed(ring, model)
    assert model.rowCount() == 1  # the backlog is shown at once

    def writer() -> None:
        for i in range(1, 200):
            ring.append(entry(i % 60))

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    qtbot.waitUntil(lambda: model.rowCount() == 50, timeout=3000)  # type: ignore[attr-defined]
    feed.close()
    ring.append(entry(1, event="after close"))
    qtbot.wait(50)  # type: ignore[attr-defined]
    assert all(model.entry_at(r).event != "after close" for r in range(model.rowCount()))  # type: ignore[union-attr]


def test_panel_filters_by_level_and_text(qtbot: object) -> None:
    model = LogModel()
    panel = LogPanel(model)
    qtbot.addWidget(panel)  # type: ignore[attr-defined]
    model.append_entries([
        entry(1, "debug", "frame received"),
        entry(2, "info", "message stored", device="cobas"),
        entry(3, "warning", "checksum mismatch", device="xn"),
        entry(4, "error", "link timeout", device="xn"),
    ])
    # The panel starts at "info": debug chatter hidden.
    assert panel.proxy.rowCount() == 3
    panel.level.setCurrentIndex(panel.level.findText("Warning"))
    assert panel.proxy.rowCount() == 2
    panel.level.setCurrentIndex(panel.level.findText("Debug"))
    assert panel.proxy.rowCount() == 4
    qtbot.keyClicks(panel.text, "XN")  # type: ignore[attr-defined]
    events = {panel.proxy.index(r, 3).data() for r in range(panel.proxy.rowCount())}
    assert events == {"checksum mismatch", "link timeout"}
    brush = panel.proxy.index(1, 1).data(Qt.ItemDataRole.ForegroundRole)
    assert brush is not None and brush.color().name() == "#d0342c"


def test_timestamps_are_shortened_for_reading_but_kept_in_full_as_tooltip(qapp: object) -> None:
    model = LogModel()
    model.append_entries([LogEntry("2026-11-22T03:19:16.438434+01:00", "info", "connected")])
    assert model.index(0, 0).data() == "2026-11-22 03:19:16.438+01:00"
    assert model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == "2026-11-22T03:19:16.438434+01:00"
