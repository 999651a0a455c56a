"""Device snapshots as the status file writes them."""

from __future__ import annotations


def test_device_snapshot_json_matches_every_field() -> None:
    """The status file's hand-written form must not drop a field added to DeviceSnapshot later."""
    from dataclasses import asdict

    from benchlink.core.status import DeviceSnapshot, DeviceState

    snap = DeviceSnapshot(name="an-1", driver="astm", transport="tcp listen 127.0.0.1:1", state=DeviceState.RECEIVING,
                          reason="r", counters={"messages": 3}, last_activity=12.5, peer="127.0.0.1:9")
    assert snap.as_json() == {**asdict(snap), "state": "receiving"}
