from __future__ import annotations

import gc
import itertools
import time
import weakref
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QTableView

from benchlink.gui.models.results_model import COLUMN_KEYS, UNMAPPED_BRUSH, ResultsModel
from benchlink.gui.queries import QueryRunner
from benchlink.storage.store import ResultFilter, Store

from .conftest import seed_results


class CountingStore:
    """The real store, with a tally of the pages asked for (what 'virtual' is about)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pages: list[tuple[int | None, int]] = []

    def results_page(self, flt: ResultFilter, after: int | None = None, limit: int = 100) -> list[Any]:
        self.pages.append((after, limit))
        return self.store.results_page(flt, after=after, limit=limit)

    def count_results(self, flt: ResultFilter) -> int:
        return self.store.count_results(flt)


@pytest.fixture
def runner(loop: Any) -> Any:
    runner = QueryRunner()
    yield runner
    runner.close()


def settle(qtbot: Any, model: ResultsModel) -> None:
    qtbot.waitUntil(lambda: not model.is_loading, timeout=5000)


def ids(model: ResultsModel) -> list[int]:
    return [model.row_at(r).id for r in range(model.rowCount())]


def test_fetch_more_pulls_exactly_the_next_page(qtbot: Any, store: Store, runner: QueryRunner) -> None:
    seed_results(store, 250)
    source = CountingStore(store)
    model = ResultsModel(source, runner, page_size=100)
    model.set_filter(ResultFilter())
    settle(qtbot, model)
    assert model.rowCount() == 100
    first_page = ids(model)
    assert first_page == sorted(first_page, reverse=True)  # newest first
    assert first_page[0] == max(r.id for r in store.results_page(ResultFilter(), limit=1))
    assert model.canFetchMore()

    model.fetchMore()
    assert not model.canFetchMore()  # one page in flight at a time
    settle(qtbot, model)
    assert model.rowCount() == 200
    assert source.pages[-1] == (first_page[-1], 100)  # keyset: the last id shown
    model.fetchMore()
    settle(qtbot, model)
    assert model.rowCount() == 250 and model.exhausted and not model.canFetchMore()
    assert len(set(ids(model))) == 250
    assert model.total == 250


def test_view_only_loads_what_it_shows(qtbot: Any, store: Store, runner: QueryRunner) -> None:
    seed_results(store, 1000, per_message=10)
    source = CountingStore(store)
    model = ResultsModel(source, runner, page_size=50)
    view = QTableView()
    qtbot.addWidget(view)
    view.resize(600, 300)
    view.setModel(model)
    view.show()
    model.set_filter(ResultFilter())
    settle(qtbot, model)
    qtbot.wait(100)
    assert model.rowCount() == 50
    assert len(source.pages) == 1
    view.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() == 100, timeout=5000)
    settle(qtbot, model)
    assert model.rowCount() < 1000


def test_new_results_are_prepended_without_reloading(qtbot: Any, store: Store, runner: QueryRunner) -> None:
    seed_results(store, 30)
    source = CountingStore(store)
    model = ResultsModel(source, runner, page_size=10)
    model.set_filter(ResultFilter())
    settle(qtbot, model)
    before = ids(model)
    assert len(before) == 10

    seed_results(store, 25, start=100)  # more than one page of new rows
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    model.notify_new_results()
    model.notify_new_results()  # a burst coalesces into one refresh
    qtbot.waitUntil(lambda: model.rowCount() == 35, timeout=5000)
    settle(qtbot, model)
    assert inserted == [(0, 24)]
    after = ids(model)
    assert after[25:] == before
    assert after == sorted(after, reverse=True)
    assert model.row_at(0).sample_id == "S00124"  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: model.total == 55, timeout=5000)


def test_filter_is_applied_and_stale_answers_are_dropped(
    qtbot: Any, store: Store, runner: QueryRunner
) -> None:
    seed_results(store, 40, per_message=4)
    model = ResultsModel(store, runner, page_size=100)
    model.set_filter(ResultFilter())  # its answer arrives after the next filter: must be ignored
    model.set_filter(ResultFilter(sample_id="S00003"))
    settle(qtbot, model)
    qtbot.wait(50)
    assert model.rowCount() == 4
    assert {model.row_at(r).sample_id for r in range(4)} == {"S00003"}  # type: ignore[union-attr]
    model.set_filter(ResultFilter(test="T2", flag="H"))
    settle(qtbot, model)
    assert model.rowCount() == 2  # samples 0 and 5 are flagged H
    assert {model.row_at(r).instrument_code for r in range(2)} == {"T2"}  # type: ignore[union-attr]


def test_unmapped_rows_are_highlighted_with_a_reason(qtbot: Any, store: Store, runner: QueryRunner) -> None:
    seed_results(store, 6, per_message=3, unmapped_every=3)
    model = ResultsModel(store, runner)
    model.set_filter(ResultFilter())
    settle(qtbot, model)
    unmapped = [r for r in range(model.rowCount()) if model.row_at(r).lis_code == ""]  # type: ignore[union-attr]
    mapped = [r for r in range(model.rowCount()) if r not in unmapped]
    assert unmapped and mapped
    lis = COLUMN_KEYS.index("lis_code")
    row = unmapped[0]
    assert model.index(row, lis).data(Qt.ItemDataRole.BackgroundRole) == UNMAPPED_BRUSH
    tip = model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "no LIS mapping" in tip and model.row_at(row).instrument_code in tip  # type: ignore[union-attr]
    assert model.index(mapped[0], lis).data(Qt.ItemDataRole.BackgroundRole) is None
    assert model.index(mapped[0], COLUMN_KEYS.index("units")).data() == "mmol/L"


def test_a_failing_query_is_reported_not_retried_in_a_loop(
    qtbot: Any, store: Store, runner: QueryRunner
) -> None:
    seed_results(store, 3)
    model = ResultsModel(store, runner, page_size=0)  # the store rejects limit=0 with ValueError
    failures: list[str] = []
    model.query_failed.connect(failures.append)
    model.set_filter(ResultFilter())
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert "ValueError" in failures[0]
    assert not model.canFetchMore()


class SlowStore(CountingStore):
    """The real store behind a slow disk: every read takes 300 ms."""

    def results_page(self, flt: ResultFilter, after: int | None = None, limit: int = 100) -> list[Any]:
        time.sleep(0.3)
        return super().results_page(flt, after=after, limit=limit)

    def count_results(self, flt: ResultFilter) -> int:
        time.sleep(0.3)
        return super().count_results(flt)


def test_a_slow_database_never_blocks_the_gui_thread(qtbot: Any, store: Store, runner: QueryRunner) -> None:
    seed_results(store, 20)
    model = ResultsModel(SlowStore(store), runner, page_size=10)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    model.set_filter(ResultFilter())
    model.notify_new_results()
    assert time.perf_counter() - started < 0.1  # returned before any read finished
    assert model.rowCount() == 0 and model.is_loading
    settle(qtbot, model)
    timer.stop()
    assert model.rowCount() == 10
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 10 and max(gaps) < 0.2  # Qt kept painting while the reads ran


def test_query_thread_never_holds_the_model(qtbot: Any, store: Store, loop: Any) -> None:
    """If the worker held the last reference, Qt would destroy the model on the wrong thread."""
    seed_results(store, 5)
    runner = QueryRunner()
    model = ResultsModel(SlowStore(store), runner)
    model.set_filter(ResultFilter())
    qtbot.waitUntil(lambda: runner.busy, timeout=2000)  # the read is running on the worker now
    ref = weakref.ref(model)
    del model
    runner.close()  # the window closing while a slow read is still running
    qtbot.wait(50)
    gc.collect()
    assert ref() is None  # released here, on the GUI thread, while the read is still in flight
    qtbot.wait(400)  # let the worker finish; nothing may call back into the dead model
