"""The plugin template works as shipped: its tests pass and its plugin module loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "plugins" / "template"


def test_template_layout_is_copyable() -> None:
    assert (TEMPLATE / "pyproject.toml.template").exists()
    assert not (TEMPLATE / "pyproject.toml").exists(), "make would install the template"
    assert 'acme = "benchlink_acme.plugin"' in (TEMPLATE / "pyproject.toml.template").read_text()


def test_template_tests_pass(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(TEMPLATE / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
         "--rootdir", str(TEMPLATE), "-c", os.devnull, str(TEMPLATE / "tests")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "9 passed" in proc.stdout


def test_template_plugin_registers() -> None:
    sys.path.insert(0, str(TEMPLATE / "src"))
    try:
        from benchlink_acme import plugin

        from benchlink.runtime.plugins import PluginManager

        pm = PluginManager(load_entry_points=False, plugins=[("benchlink-acme", plugin)])
        assert "acme-ac100" in pm.drivers() and "acme-ac100" in pm.simulator_profiles()
        label, text = pm.simulator_profiles()["acme-ac100"].message(3, 1)
        found = pm.detect(text)
        assert found is not None and found[0].info.name == "acme-ac100"
        assert {r.sample_id for r in found[0].decode(text, encoding="latin-1").results} == {label}
    finally:
        sys.path.remove(str(TEMPLATE / "src"))
        for name in [m for m in sys.modules if m.startswith("benchlink_acme")]:
            del sys.modules[name]
