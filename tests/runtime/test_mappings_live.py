"""Saved mappings apply to live results after a restart, not only after an edit."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchlink.exporters.hl7_export import build_oru
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.runtime.simulator import send_messages
from benchlink.storage.mappings import MappingStore
from benchlink.storage.store import ResultFilter
from benchlink.transports.tcp import open_tcp_channel

MESSAGE = b"H|\\^&|||X\rP|1\rO|1|MAP-1||^^^GLU|R\rR|1|^^^GLU|5.0|mmol/L|3.9 to 6.1|N||F\rL|1|N\r"


def test_mappings_saved_earlier_are_applied_on_start(tmp_path: Path) -> None:
    device = DeviceConfig(name="chem", transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)
    MappingStore(store.engine, store.audit()).set_mapping("chem", "GLU", "GLUC-LAB", name="Glucose", units="mg/dL",
                                                          factor=18.0, actor="tester")

    async def scenario() -> None:
        engine = Engine(settings, store)
        await engine.start()
        try:
            chan = await open_tcp_channel("127.0.0.1", engine.runners["chem"].port)
            assert (await send_messages(chan, [("MAP-1", MESSAGE)])).acknowledged == ["MAP-1"]
            await chan.close()
        finally:
            await engine.stop()

    asyncio.run(scenario())
    (row,) = store.results_page(ResultFilter(device="chem"), after=None, limit=5)
    # Stored in the lab's unit throughout: text, number, unit and range (5.0 mmol/L is 90 mg/dL).
    assert (row.lis_code, row.test_name, row.units, row.value) == ("GLUC-LAB", "Glucose", "mg/dL", "90")
    assert (row.numeric_value, row.reference_range) == (90.0, "70 to 110")
    # ...and that is what the LIS receives.
    oru = build_oru([row], control_id="1", timestamp="20260101000000").decode("utf-8")
    obx = next(s for s in oru.split("\r") if s.startswith("OBX"))
    assert obx.split("|")[2:8] == ["NM", "GLUC-LAB^Glucose^L^GLU^Glucose^99INS", "", "90", "mg/dL", "70 to 110"]
