"""Each panel's behaviour in the real window, over the real engine and encrypted store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from sqlalchemy import text

from benchlink.core.events import DeviceChanged, MessageQuarantined, TraceChunk
from benchlink.core.logbuffer import LogEntry, LogRing
from benchlink.core.model import Result
from benchlink.core.status import DeviceSnapshot, DeviceState
from benchlink.gui.export_dialog import ExportRequest, run_export
from benchlink.gui.panels.orders import EMPTY_TEXT as ORDERS_EMPTY
from benchlink.gui.panels.plugins import PluginsPanel
from benchlink.runtime.plugins import PluginRecord
from benchlink.storage.store import InboundMessage, ResultFilter, Store

from .conftest import close_window, open_window, quarantine_message, seed_results

ASTM = b"\x021H|\\^&|||c311\r2P|1||P777||DOE^JANE\r3O|1|S1||^^^GLU\r4R|1|^^^GLU|5.5|mmol/L\r5L|1|N\r\x03A1\r\n"


def test_trace_shows_direction_timing_and_named_control_characters(
    qtbot: Any, loop: Any, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    panel = window.trace_panel
    assert panel.stack.currentWidget() is panel.hint
    bus = idle_engine.bus
    bus.publish(TraceChunk("c311", "in", 1000.0, b"\x05"))
    bus.publish(TraceChunk("c311", "out", 1000.012, b"\x06"))
    bus.publish(TraceChunk("xn", "in", 1000.5, b"\x021H|\r\x0312\r\n"))
    qtbot.waitUntil(lambda: panel.proxy.rowCount() == 3, timeout=2000)
    assert panel.stack.currentWidget() is panel.table
    model = panel.model
    cell = lambda row, key: model.index(row, model.column_of(key)).data()  # noqa: E731
    assert [cell(r, "text") for r in range(3)] == ["<ENQ>", "<ACK>", "<STX>1H|<CR><ETX>12<CR><LF>"]
    assert [cell(r, "direction") for r in range(3)] == ["← in", "→ out", "← in"]
    assert cell(1, "gap") == "+12 ms" and cell(0, "gap") == "" and cell(2, "gap") == ""  # per device
    panel.device.setCurrentText("xn")
    assert panel.proxy.rowCount() == 1
    panel.pause.setChecked(True)
    bus.publish(TraceChunk("xn", "in", 1001.0, b"\x04"))
    qtbot.wait(150)
    assert model.rowCount() == 3  # paused: the table holds still
    panel.pause.setChecked(False)
    assert model.rowCount() == 4 and cell(3, "text") == "<EOT>"  # what came meanwhile is shown, not lost
    model.capacity = 4
    bus.publish(TraceChunk("xn", "in", 1002.0, b"\x05\x04"))
    bus.publish(TraceChunk("xn", "out", 1002.1, b"\x06"))
    qtbot.waitUntil(lambda: model.rowCount() == 4 and cell(3, "text") == "<ACK>", timeout=2000)
    assert cell(0, "text") == "<STX>1H|<CR><ETX>12<CR><LF>"  # bounded: the oldest chunks went first
    close_window(qtbot, window)


def test_quarantine_lists_bytes_and_error_and_dismiss_is_audited(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    qid = quarantine_message(store, b"\x021H|\x17garbage\r\n", "FrameError: bad checksum")
    window = open_window(qtbot, idle_engine, qsettings)
    panel = window.quarantine_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=3000)
    assert panel.selected().id == qid
    assert panel.error_view.toPlainText() == "FrameError: bad checksum"
    assert panel.bytes_view.toPlainText().startswith("<STX>1H|<ETB>garbage<CR><LF>")
    assert "02 31 48 7C 17" in panel.hex_view.toPlainText()
    assert panel.dismiss_button.isEnabled()
    qtbot.mouseClick(panel.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0, timeout=3000)  # "Open" no longer lists it
    assert store.quarantine_list("dismissed")[0].id == qid
    entry = store.audit().search(action="quarantine.dismissed")[0]
    assert entry.actor == "system" and entry.target == f"quarantine:{qid}"
    assert panel.stack.currentWidget() is panel.stack.hint  # the empty state explains what the panel is for
    panel.state.setCurrentText("Dismissed")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=3000)
    assert not panel.dismiss_button.isEnabled()  # closed entries cannot be acted on twice
    # A new quarantine event refreshes the list and raises a notice that names no patient.
    second = quarantine_message(store, ASTM, "ValueError: DOE^JANE unreadable")
    panel.state.setCurrentText("Open")
    idle_engine.bus.publish(MessageQuarantined("xn", second, "ValueError: DOE^JANE unreadable"))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and getattr(panel.selected(), 'id', 0) == second,
                    timeout=3000)
    notice = window.notifier.history[-1]
    assert notice.kind == "quarantine" and "DOE" not in notice.text and f"#{second}" in notice.text
    close_window(qtbot, window)


def test_orders_are_entered_validated_imported_and_follow_their_state(
    qtbot: Any, loop: Any, tmp_path: Path, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    panel = window.orders_panel
    assert panel.stack.currentWidget() is panel.stack.hint and panel.stack.hint.text() == ORDERS_EMPTY
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert "sample ID" in panel.form_error.text()
    qtbot.keyClicks(panel.sample, "S100")
    qtbot.keyClicks(panel.tests, "GLU, CREA")
    qtbot.keyClick(panel.tests, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=3000)
    rows = panel.model.rows()
    assert {(r.sample_id, r.test, r.state, r.priority) for r in rows} == {("S100", "GLU", "pending", "R"),
                                                                       ("S100", "CREA", "pending", "R")}
    assert panel.sample.text() == ""  # ready for the next tube
    csv_path = tmp_path / "worklist.csv"
    csv_path.write_text("sample_id,tests,priority\nS201,,R\n", encoding="utf-8")
    panel.import_csv(csv_path)
    qtbot.waitUntil(lambda: "line 2" in panel.form_error.text(), timeout=3000)  # names the bad line
    csv_path.write_text("sample_id,tests,priority\nS200,ALT;AST,S\n", encoding="utf-8")
    panel.import_csv(csv_path)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=3000)
    panel.import_csv(csv_path)  # again: nothing new, and the panel says so after its own refresh
    qtbot.waitUntil(lambda: panel.summary.text() == (
        "4 order lines · Imported 0 order line(s) from worklist.csv; 2 already open, left out"), timeout=3000)
    idle_engine.worklist.mark([rows[0].id], "sent")
    panel.state.setCurrentText("Sent")
    qtbot.waitUntil(lambda: [r.id for r in panel.model.rows()] == [rows[0].id], timeout=3000)
    state_column = panel.model.column_of("state")
    assert "downloaded" in panel.model.index(0, state_column).data(Qt.ItemDataRole.ToolTipRole)
    close_window(qtbot, window)


def test_an_orders_import_says_what_it_left_out(tmp_path: Path, store: Store) -> None:
    from benchlink.gui.panels.orders import imported_text
    from benchlink.storage.worklist import Worklist

    worklist = Worklist(store.engine)
    csv_file = tmp_path / "wl.csv"
    csv_file.write_text("sample_id,tests\nS1,GLU;NA\nS2,K\nS2,K\n", encoding="utf-8")
    assert imported_text("wl.csv", worklist.import_file(csv_file)) == (
        "Imported 3 order line(s) from wl.csv; 1 repeated in the file, entered once")
    assert imported_text("wl.csv", worklist.import_file(csv_file)) == (
        "Imported 0 order line(s) from wl.csv; 3 already open, left out; 1 repeated in the file, entered once")


def test_audit_search_and_chain_verification_detects_an_edit(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    audit = store.audit()
    for n in range(3):
        audit.append("alice" if n else "bob", "mapping.set", f"mapping:GLU{n}", {"v": n}, {"v": n + 1})
    window = open_window(qtbot, idle_engine, qsettings)
    panel = window.audit_panel
    qtbot.wait(100)
    assert panel.model.rowCount() == 0  # behind a tab: not read before the operator opens it
    window.audit_dock.raise_()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=3000)
    panel.fields["actor"].setText("alice")
    qtbot.keyClick(panel.fields["actor"], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=3000)
    panel.table.selectRow(0)
    assert '"v": 3' in panel.detail.toPlainText()
    audit.append("alice", "mapping_import", "x", None, None)  # "mapping" must not match it as a LIKE pattern
    panel.fields["action"].setText("mapping.")  # the start of an action finds every action it begins
    qtbot.keyClick(panel.fields["action"], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=3000)
    panel.fields["action"].setText("mapping_")  # "_" is a literal here, not a wildcard
    qtbot.keyClick(panel.fields["action"], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [r.action for r in panel.model.rows()] == ["mapping_import"], timeout=3000)
    panel.fields["action"].setText("")
    qtbot.keyClick(panel.fields["action"], Qt.Key.Key_Return)
    qtbot.mouseClick(panel.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.verdict.text().startswith("Chain intact"), timeout=3000)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET actor = 'mallory' WHERE id = 2"))
    qtbot.mouseClick(panel.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "CHAIN BROKEN at entry 2" in panel.verdict.text(), timeout=3000)
    close_window(qtbot, window)


def test_plugins_panel_lists_loaded_and_failed_with_errors(qtbot: Any, idle_engine: Any) -> None:
    loaded = list(idle_engine.plugins.records)
    assert loaded, "the built-in drivers register as plugins"

    class Manager:
        records = [*loaded, PluginRecord("acme-xl", "0.3", "failed", "ImportError: no module named acme_io\n  at load")]

    panel = PluginsPanel(Manager())
    qtbot.addWidget(panel)
    assert panel.model.rowCount() == len(loaded) + 1
    first = panel.model.row_at(0)
    assert first.name == "acme-xl"  # trouble sorts first
    assert panel.model.index(0, panel.model.column_of("error")).data() == "ImportError: no module named acme_io"
    assert panel.model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "1 disabled or failed" in panel.summary.text()
    panel.table.selectRow(0)
    assert "at load" in panel.detail.toPlainText()


class GatedStore:
    """The real store, whose result iterator waits for the test to open a gate, so an export is
    reliably mid-way when the test cancels it or closes its dialog."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def iter_results(self, flt: ResultFilter) -> Iterator[Any]:
        self.gate.wait(5)
        yield from self.store.iter_results(flt)


