"""Guarantee 5, end to end: sentinel patient names, IDs and birth dates go in over ASTM and HL7
(valid, malformed and crash-inducing messages), and none of them comes out in any log file,
status file, support bundle, stdout or stderr. Positive controls prove the sentinels really
went through: the database and the CSV export hold them."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.helpers import SENTINEL_NAME, cli_env, free_port, port_open, wait_for

from benchlink.protocols.hl7.mllp import MllpFramer, MllpMessage, frame
from benchlink.runtime.simulator import build_message

LAST, FIRST = SENTINEL_NAME.split("^")
HL7_ID = "PIDSENT98765"
HL7_DOB = "19020304"
SEED = 11
COUNT = 3

ORU = (
    "MSH|^~\\&|ANALYZER|LAB|BENCHLINK|LIS|20250501093000||ORU^R01|MSG0001|P|2.5.1\r"
    f"PID|1||{HL7_ID}^^^HOSP^MR||{LAST}^{FIRST}||{HL7_DOB}|F\r"
    "OBR|1|ORD1|SMPHL7001|CBC^Complete blood count|||20250501092000\r"
    "OBX|1|NM|WBC^White cells||7.5|10*9/L|4.0-10.0|N|||F|||20250501092500\r"
    "OBX|2|NM|HGB^Haemoglobin||13.9|g/dL|12.0-16.0|N|||F|||20250501092500\r"
).encode()
# Not HL7 at all (no MSH): quarantined with an error that must not quote the PID.
NO_MSH = f"PID|1||{HL7_ID}||{LAST}^{FIRST}||{HL7_DOB}|F\rOBX|1|NM|WBC||7.5\r".encode()
# A header naming a character set nobody knows: quarantined, error quotes MSH-18 only.
BAD_CHARSET = (
    "MSH|^~\\&|ANALYZER|LAB|BENCHLINK|LIS|20250501093100||ORU^R01|MSG0002|P|2.5.1|||||X-NO-SUCH-SET\r"
    f"PID|1||{HL7_ID}||{LAST}^{FIRST}||{HL7_DOB}|F\r"
).encode()
# A query with no QRD segment but a PID: the host cannot answer it and logs the failure with a
# logged traceback -- the crash path whose report must stay PHI-free.
BROKEN_QUERY = (
    "MSH|^~\\&|ANALYZER|LAB|BENCHLINK|LIS|20250501093200||QRY^Q02|Q0001|P|2.3.1\r"
    f"PID|1||{HL7_ID}||{LAST}^{FIRST}||{HL7_DOB}|F\r"
).encode()


def _astm_sentinels() -> set[str]:
    """The simulator's own patient IDs and birth dates for this seed, read back from its messages."""
    found: set[str] = set()
    for index in range(1, COUNT + 1):
        _sample, data = build_message(index, prefix="PHI", seed=SEED, patient_name=SENTINEL_NAME)
        for record in data.decode("latin-1").split("\r"):
            if record.startswith("P|"):
                fields = record.split("|")
                found.update({fields[3], fields[7]})
    assert all(found), found
    return found


@dataclass
class Captured:
    outputs: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
        self.outputs[f"{label} stdout"] = proc.stdout
        self.outputs[f"{label} stderr"] = proc.stderr
        return proc


#: Credentials for commands that need them once the CLI asks (the first one creates this admin).
#: The password is swept for as well: secrets belong in logs no more than PHI does.
ADMIN_PASSWORD = "Sweep-Kestrel-Secret-7731"
CRASH_EVENTS = ("session failed", "query could not be answered")


def _env(home: Path) -> dict[str, str]:
    return {**cli_env(home), "BENCHLINK_LOG_LEVEL": "debug", "BENCHLINK_USER": "admin",
            "BENCHLINK_PASSWORD": ADMIN_PASSWORD, "BENCHLINK_ADMIN_PASSWORD": ADMIN_PASSWORD}


def _run(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchlink", *args], env=_env(home), capture_output=True,
                          text=True, timeout=timeout)


class MllpClient:
    """One analyzer connection for all messages: the device accepts one connection at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.framer = MllpFramer()
        self.pending: list[bytes] = []

    def exchange(self, payload: bytes) -> bytes:
        """Send one block; return the reply block, or b"" when the peer closes the connection."""
        self.sock.sendall(frame(payload))
        while not self.pending:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return b""
            if not chunk:
                return b""
            self.pending += [e.payload for e in self.framer.feed(chunk) if isinstance(e, MllpMessage)]
        return self.pending.pop(0)

    def close(self) -> None:
        self.sock.close()


def _hl7_available() -> bool:
    from benchlink.runtime.plugins import PluginManager

    return "hl7" in PluginManager().drivers()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int, int, subprocess.Popen[str]]]:
    home = tmp_path / "home"
    home.mkdir()
    astm_port, hl7_port = free_port(), free_port()
    (home / "config.toml").write_text(
        f"""
[log]
level = "debug"

[[device]]
name = "chem-1"
driver = "astm"
[device.transport]
kind = "tcp-server"
host = "127.0.0.1"
port = {astm_port}

