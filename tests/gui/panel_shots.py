"""Screenshots of every main panel for docs/operator-guide.md, taken from the real app in a real
X server (run by test_screenshot.py as a subprocess under Xvfb).

Usage: python tests/gui/panel_shots.py OUT_DIR HOME
The demo analyzer sends live results; orders, a quarantined message and audit entries are
entered through the same APIs an operator's actions use, so each panel has something to show.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path

import qasync
from PySide6.QtCore import Qt

from benchlink.gui.app import make_application, window_settings
from benchlink.gui.engine_host import EngineHost
from benchlink.gui.main_window import MainWindow
from benchlink.runtime.bootstrap import build_engine, open_store
from benchlink.runtime.settings import load_settings
from benchlink.storage.store import InboundMessage

SHOTS = ("results", "devices", "mapping", "orders", "quarantine", "log", "trace", "audit", "plugins")
BAD = b"\x021H|\\^&|||XN-550\r2P|1||\r3O|1|S9||^^^WBC\x17\x17garbled\r\n"


def seed(engine: object) -> None:
    store = engine.store  # type: ignore[attr-defined]
    worklist = engine.worklist  # type: ignore[attr-defined]
    worklist.add("DEMO000101", ["GLU", "CREA", "ALT"], priority="S", patient_id="P100200")
    worklist.add("DEMO000102", ["NA", "K"], patient_id="P100201", device="demo-analyzer")
    ids = worklist.add("DEMO000001", ["GLU"], patient_id="P649786")
    worklist.mark(ids, "sent")
    store.commit_inbound([InboundMessage(device="xn-550", protocol="astm", data=BAD,
                                         received_at=datetime.now().astimezone(), decode_status="quarantined",
                                         error="FrameError: frame 3 has no checksum after ETB (byte 61); "
                                               "enable the missing_checksum tolerance if this analyzer omits it")])
    audit = store.audit()
    audit.append("admin", "user.add", "user:olga", None, {"role": "operator"})
    audit.append("sam", "mapping.set", "mapping:demo-analyzer/GLU", None,
                 {"lis_code": "GLU-S", "units": "mmol/L", "factor": 1.0})


async def shoot(out: Path, home: Path) -> None:
    settings = load_settings(home=home, demo=True)  # config.toml names the demo analyzer (ephemeral port)
    store = open_store(settings)
    engine = build_engine(settings, store)
    engine.demo_interval = 0.5
    host = EngineHost(engine)  # the engine on its own thread and loop, as the app runs it
    await asyncio.wrap_future(host.start())
    seed(host)
    window = MainWindow(host, settings=window_settings(home))
    window.resize(1280, 800)
    window.show()
    await asyncio.sleep(6)
    window.refresh_all()
    await asyncio.sleep(0.8)
    docks = {"results": window.results_dock, "devices": window.devices_dock, "orders": window.orders_dock,
             "quarantine": window.quarantine_dock, "log": window.log_dock, "trace": window.trace_dock,
             "audit": window.audit_dock, "plugins": window.plugins_dock, "mapping": window.mapping_dock}
    mapping = window.mapping_panel
    mapping.start_new("demo-analyzer", "GLU")
    mapping.lis.setText("GLU-S")
    mapping.units.setText("mg/dL")
    mapping.factor.setText("18.016")
    mapping.save()
    await asyncio.sleep(0.8)
    window.results_panel.table.selectRow(0)
    await asyncio.sleep(0.5)
    window.results_panel.detail_tabs.setCurrentIndex(1)
    await asyncio.sleep(0.2)
    window.grab().save(str(out / "main-window.png"))
    window.resizeDocks([window.devices_dock, window.results_dock, window.log_dock], [110, 330, 330],
                       Qt.Orientation.Vertical)
    for name in SHOTS:
        dock = docks[name]
        dock.show()
        dock.raise_()
        panel = dock.widget()
        table = getattr(panel, "table", None)
        if table is not None and table.model().rowCount():
            table.selectRow(0)
        await asyncio.sleep(0.4)
        dock.widget().grab().save(str(out / f"panel-{name}.png"))
    window.trace_dock.raise_()
    window.results_dock.raise_()
    device_dialog = window.open_device_dialog(None)
    device_dialog.name.setText("cobas-c311")
    device_dialog.host.setText("0.0.0.0")
    device_dialog.port.setText("5001")
    device_dialog.tolerances["oversize_frames"].setChecked(True)
    await asyncio.sleep(0.4)
    device_dialog.grab().save(str(out / "dialog-device.png"))
    device_dialog.reject()
    export = window.open_export_dialog()
    await asyncio.sleep(0.4)
    export.grab().save(str(out / "dialog-export.png"))
    export.reject()
    window.set_theme("dark", save=False)
    await asyncio.sleep(0.4)
    window.grab().save(str(out / "main-window-dark.png"))
    window.set_theme("system", save=False)
    window.close()
    await window.wait_for_commands()
    await host.aclose()
    store.engine.dispose()


def main() -> int:
    out, home = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    make_application()
    qasync.run(shoot(out, home))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