def test_export_dialog_writes_marks_and_can_be_cancelled(
    qtbot: Any, loop: Any, tmp_path: Path, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    seed_results(store, 30, per_message=3)
    window = open_window(qtbot, idle_engine, qsettings)
    window.results_panel.filters["sample_id"].setText("S00004")
    window.results_panel.apply_filter()
    dialog = window.open_export_dialog()
    assert "sample id = S00004" in dialog.filter_text.text()
    qtbot.waitUntil(lambda: dialog.status.text() == "3 results match.", timeout=3000)
    out = tmp_path / "out.csv"
    dialog.destination.setText(str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Exported 3 results"), timeout=5000)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all("S00004" in line for line in lines[1:])
    assert store.count_results(ResultFilter(exported=True)) == 3
    assert store.audit().search(action="export")[0].actor == "system"
    dialog.only_new.setChecked(True)  # the same three are now excluded
    qtbot.waitUntil(lambda: dialog.status.text() == "0 results match.", timeout=3000)
    dialog.reject()

    gated = GatedStore(store)
    hl7 = tmp_path / "out.hl7"
    from benchlink.gui.export_dialog import ExportDialog

    cancel_me = ExportDialog(gated, ResultFilter(), default_dir=tmp_path, actor="alice")
    qtbot.addWidget(cancel_me)
    cancel_me.format.setCurrentIndex(2)
    cancel_me.destination.setText(str(hl7))
    cancel_me.start()
    assert cancel_me.job is not None and not cancel_me.export_button.isEnabled()
    qtbot.mouseClick(cancel_me.cancel_button, Qt.MouseButton.LeftButton)  # Cancel while running
    assert cancel_me.status.text() == "Cancelling…" and cancel_me.result() == 0  # still open, not rejected
    gated.gate.set()
    qtbot.waitUntil(lambda: "cancelled" in cancel_me.status.text(), timeout=5000)
    assert not hl7.exists() and not list(tmp_path.glob(".out.hl7.*"))  # nothing partial left behind
    assert cancel_me.export_button.isEnabled()
    assert store.count_results(ResultFilter(exported=True)) == 3  # a cancelled export marks nothing
    close_window(qtbot, window)


def test_every_export_dialog_shortcut_label_focuses_its_field(qtbot: Any, tmp_path: Path, store: Store) -> None:
    from PySide6.QtWidgets import QFormLayout, QLabel

    from benchlink.gui.export_dialog import ExportDialog

    dialog = ExportDialog(store, ResultFilter(), default_dir=tmp_path, actor="alice")
    qtbot.addWidget(dialog)
    form = next(item for item in dialog.layout().children() if isinstance(item, QFormLayout))
    labels = [form.itemAt(row, QFormLayout.ItemRole.LabelRole) for row in range(form.rowCount())]
    with_shortcut = [w for item in labels if item is not None and isinstance(w := item.widget(), QLabel)
                     and "&" in w.text()]
    assert [w.text() for w in with_shortcut] == ["&Format", "&Save to"]
    # Without a buddy Qt draws the "&" literally and Alt+S does nothing.
    assert [w.buddy() for w in with_shortcut] == [dialog.format, dialog.destination]


def test_run_export_hl7_batch_counts_rows(tmp_path: Path, store: Store) -> None:
    seed_results(store, 8, per_message=4)
    progress: list[int] = []
    count = run_export(store, ExportRequest("hl7-batch", tmp_path / "b.hl7", ResultFilter(), False, "x"),
                       progress.append, lambda: False)
    assert count == 8 and progress[-1] == 8
    body = (tmp_path / "b.hl7").read_bytes()
    assert body.startswith(b"FHS|") and body.count(b"MSH|") == 2
    assert store.count_results(ResultFilter(exported=True)) == 0  # not asked to mark


def _raw_result(store: Store, *, days_ago: int, status: str = "F", device: str = "c311") -> None:
    when = datetime.now().astimezone() - timedelta(days=days_ago)
    store.commit_inbound([InboundMessage(
        device=device, protocol="astm", data=ASTM.replace(b"P777", f"P{days_ago}{status}".encode()),
        received_at=when, link_meta={"peer": "10.0.0.7:4001", "complete": True},
        results=(Result(sample_id=f"D{days_ago}{status}", instrument_code="GLU", lis_code="", test_name="Glucose",
                        value="5.5", units="mmol/L", status=status, patient_id="P1"),))])


def test_results_filters_detail_pane_and_filters_kept_between_runs(
    qtbot: Any, loop: Any, store: Store, idle_engine: Any, qsettings: Any
) -> None:
    _raw_result(store, days_ago=0)
    _raw_result(store, days_ago=0, status="P", device="xn")
    _raw_result(store, days_ago=1)
    _raw_result(store, days_ago=40)
    window = open_window(qtbot, idle_engine, qsettings)
    panel, model = window.results_panel, window.results_model
    qtbot.waitUntil(lambda: model.rowCount() == 4, timeout=3000)
    sample_filter = panel.filters["sample_id"]
    sample_filter.setFocus()
    qtbot.keyClicks(sample_filter, "NOPE")
    qtbot.waitUntil(lambda: model.rowCount() == 0, timeout=3000)
    assert "Esc" in panel.hint.text()
    qtbot.keyClick(sample_filter, Qt.Key.Key_Escape)  # as the hint says: Esc clears the field
    assert sample_filter.text() == ""
    qtbot.waitUntil(lambda: model.rowCount() == 4, timeout=3000)
    panel.dates.preset.setCurrentText("Yesterday")
    panel.apply_filter()
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.row_at(0).sample_id == "D1F", timeout=3000)
    panel.dates.preset.setCurrentText("Last 7 days")
    panel.status.setCurrentIndex(2)  # Preliminary
    panel.apply_filter()
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.row_at(0).sample_id == "D0P", timeout=3000)
    panel.status.setCurrentIndex(0)
    panel.set_devices(["c311", "xn"])
    panel.device.setCurrentText("c311")
    panel.exported.setCurrentIndex(1)  # not yet exported
    panel.apply_filter()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=3000)
    panel.table.selectRow(0)
    qtbot.waitUntil(lambda: panel.raw_view.toPlainText().startswith("<STX>1H|"), timeout=3000)
    assert "<ETX>A1<CR><LF>" in panel.raw_view.toPlainText()
    assert "10.0.0.7:4001" in panel.trace_view.toPlainText() and "decode: ok" in panel.trace_view.toPlainText()
    assert panel.map_button.isVisibleTo(panel)  # unmapped code: one click to map it
    assert "GLU (unmapped)" in panel.detail_title.text()
    close_window(qtbot, window)

    again = open_window(qtbot, idle_engine, qsettings)
    p2 = again.results_panel
    assert p2.dates.preset.currentText() == "Last 7 days"
    assert p2.device.currentText() == "c311" and p2.exported.currentIndex() == 1
    qtbot.waitUntil(lambda: again.results_model.rowCount() == 2, timeout=3000)
    assert again.results_model.current_filter.device == "c311"
    p2.clear_filters()
    qtbot.waitUntil(lambda: again.results_model.rowCount() == 4, timeout=3000)
    close_window(qtbot, again)


