"""HL7 v2 over MLLP on a real TCP listener: ACK after commit with MSA-2 = MSH-10, AE/AR for bad
input (kept in quarantine), and Mindray's QRY^Q02 answered with QCK^Q02 + DSR^Q03 from the worklist."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchlink.protocols.hl7.message import parse_message
from benchlink.protocols.hl7.mllp import MllpFramer, MllpMessage, frame
from benchlink.runtime.bootstrap import open_store
from benchlink.runtime.engine import Engine
from benchlink.runtime.settings import DeviceConfig, Settings, TransportConfig
from benchlink.storage.store import ResultFilter

ORU = (
    b"MSH|^~\\&|BC-5380|Mindray|||20260101120000||ORU^R01|CTRL-42|P|2.3.1||||||UNICODE\r"
    b"PID|1||PAT-9||Doe^Jane||19800101|F\r"
    b"OBR|1||SMP-77|00001^Automated Count^99MRC\r"
    b"OBX|1|NM|6690-2^WBC^LN||7.25|10\\S\\9/L|4.00-10.00|N|||F\r"
    b"OBX|2|NM|718-7^HGB^LN||***.**|g/L|110-150|~N|||F\r"
)
QRY = (
    b"MSH|^~\\&|BS-240|Mindray|||20260101120000||QRY^Q02|Q-7|P|2.3.1||||||ASCII|||\r"
    b"QRD|20260101120000|R|D|1|||RD|SMP-88|OTH|||T|\r"
    b"QRF|BS-240|||||RCT|COR|ALL||\r"
)


async def exchange(port: int, payloads: list[bytes], expect: int) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framer = MllpFramer()
    got: list[bytes] = []
    for payload in payloads:
        writer.write(frame(payload))
    await writer.drain()
    while len(got) < expect:
        data = await asyncio.wait_for(reader.read(65536), 10)
        assert data, f"host closed after {len(got)} replies"
        got += [e.payload for e in framer.feed(data) if isinstance(e, MllpMessage)]
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)  # let the host see the close before the next connection (one per device)
    return got


def test_hl7_results_acked_after_commit_and_queries_answered(tmp_path: Path) -> None:
    device = DeviceConfig(name="haem-hl7", driver="hl7",
                          transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=0))
    settings = Settings(home=tmp_path, config_file=tmp_path / "c.toml", key_file=tmp_path / "k", use_keyring=False,
                        devices=(device,))
    store = open_store(settings)

    async def scenario() -> tuple[list[bytes], list[bytes], list[str]]:
        engine = Engine(settings, store)
        engine.worklist.add("SMP-88", ["GLU", "ALT"])
        await engine.start()
        try:
            port = engine.runners["haem-hl7"].port
            acks = await exchange(port, [ORU, b"this is not HL7 at all\r"], expect=2)
            answers = await exchange(port, [QRY], expect=3)  # ACK^Q02, QCK^Q02, DSR^Q03
            await asyncio.sleep(0.2)
            return acks, answers, [o.state for o in engine.worklist.list()]
        finally:
            await engine.stop()

    acks, answers, states = asyncio.run(scenario())
    first = parse_message(acks[0])
    msa = first.segment("MSA")
    assert first.value(msa, 1) == "AA" and first.value(msa, 2) == "CTRL-42"
    assert parse_message(acks[1]).value(parse_message(acks[1]).segment("MSA"), 1) == "AR"
    rows = store.results_page(ResultFilter(device="haem-hl7"), after=None, limit=10)
    assert {r.instrument_code for r in rows} == {"6690-2", "718-7"}
    wbc = next(r for r in rows if r.value == "7.25")
    assert wbc.sample_id == "SMP-77" and wbc.units == "10^9/L" and wbc.numeric_value == 7.25
    invalid = next(r for r in rows if r.value == "***.**")
    assert invalid.numeric_value is None
    assert len(store.quarantine_list()) == 1, "the non-HL7 bytes must be kept in quarantine"
    types = [parse_message(a).message_type for a in answers]
    assert types[1].startswith("QCK^Q02") and types[2].startswith("DSR^Q03"), types
    assert b"SMP-88" in answers[2] and b"GLU" in answers[2]
    assert states == ["sent", "sent"]
