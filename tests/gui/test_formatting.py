from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchlink.gui.formatting import display_value, level_rank, relative_time, summary_text


@pytest.mark.parametrize(
    ("then", "now", "text"),
    [(None, 100.0, "never"), (99.5, 100.0, "just now"), (70.0, 100.0, "30 s ago"),
     (0.0, 600.0, "10 min ago"), (0.0, 7300.0, "2 h ago"), (0.0, 3 * 86400.0, "3 d ago")],
)
def test_relative_time(then: float | None, now: float, text: str) -> None:
    assert relative_time(then, now) == text


def test_summary_text_pluralises_and_waits_for_the_count() -> None:
    assert summary_text(2, 1, 37) == "2 devices · 1 connected · 37 results today"
    assert summary_text(1, 0, 1) == "1 device · 0 connected · 1 result today"
    assert summary_text(0, 0, None) == "0 devices · 0 connected"


def test_display_value_shows_stored_utc_in_local_time() -> None:
    stamp = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert display_value(stamp) == stamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert display_value(None) == ""
    assert display_value(4.5) == "4.5"


def test_unknown_levels_rank_as_info_not_hidden() -> None:
    assert level_rank("custom") == level_rank("info")
    assert level_rank("ERROR") > level_rank("warning") > level_rank("debug")