def test_log_filters_by_device_and_redacts_phi(qtbot: Any, loop: Any, idle_engine: Any, qsettings: Any) -> None:
    ring = LogRing()
    ring.append(LogEntry("t1", "info", "message stored", "c311", {"patient_name": "DOE^JANE", "n": 1}))
    ring.append(LogEntry("t2", "warning", "bad frame 2P|1||P777||DOE^JANE", "xn", {}))
    window = open_window(qtbot, idle_engine, qsettings, log_ring=ring)
    panel = window.log_panel
    assert panel.proxy.rowCount() == 2
    shown = " ".join(str(panel.proxy.index(r, c).data()) for r in range(2) for c in range(5))
    assert "DOE" not in shown and "[redacted]" in shown
    panel.device.setCurrentText("xn")
    assert panel.proxy.rowCount() == 1 and panel.proxy.index(0, 2).data() == "xn"
    close_window(qtbot, window)


def test_device_errors_notify_once_and_show_in_the_summary(
    qtbot: Any, loop: Any, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    snap = DeviceSnapshot("c311", "astm", "tcp", DeviceState.CONNECTED)
    idle_engine.bus.publish(DeviceChanged(snap))
    for _ in range(3):
        idle_engine.bus.publish(DeviceChanged(DeviceSnapshot("c311", "astm", "tcp", DeviceState.ERROR, "refused")))
    qtbot.waitUntil(lambda: window.summary_label.text().endswith("1 in error"), timeout=2000)
    notices = [n for n in window.notifier.history if n.kind == "device-error"]
    assert len(notices) == 1 and "refused" in notices[0].text
    assert "c311" in window.statusBar().currentMessage()
    close_window(qtbot, window)


def test_theme_is_applied_and_remembered(qtbot: Any, loop: Any, idle_engine: Any, qsettings: Any) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    window = open_window(qtbot, idle_engine, qsettings)
    window.theme_actions["dark"].trigger()
    assert app.palette().window().color().lightness() < 80
    close_window(qtbot, window)
    again = open_window(qtbot, idle_engine, qsettings)
    assert again.theme_actions["dark"].isChecked() and app.palette().window().color().lightness() < 80
    again.theme_actions["light"].trigger()
    assert app.palette().window().color().lightness() > 200
    again.set_theme("system")
    close_window(qtbot, again)


def test_event_bursts_are_drained_in_batches_without_stalling(
    qtbot: Any, loop: Any, idle_engine: Any, qsettings: Any
) -> None:
    window = open_window(qtbot, idle_engine, qsettings)
    started = time.perf_counter()
    for n in range(3000):
        idle_engine.bus.publish(TraceChunk("c311", "in", 1000 + n / 1000, b"\x021R|%d\r\x03" % n))
    assert time.perf_counter() - started < 0.5  # publishing never waits for the GUI
    qtbot.waitUntil(lambda: window.trace_model.rowCount() == 3000, timeout=3000)
    close_window(qtbot, window)
