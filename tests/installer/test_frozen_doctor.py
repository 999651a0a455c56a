"""The frozen onedir bundle starts and `benchlink doctor` passes inside it, offscreen, with no Python around.

The bundle is built once per test run by installer/build.sh, which skips the build when a bundle made from
the same sources is already in dist/ (the source hash is kept under build/installer/).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = ROOT / "dist" / "benchlink" / ("benchlink.exe" if os.name == "nt" else "benchlink")


@pytest.fixture(scope="session")
def frozen() -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller); cannot build the frozen bundle")
    if os.name == "nt":
        pytest.skip("installer/build.sh is the Linux build; on Windows use installer/build.ps1")
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "installer" / "build.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"bundle build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert EXE.exists(), f"build.sh succeeded but {EXE} is missing"
    return EXE


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BENCHLINK_", "PYTHON")) and k not in {"VIRTUAL_ENV"}}
    env.update(QT_QPA_PLATFORM="offscreen", BENCHLINK_HOME=str(home), BENCHLINK_KEY_FILE=str(home / "db.key"),
               PATH="/usr/bin:/bin")
    return env


def _run(exe: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], env=_env(home), capture_output=True, text=True, timeout=120,
                          cwd=home.parent)


def test_frozen_doctor_passes_offscreen(frozen: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _run(frozen, home, "doctor", "--demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = ("database key", "database", "port demo-analyzer", "serial ports", "plugins", "drivers",
                "clock")
    for name in expected:
        assert f"PASS  {name}" in proc.stdout, proc.stdout
    assert "all passed" in proc.stdout


def test_frozen_bundle_carries_plugins_migrations_and_sqlcipher(frozen: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # creating the database runs the alembic migrations shipped as source inside the bundle
    assert _run(frozen, home, "results").returncode == 0
    proc = _run(frozen, home, "doctor", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert "integrity ok" in checks["database"]["detail"] and "(current)" in checks["database"]["detail"]
    raw = (home / "benchlink.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3\x00"), "the frozen app wrote a plaintext database"
    vendor_plugins = sorted(p.name for p in (ROOT / "plugins").glob("benchlink-*") if (p / "src").is_dir())
    for name in vendor_plugins:
        assert name in checks["plugins"]["detail"], f"{name} missing from the frozen bundle"
    bundle = tmp_path / "support.zip"
    proc = _run(frozen, home, "doctor", "--bundle", str(bundle))
    assert proc.returncode == 0 and bundle.exists()
    import zipfile

    versions = json.loads(zipfile.ZipFile(bundle).read("versions.json"))
    assert versions["frozen"] is True
    # the runtime hook chose a backend explicitly (fail.Keyring on a headless box), never an import error
    assert versions["keyring_backend"].startswith("keyring.backends.")


def test_frozen_serve_commits_through_its_writer_child(frozen: Path, tmp_path: Path) -> None:
    """The bundle re-runs itself as the database writer's child process (no Python around):
    serve must start that child, commit what simulate sends, and stop cleanly."""
    home = tmp_path / "home"
    home.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (home / "config.toml").write_text(
        f'[[device]]\nname = "an1"\ndriver = "astm"\n[device.transport]\nkind = "tcp-server"\n'
        f'host = "127.0.0.1"\nport = {port}\n', encoding="utf-8")
    serve = subprocess.Popen([str(frozen), "serve"], env=_env(home), cwd=home.parent,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sim = _run(frozen, home, "simulate", "--connect", f"127.0.0.1:{port}", "--count", "3", "--seed", "3")
            if sim.returncode == 0:
                break
            time.sleep(0.5)
        assert sim.returncode == 0, sim.stdout + sim.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=60)
    assert serve.returncode == 0 and "stopped cleanly" in err, err
    listing = _run(frozen, home, "results", "--json")
    assert listing.returncode == 0, listing.stderr
    assert len([line for line in listing.stdout.splitlines() if line.strip()]) >= 3
