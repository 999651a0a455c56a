"""A virtual, newest-first view over the result store.

Rows are pulled page by page with the store's keyset (`after` = the last id shown), only as
the view scrolls (canFetchMore/fetchMore), so a year of results never sits in memory. New
results are prepended as they are stored. Every read runs on the query thread; a generation
counter discards answers to a filter the operator has already replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor

from benchlink.gui.contracts import ResultsSource
from benchlink.gui.formatting import display_value
from benchlink.gui.models.table_model import KeyedRowsModel
from benchlink.gui.queries import QueryRunner

Index = QModelIndex | QPersistentModelIndex

# Same order and names as the CSV exporter, so what the operator sees is what they export.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("sample_id", "Sample"),
    ("patient_id", "Patient"),
    ("device", "Device"),
    ("instrument_code", "Instrument code"),
    ("lis_code", "LIS code"),
    ("test_name", "Test"),
    ("value", "Value"),
    ("units", "Units"),
    ("flags", "Flags"),
    ("status", "Status"),
    ("observed_at", "Observed"),
    ("received_at", "Received"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _ in COLUMNS)

UNMAPPED_BRUSH = QBrush(QColor(255, 196, 0, 70))
# Prepending walks down from the newest row; past this many new rows a reset is cheaper.
MAX_PREPEND = 2000


def unmapped_tooltip(row: Any) -> str:
    return (
        f"Instrument code {row.instrument_code!r} has no LIS mapping, so this result cannot be "
        "exported under a lab code. Add a mapping for it, then replay the message."
    )


def is_unmapped(row: Any) -> bool:
    return not getattr(row, "lis_code", "")


def rows_newer_than(source: ResultsSource, flt: Any, top_id: int, page_size: int) -> list[Any] | None:
    """Runs on the query thread: walk newest-first pages down to the row already on top.

    None means more than MAX_PREPEND arrived; splicing that many in is slower than a reset.
    """
    newer: list[Any] = []
    after: int | None = None
    while True:
        page = source.results_page(flt, after=after, limit=page_size)
        for row in page:
            if row.id <= top_id:
                return newer
            newer.append(row)
        if len(page) < page_size:
            return newer
        if len(newer) >= MAX_PREPEND:
            return None
        after = page[-1].id


class ResultsModel(KeyedRowsModel):
    columns_spec = COLUMNS

    total_changed = Signal(int)
    loading_changed = Signal(bool)
    query_failed = Signal(str)

    def __init__(
        self,
        source: ResultsSource,
        runner: QueryRunner,
        page_size: int = 100,
        parent: Any = None,
        count_runner: QueryRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._runner = runner
        # Totals on a second reader, if given: a slow count never delays a page.
        self._count_runner = count_runner or runner
        self._page_size = page_size
        self._rows: list[Any] = []
        self._ids: set[int] = set()
        self._filter: Any = None
        self._generation = 0
        self._exhausted = True  # nothing to fetch until the first query is issued
        self._paging = False
        self._refreshing = False
        self._refresh_again = False
        self._active = False
        self.pages_fetched = 0
        self.total: int | None = None
        # Analyzers send results in bursts; coalesce "new results" into one read.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)
        self._refresh_timer.timeout.connect(self._refresh_newer)

    # -- commands ------------------------------------------------------------------------
    @property
    def source(self) -> ResultsSource:
        return self._source

    @property
    def current_filter(self) -> Any:
        return self._filter

    @property
    def is_loading(self) -> bool:
        return self._paging or self._refreshing

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def set_filter(self, flt: Any) -> None:
        """Start over with a new filter; answers to the previous one are dropped on arrival."""
        self._generation += 1
        self._filter = flt
        self._active = True
        self.beginResetModel()
        self._rows = []
        self._ids = set()
        self._exhausted = False
        self._paging = False
        self._refreshing = False
        self._refresh_again = False
        self.endResetModel()
        self._request_page(None)
        self._request_count()

    def notify_new_results(self) -> None:
        """Called for every ResultsStored; the read happens once the burst settles."""
        if self._active:
            self._refresh_timer.start()

    def row_at(self, row: int) -> Any | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    # -- paging --------------------------------------------------------------------------
    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and self._active and not self._exhausted and not self._paging

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if self.canFetchMore(parent):
            self._request_page(self._rows[-1].id if self._rows else None)

    # The callables handed to the query thread capture only the source and plain values, never
    # `self`: if the worker dropped the last reference to this QObject, Qt would destroy it (and
    # its timer) on the wrong thread and crash later.
    def _request_page(self, after: int | None) -> None:
        generation, flt, limit, source = self._generation, self._filter, self._page_size, self._source
        self._set_paging(True)
        self._runner.submit(
            lambda: source.results_page(flt, after=after, limit=limit),
            lambda page: self._page_arrived(generation, page),
            lambda exc: self._failed(generation, exc),
        )

    def _page_arrived(self, generation: int, page: Sequence[Any]) -> None:
        if generation != self._generation:
            return
        self.pages_fetched += 1
        if len(page) < self._page_size:
            self._exhausted = True
        fresh = [row for row in page if row.id not in self._ids]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            self._ids.update(row.id for row in fresh)
            self.endInsertRows()
        self._set_paging(False)

    def _request_count(self) -> None:
        generation, flt, source = self._generation, self._filter, self._source
        self._count_runner.submit(
            lambda: source.count_results(flt),
            lambda total: self._count_arrived(generation, total),
            lambda exc: self._failed(generation, exc),
            supersede="results-count",
        )

    def _count_arrived(self, generation: int, total: int) -> None:
        if generation == self._generation:
            self.total = total
            self.total_changed.emit(total)

    # -- live updates --------------------------------------------------------------------
    def _refresh_newer(self) -> None:
        if self._refreshing or self._paging:
            # One read at a time: the top id a refresh starts from must still be the top.
            self._refresh_again = True
            return
        if not self._rows:
            if self._exhausted:
                self.set_filter(self._filter)  # was empty; simply read the first page again
            return
        generation, flt, top_id = self._generation, self._filter, self._rows[0].id
        source, limit = self._source, self._page_size
        self._refreshing = True
        self.loading_changed.emit(True)
        self._runner.submit(
            lambda: rows_newer_than(source, flt, top_id, limit),
            lambda rows: self._newer_arrived(generation, rows),
            lambda exc: self._failed(generation, exc),
        )
        self._request_count()

    def _newer_arrived(self, generation: int, rows: list[Any] | None) -> None:
        if generation != self._generation:
            return
        self._refreshing = False
        if rows is None:
            self.set_filter(self._filter)
            return
        fresh = [row for row in rows if row.id not in self._ids]
        if fresh:
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._rows[0:0] = fresh
            self._ids.update(row.id for row in fresh)
            self.endInsertRows()
        self._settle()

    def _set_paging(self, paging: bool) -> None:
        self._paging = paging
        if not paging:
            self._settle()
        else:
            self.loading_changed.emit(True)

    def _settle(self) -> None:
        if self.is_loading:
            return
        self.loading_changed.emit(False)
        if self._refresh_again:
            self._refresh_again = False
            self._refresh_timer.start()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._paging = False
        self._refreshing = False
        self._exhausted = True  # stop the view from re-asking in a tight loop; a new filter retries
        self.loading_changed.emit(False)
        self.query_failed.emit(f"Could not read results ({type(exc).__name__}); change the filter to retry.")

    # -- Qt model API --------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        key = COLUMN_KEYS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display_value(getattr(row, key, None))
        if role == Qt.ItemDataRole.BackgroundRole and is_unmapped(row):
            return UNMAPPED_BRUSH
        if role == Qt.ItemDataRole.ToolTipRole:
            if is_unmapped(row):
                return unmapped_tooltip(row)
            if key == "value" and getattr(row, "reference_range", None):
                return f"Reference range: {row.reference_range}"
            return None
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None
