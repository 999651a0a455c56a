"""The vendor test kit's fixtures (from the installed pytest11 plugin), used as a vendor would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchlink.protocols.astm.link import Role
from benchlink.protocols.astm.link_events import MessageReceived
from benchlink.runtime.plugins import PluginManager
from benchlink.storage.store import ResultFilter
from benchlink.testing.memstore import ingest


def test_pytest11_plugin_is_active(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("benchlink")


def test_link_pair_carries_a_big_single_frame_message_when_tolerated(link_pair: Callable[..., Any],
                                                                     plugin_manager: PluginManager) -> None:
    profile = plugin_manager.simulator_profiles()["mindray-bs240"]
    label, text = profile.message(1, 42)
    assert len(text) > 240
    pair = link_pair(tolerances=profile.tolerances, max_text_per_frame=profile.max_text_per_frame)
    pair.send(Role.INSTRUMENT, text)
    pair.run()
    assert pair.received(Role.HOST) == [text]
    frames = [unit for _, role, unit in pair.transcript if role is Role.INSTRUMENT and unit.startswith(b"\x02")]
    assert len(frames) == 1
    decoded = plugin_manager.driver("mindray-bs240").decode(text, encoding="latin-1")
    assert {r.sample_id for r in decoded.results} == {label}


def test_link_pair_without_the_tolerance_does_not_deliver_an_oversize_frame(link_pair: Callable[..., Any],
                                                                             plugin_manager: PluginManager) -> None:
    profile = plugin_manager.simulator_profiles()["mindray-bs240"]
    _, text = profile.message(2, 42)
    pair = link_pair(max_text_per_frame=profile.max_text_per_frame)
    pair.send(Role.INSTRUMENT, text)
    pair.run(until=120.0)
    assert not pair.of_type(Role.HOST, MessageReceived)


def test_replay_and_memory_store_round_trip(replay: Callable[..., Any], memory_store: Any,
                                            plugin_manager: PluginManager) -> None:
    profile = plugin_manager.simulator_profiles()["sysmex-xn"]
    driver = plugin_manager.driver("sysmex-xn")
    messages = [profile.message(i, 1)[1] for i in range(1, 4)]
    report = replay(driver, b"".join(messages))
    assert not report.failures and len(report.messages) == 3
    assert sorted(report.by_sample()) == ["1", "2", "3"]
    for message in messages:
        assert not ingest(memory_store, "xn-1", driver, message).duplicate
    assert ingest(memory_store, "xn-1", driver, messages[0]).duplicate
    rows = list(memory_store.iter_results(ResultFilter()))
    assert len(rows) == len(report.results)
    assert {row.device for row in rows} == {"xn-1"}


def test_replay_collects_decode_errors_instead_of_raising(replay: Callable[..., Any],
                                                         plugin_manager: PluginManager) -> None:
    report = replay(plugin_manager.driver("hl7"), b"MSH|^~\\&|A|B|||x||QRY^Q02|1|P|2.3.1\r")
    assert report.failures and report.failures[0][0] == 1


def test_corpus_fixture(benchlink_corpus: Path) -> None:
    assert (benchlink_corpus / "SOURCES.md").exists()


def test_driver_conformance_fixture_fails_a_broken_driver(driver_conformance: Callable[..., None]) -> None:
    from benchlink.core.driver import DriverInfo
    from benchlink.drivers.astm_generic import GenericAstmDriver

    class NoName(GenericAstmDriver):
        info = DriverInfo(name="No Name", protocol="astm")

    with pytest.raises(pytest.fail.Exception, match=r"info\.name"):
        driver_conformance(NoName(), [b"H|\\^&\rP|1\rO|1|S1\rR|1|^^^GLU|5\rL|1\r"])
