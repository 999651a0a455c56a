"""Guarantee 1, proven by killing for real: SIGKILL `serve` at random moments while a simulated
analyzer sends, restart it, and at the end every message the analyzer saw acknowledged is in the
database exactly once (retransmits after a crash are recognised, not stored twice)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.helpers import (
    benchlink,
    cli_env,
    free_port,
    port_open,
    start_serve,
    use_event_loop,
    wait_for,
    write_tcp_config,
)

KILLS = 20
SEED = 11


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_sigkill_twenty_times_loses_nothing_acknowledged(tmp_path: Path, event_loop: str) -> None:
    home = tmp_path / "home"
    port = free_port()
    write_tcp_config(home, port)
    use_event_loop(home, event_loop)
    ack_log = tmp_path / "acked.txt"
    rng = random.Random(20261122)
    next_index = 1
    kills = 0
    while kills < KILLS:
        serve = start_serve(home)
        assert wait_for(lambda s=serve: port_open(port) or s.poll() is not None, 30), "serve did not come up"
        assert serve.poll() is None, serve.communicate()
        sim = subprocess.Popen(
            [sys.executable, "-m", "benchlink", "simulate", "--connect", f"127.0.0.1:{port}", "--count", "400",
             "--seed", str(SEED), "--start", str(next_index), "--prefix", "K", "--ack-log", str(ack_log)],
            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(rng.uniform(0.4, 1.6))
        serve.send_signal(signal.SIGKILL)
        serve.communicate(timeout=30)
        kills += 1
        sim.communicate(timeout=60)
        acked = ack_log.read_text(encoding="utf-8").split() if ack_log.exists() else []
        if acked:
            # the analyzer resends from the first message it never saw accepted
            next_index = int(acked[-1][1:]) + 1

    acked = ack_log.read_text(encoding="utf-8").split()
    assert len(acked) >= KILLS, f"too few messages acknowledged to prove anything: {len(acked)}"
    assert len(set(acked)) == len(acked), "the simulator saw the same sample acknowledged twice"

    listing = benchlink(home, "results", "--json", "--limit", "1000000", timeout=120)
    rows = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    per_message = Counter(r["message_id"] for r in rows)
    samples_per_message: dict[int, set[str]] = {}
    for r in rows:
        samples_per_message.setdefault(r["message_id"], set()).add(r["sample_id"])
    stored = Counter(sample for ids in samples_per_message.values() for sample in ids)
    missing = [s for s in acked if stored[s] == 0]
    doubled = [s for s in acked if stored[s] > 1]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
    assert not doubled, f"{len(doubled)} messages stored twice, e.g. {doubled[:5]}"
    assert all(count == 4 for count in per_message.values()), "a message was stored with missing results"
