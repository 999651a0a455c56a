"""The plugin manager: built-ins through hooks, isolation of broken plugins, versions, detection."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchlink.core.driver import DriverInfo
from benchlink.core.hookspecs import PLUGIN_API_VERSION, hookimpl
from benchlink.core.model import Decoded, Result
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.runtime.plugins import PluginManager, api_compatible


class _EchoDriver(GenericAstmDriver):
    info = DriverInfo(name="echo", protocol="astm", sender_patterns=(r"^ECHO-9",))


def _plugin(**hooks: object) -> SimpleNamespace:
    return SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def _good() -> SimpleNamespace:
    return _plugin(benchlink_api_version=lambda: ">=1.0,<2", benchlink_register_drivers=lambda: [_EchoDriver()])


def _state(pm: PluginManager, name: str) -> tuple[str, str]:
    record = next(r for r in pm.records if r.name == name)
    return record.state, record.error


def test_builtins_arrive_through_the_hooks() -> None:
    pm = PluginManager(load_entry_points=False)
    assert {"astm", "hl7"} <= set(pm.drivers())
    assert {"astm", "hl7"} <= set(pm.codecs())
    assert {"csv", "hl7"} <= set(pm.exporters())
    assert {"generic-astm", "generic-hl7"} <= set(pm.simulator_profiles())
    builtin = next(r for r in pm.records if r.name == "benchlink-builtin")
    assert builtin.builtin and builtin.state == "loaded" and "driver:astm" in builtin.provides


def test_a_plugin_raising_in_a_hook_is_disabled_and_the_others_work() -> None:
    def explode() -> list[object]:
        raise RuntimeError("boom in register")

    pm = PluginManager(load_entry_points=False, plugins=[("bad", _plugin(benchlink_register_drivers=explode)),
                                                         ("good", _good())])
    state, error = _state(pm, "bad")
    assert state == "failed" and "benchlink_register_drivers" in error and "boom in register" in error
    assert _state(pm, "good")[0] == "loaded"
    assert "echo" in pm.drivers() and "astm" in pm.drivers()


def test_a_plugin_returning_garbage_is_disabled_with_a_reason() -> None:
    pm = PluginManager(load_entry_points=False, plugins=[("junk", _plugin(benchlink_register_drivers=lambda: ["x"]))])
    state, error = _state(pm, "junk")
    assert state == "failed" and "not a driver" in error


def test_a_plugin_that_fails_to_register_is_reported() -> None:
    # a hookimpl whose arguments the spec does not have: pluggy rejects it on register
    bad = _plugin(benchlink_register_drivers=lambda unexpected: [])
    pm = PluginManager(load_entry_points=False, plugins=[("badsig", bad), ("good", _good())])
    state, error = _state(pm, "badsig")
    assert state == "failed" and error.startswith("register:")
    assert "echo" in pm.drivers()


def test_check_pending_rejects_an_unknown_hook() -> None:
    unknown = _plugin(benchlink_frobnicate=lambda: 1, benchlink_register_drivers=lambda: [_EchoDriver()])
    pm = PluginManager(load_entry_points=False, plugins=[("typo", unknown)])
    state, error = _state(pm, "typo")
    assert state == "failed" and "unknown hook" in error and "benchlink_frobnicate" in error
    assert "echo" not in pm.drivers()


def test_api_version_mismatch_is_reported_not_crashed_on() -> None:
    future = _plugin(benchlink_api_version=lambda: ">=2.0", benchlink_register_drivers=lambda: [_EchoDriver()])
    pm = PluginManager(load_entry_points=False, plugins=[("future", future)])
    state, error = _state(pm, "future")
    assert state == "incompatible" and ">=2.0" in error and PLUGIN_API_VERSION in error
    assert "echo" not in pm.drivers()


@pytest.mark.parametrize(("spec", "ok"), [(">=1.0,<2", True), ("==1.0", True), ("==1", True), (">=1.1", False),
                                          ("<1.0", False), ("!=1.0", False), (">0.9", True)])
def test_api_ranges(spec: str, ok: bool) -> None:
    assert api_compatible(spec, "1.0") is ok


def test_unreadable_api_range_marks_the_plugin_incompatible() -> None:
    pm = PluginManager(load_entry_points=False, plugins=[("odd", _plugin(benchlink_api_version=lambda: "one"))])
    assert _state(pm, "odd")[0] == "incompatible"


def test_a_raising_result_processor_is_disabled_and_results_pass_unchanged() -> None:
    class Upper:
        name = "upper"

        def process(self, device: str, result: Result) -> Result:
            return Result(result.sample_id, result.instrument_code.upper(), result.value)

    class Broken:
        name = "broken"

        def process(self, device: str, result: Result) -> Result:
            raise ZeroDivisionError("bad math")

    pm = PluginManager(load_entry_points=False, plugins=[
        ("broken", _plugin(benchlink_result_processors=lambda: [Broken()])),
        ("upper", _plugin(benchlink_result_processors=lambda: [Upper()])),
    ])
    out = pm.process("dev", Result("S1", "glu", "5.0"))
    assert out.instrument_code == "GLU"
    state, error = _state(pm, "broken")
    assert state == "failed" and "bad math" in error
    assert [p.name for p in pm.processors()] == ["upper"]


def test_the_first_provider_of_a_name_wins_and_the_clash_is_noted() -> None:
    clash = _plugin(benchlink_register_drivers=lambda: [GenericAstmDriver()])
    pm = PluginManager(load_entry_points=False, plugins=[("clash", clash)])
    assert pm.driver("astm") is not None
    assert "already provided by benchlink-builtin" in _state(pm, "clash")[1]


def test_unknown_driver_names_the_installed_ones() -> None:
    pm = PluginManager(load_entry_points=False)
    with pytest.raises(KeyError, match="installed drivers: astm, hl7"):
        pm.driver("nope")


def _distribution(site: Path, dist: str, module: str, source: str) -> None:
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[benchlink]\n{dist} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def test_entry_point_plugins_import_failures_are_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _distribution(tmp_path, "bl-broken-import", "bl_broken_import", "raise ImportError('missing vendor sdk')\n")
    _distribution(tmp_path, "bl-raises-in-hook", "bl_raises_in_hook", """
        from benchlink.core.hookspecs import hookimpl

        @hookimpl
        def benchlink_register_drivers():
            raise ValueError("driver table corrupt")
    """)
    _distribution(tmp_path, "bl-fine", "bl_fine", """
        from benchlink.core.driver import DriverInfo
        from benchlink.core.hookspecs import hookimpl
        from benchlink.drivers.astm_generic import GenericAstmDriver

        class Fine(GenericAstmDriver):
            info = DriverInfo(name="fine", protocol="astm")

        @hookimpl
        def benchlink_api_version():
            return ">=1.0,<2"

        @hookimpl
        def benchlink_register_drivers():
            return [Fine()]
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = PluginManager()
    assert _state(pm, "bl-broken-import")[0] == "failed"
    assert "import: ImportError: missing vendor sdk" in _state(pm, "bl-broken-import")[1]
    assert _state(pm, "bl-raises-in-hook")[0] == "failed"
    assert "driver table corrupt" in _state(pm, "bl-raises-in-hook")[1]
    fine = next(r for r in pm.records if r.name == "bl-fine")
    assert (fine.state, fine.version, fine.api) == ("loaded", "1.2.3", ">=1.0,<2")
    assert "fine" in pm.drivers() and "astm" in pm.drivers()
    for module in ("bl_broken_import", "bl_raises_in_hook", "bl_fine"):
        sys.modules.pop(module, None)