[[device]]
name = "hema-hl7"
driver = "hl7"
[device.transport]
kind = "tcp-server"
host = "127.0.0.1"
port = {hl7_port}
""",
        encoding="utf-8",
    )
    proc = subprocess.Popen([sys.executable, "-m", "benchlink", "serve"], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = wait_for(lambda: (port_open(astm_port) and port_open(hl7_port)) or proc.poll() is not None, 30)
        assert ready and proc.poll() is None, proc.communicate(timeout=5)
        yield home, astm_port, hl7_port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _log_events(home: Path) -> list[dict[str, object]]:
    events = []
    for path in sorted((home / "logs").glob("*.jsonl*")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                events.append(json.loads(line))
    return events


def test_no_phi_in_logs_outputs_crash_reports_or_bundle(served, tmp_path: Path) -> None:
    if not _hl7_available():
        pytest.skip("`benchlink plugins` lists no 'hl7' driver (benchlink.drivers.hl7_generic missing)")
    home, astm_port, hl7_port, proc = served
    sentinels = {LAST, FIRST, HL7_ID, HL7_DOB, *_astm_sentinels(), ADMIN_PASSWORD}
    captured = Captured()

    # ---- traffic: ASTM through the simulator, HL7 by hand
    sim = captured.add("simulate", _run(home, "simulate", "--connect", f"127.0.0.1:{astm_port}", "--count",
                                        str(COUNT), "--seed", str(SEED), "--prefix", "PHI",
                                        "--patient-name", SENTINEL_NAME))
    assert f"sent {COUNT}/{COUNT} messages, all acknowledged: True" in sim.stdout, sim.stderr
    analyzer = MllpClient(hl7_port)
    try:
        ack = analyzer.exchange(ORU)
        assert b"MSA|AA|MSG0001" in ack, ack
        assert b"MSA|AR" in analyzer.exchange(NO_MSH)
        assert b"MSA|A" in analyzer.exchange(BAD_CHARSET)  # rejected; kept in quarantine
        analyzer.exchange(BROKEN_QUERY)  # stored and ACKed, then answering it fails
    finally:
        analyzer.close()
    assert wait_for(lambda: any(e.get("event") in CRASH_EVENTS for e in _log_events(home)), 15), \
        "the broken query did not reach the crash path (a logged traceback)"

    # ---- every read-only command an operator or support would run
    assert wait_for(lambda: (home / "status.json").exists(), 10)
    captured.add("status", _run(home, "status"))
    captured.add("status --json", _run(home, "status", "--json"))
    captured.add("results", _run(home, "results", "--limit", "100"))
    out_csv = tmp_path / "export.csv"
    export = captured.add("export", _run(home, "export", "csv", "--out", str(out_csv)))
    assert export.returncode == 0, export.stderr
    audit = captured.add("audit verify", _run(home, "audit", "verify"))
    assert audit.returncode == 0, audit.stderr
    bundle = tmp_path / "support.zip"
    captured.add("doctor --bundle", _run(home, "doctor", "--bundle", str(bundle)))

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    captured.outputs["serve stdout"], captured.outputs["serve stderr"] = out, err
    assert proc.returncode == 0, err

    # ---- positive controls: the sentinels really went in (else this test would prove nothing)
    listing = _run(home, "results", "--json", "--limit", "500")
    rows = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    hl7_rows = [r for r in rows if r["device"] == "hema-hl7"]
    assert {r["instrument_code"] for r in hl7_rows} == {"WBC", "HGB"}
    assert {(r["patient_id"], r["patient_name"], r["birth_date"]) for r in hl7_rows} == {
        (HL7_ID, SENTINEL_NAME, HL7_DOB)}
    assert sum(r["device"] == "chem-1" and r["patient_name"] == SENTINEL_NAME for r in rows) >= COUNT
    exported = out_csv.read_text(encoding="utf-8")
    assert HL7_ID in exported  # the CSV carries patient IDs (names stay in the database)
    _check_quarantine(home)

    # ---- the sweep: every file under HOME (logs, status, keys, the encrypted DB), every output
    leaks: list[str] = []
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.parent.name == "logs" for p in files), "serve wrote no log file"
    for path in files:
        text = path.read_bytes().decode("latin-1")
        leaks += [f"{path.relative_to(home)}: {s!r}" for s in sentinels if s in text]
    for label, text in captured.outputs.items():
        leaks += [f"{label}: {s!r}" for s in sentinels if s in text]
    if bundle.exists():
        with zipfile.ZipFile(bundle) as archive:
            for name in archive.namelist():
                text = archive.read(name).decode("latin-1")
                leaks += [f"support bundle {name}: {s!r}" for s in sentinels if s in text]
    assert not leaks, "PHI leaked:\n" + "\n".join(leaks)

    # ---- the crash report: a traceback with frames, no locals, nothing from the message
    events = _log_events(home)
    crashes = [e for e in events if e.get("event") in CRASH_EVENTS]
    assert crashes and all("exception" in e for e in crashes), crashes
    rendered = json.dumps(crashes)
    assert '"frames"' in rendered and "hl7_session.py" in rendered, "the traceback lost its frames"
    assert '"locals"' not in rendered, "tracebacks must be rendered without locals"
    quarantined = [e for e in events if e.get("event") == "message quarantined"]
    assert len(quarantined) >= 2 and all(e.get("error") for e in quarantined)


def _check_quarantine(home: Path) -> None:
    """The quarantine keeps the bytes (PHI and all, encrypted) but its error texts stay PHI-free,
    because the GUI and the log show them."""
    from benchlink.runtime.bootstrap import open_store
    from benchlink.runtime.settings import load_settings

    store = open_store(load_settings(home=home, environ=cli_env(home)))
    try:
        entries = store.quarantine_list(None)
        assert len(entries) >= 2
        assert any(HL7_ID.encode() in q.data for q in entries), "quarantine must keep the raw bytes"
        for q in entries:
            for s in (LAST, FIRST, HL7_ID, HL7_DOB):
                assert s not in q.error, f"quarantine error {q.error!r} quotes PHI"
    finally:
        store.engine.dispose()

