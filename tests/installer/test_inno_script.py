"""The Windows installer script says what the issue asks of it. Inno Setup only runs on Windows, so this
checks the script's directives against the bundle the spec produces; the Windows build itself is
documented in installer/README.md and docs/admin-guide.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ISS = (ROOT / "installer" / "benchlink.iss").read_text(encoding="utf-8")
SPEC = (ROOT / "installer" / "benchlink.spec").read_text(encoding="utf-8")


def _directive(name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", ISS, re.MULTILINE)
    assert match, f"{name} missing from benchlink.iss"
    return match.group(1).strip()


def test_per_user_install_without_admin_rights() -> None:
    assert _directive("PrivilegesRequired") == "lowest"
    assert _directive("DefaultDirName").startswith("{autopf}")  # %LOCALAPPDATA%\Programs when per-user


def test_installs_the_bundle_the_spec_builds_and_shortcuts_point_into_it() -> None:
    assert re.search(r'COLLECT\(.*name="benchlink"\)', SPEC), "the onedir folder must be dist/benchlink"
    assert re.search(r'EXE\(.*name="benchlinkw", console=False', SPEC), "windowed exe for the shortcut"
    assert r'Source: "{#BundleDir}\*"' in ISS and r'#define BundleDir "..\dist\benchlink"' in ISS
    start_menu = [line for line in ISS.splitlines() if line.startswith('Name: "{group}\\{#AppName}";')]
    assert start_menu and r"{app}\benchlinkw.exe" in start_menu[0]


def test_capture_files_are_associated_per_user() -> None:
    assert _directive("ChangesAssociations") == "yes"
    assoc = [line for line in ISS.splitlines() if line.startswith("Root: HKA") and ".astm" in line]
    assert assoc, "no .astm association"
    command = next(line for line in ISS.splitlines() if "shell\\open\\command" in line)
    assert "decode" in command and "%1" in command


def test_uninstaller_keeps_data_unless_asked() -> None:
    code = ISS[ISS.index("[Code]"):]
    assert "MB_DEFBUTTON2" in code, "the default answer must be No (keep the data)"
    assert "{param:PURGEDATA|0}" in code, "a silent uninstall must keep data unless /PURGEDATA=1"
    purge = code.index("DelTree")
    assert "if ShouldPurgeData() then" in code[:purge]
    assert "[UninstallDelete]" not in ISS, "no unconditional deletion of the data folder"


def test_spec_has_the_collection_flags_stack_md_asks_for() -> None:
    assert 'collect_all(package)' in SPEC and '"hl7apy"' in SPEC
    assert 'collect_submodules("serial.urlhandler")' in SPEC
    assert "rthook_keyring.py" in SPEC
    hook = (ROOT / "installer" / "rthook_keyring.py").read_text(encoding="utf-8")
    assert "keyring.set_keyring(" in hook and "PYTHON_KEYRING_BACKEND" in hook