def test_detect_uses_sender_patterns_and_says_why() -> None:
    pm = PluginManager(load_entry_points=False, plugins=[("good", _good())])
    capture = b"H|\\^&|||ECHO-9^2.1|||||||P|1\rP|1\rO|1|S1||^^^GLU\rR|1|^^^GLU|5.0\rL|1|N\r"
    found = pm.detect(capture)
    assert found is not None
    driver, reason = found
    assert driver.info.name == "echo" and "ECHO-9" in reason and "echo" in reason
    other = pm.detect(capture.replace(b"ECHO-9", b"OTHER-1"))
    assert other is not None and other[0].info.name == "astm" and "generic" in other[1]
    hl7 = pm.detect(b"MSH|^~\\&|LAB9|X|||20260101||ORU^R01|1|P|2.5\rOBR|1|S1\rOBX|1|NM|GLU||5|\r")
    assert hl7 is not None and hl7[0].info.name == "hl7"
    assert pm.detect(b"this is not a lab capture at all") is None


def test_decoded_type_is_what_drivers_return() -> None:
    pm = PluginManager(load_entry_points=False)
    decoded = pm.driver("astm").decode(b"H|\\^&\rP|1\rO|1|S1\rR|1|^^^GLU|5.0\rL|1\r", encoding="latin-1")
    assert isinstance(decoded, Decoded) and decoded.results[0].instrument_code == "GLU"
