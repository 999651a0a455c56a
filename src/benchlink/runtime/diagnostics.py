"""`benchlink doctor`: health checks an operator or IT can act on, and a support bundle.

Every check is a plain function returning a :class:`Check`. A failed check always carries a
``fix`` phrased as the next thing to do, because the person reading it is at the bench, not in
the code. Checks only look: they never create a key, a database or a port, so running the
doctor cannot change what it is diagnosing. A fresh home (nothing created yet) passes, with a
note that the first start will create what is missing.

The support bundle leaves the site, so it is built on the assumption that anything may carry
PHI or secrets: logs are re-scrubbed line by line even though the logger already redacts, the
configuration is masked key by key, key material is never read into it, and a final guard
refuses to write any member that still contains the database key.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import socket
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlink import __version__
from benchlink.core.redaction import MASK, redact_mapping, scrub_text
from benchlink.runtime.settings import DeviceConfig, Settings

if TYPE_CHECKING:
    from benchlink.runtime.plugins import PluginManager

KEYRING_SERVICE = "benchlink"
KEYRING_USER = "database-key"
#: Results older than the build cannot be "now": a clock before this date is certainly wrong.
EARLIEST_PLAUSIBLE = datetime(2025, 1, 1, tzinfo=UTC)
#: Files in HOME written in the "future" by more than this mean the clock was set back.
CLOCK_SKEW_TOLERANCE = 300.0
#: How much of the newest log the bundle carries (support needs the recent past, not history).
BUNDLE_LOG_LINES = 2000
TCP_PROBE_TIMEOUT = 2.0


class DiagnosticsError(RuntimeError):
    """The bundle could not be written; the message names the file and what to do."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(slots=True)
class DoctorContext:
    """What several checks share: the key (once found) and the plugin manager (built once)."""

    settings: Settings
    key: bytes | None = None
    plugins: PluginManager | None = None
    serial_ports: Callable[[], list[str]] | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- key


def _uses_sqlcipher(settings: Settings) -> bool:
    return not settings.database_url or settings.database_url.startswith("sqlite")


def _parse_key(text: str) -> bytes | None:
    text = text.strip()
    if len(text) != 64:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def keyring_backend_name() -> str:
    """The keyring backend in use, for the report (``fail.Keyring`` means none)."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - any backend may fail to initialise
        return f"unavailable ({type(exc).__name__})"
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def check_key(ctx: DoctorContext) -> Check:
    """Find the database key without creating it (the doctor must not change what it checks)."""
    settings = ctx.settings
    name = "database key"
    if not _uses_sqlcipher(settings):
        return Check(name, True, "not needed: the database is a PostgreSQL server")
    db_exists = settings.database_path.exists()
    if settings.key_file is not None:
        path = Path(settings.key_file)
        if not path.exists():
            if db_exists:
                return Check(name, False,
                             f"key file {path} is missing but the database {settings.database_path} exists",
                             f"restore {path} from your backup of the key (a new key cannot open the "
                             "existing database)")
            parent = next((p for p in [path.parent, *path.parents] if p.exists()), path.parent)
            if not os.access(parent, os.W_OK):
                return Check(name, False, f"key file {path} does not exist and {parent} is not writable",
                             "point BENCHLINK_KEY_FILE at a folder the service account can write")
            return Check(name, True, f"key file {path} will be created (mode 0600) on first start")
        if path.is_dir():
            return Check(name, False, f"key file {path} is a directory, not a key file",
                         "point BENCHLINK_KEY_FILE (or [database] key_file) at the key file itself")
        if os.name == "posix" and path.stat().st_mode & 0o077:
            return Check(name, False, f"key file {path} is readable or writable by other users "
                         f"(mode {path.stat().st_mode & 0o777:04o})", f"run `chmod 600 {path}`")
        try:
            key = _parse_key(path.read_text(encoding="ascii", errors="replace"))
        except OSError as exc:
            return Check(name, False, f"cannot read key file {path}: {exc.strerror}",
                         "run Benchlink as the account that owns the key file, or fix its permissions")
        if key is None:
            return Check(name, False, f"key file {path} does not hold a 256-bit key (64 hex digits)",
                         "restore the original key file; a new key cannot open the existing database")
        ctx.key = key
        return Check(name, True, f"key file {path} (mode 0600, 256-bit key)")
    if not settings.use_keyring:
        return Check(name, False, "the keyring is disabled and no key file is configured",
                     "set BENCHLINK_KEY_FILE=/path/to/benchlink.key (created on first start, mode 0600)")
    backend = keyring_backend_name()
    try:
        import keyring
        import keyring.backends.fail

        if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
            raise RuntimeError("no keyring backend")
        stored = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception as exc:  # noqa: BLE001 - DBus, COM and friends raise anything
        return Check(name, False, f"no usable OS keyring ({backend}: {type(exc).__name__})",
                     "on a service or headless Linux set BENCHLINK_KEY_FILE=/path/to/benchlink.key; on a "
                     "desktop unlock the keyring (Secret Service/KWallet), see Troubleshooting > Keyring on "
                     "Linux")
    if stored is None:
        if db_exists:
            return Check(name, False,
                         f"keyring {backend} has no entry {KEYRING_SERVICE}/{KEYRING_USER} but the "
                         "database exists",
                         "restore the key into the keyring or set BENCHLINK_KEY_FILE to the backed-up "
                         "key file")
        return Check(name, True, f"keyring {backend}: the key will be created on first start")
    key = _parse_key(stored)
    if key is None:
        return Check(name, False, f"keyring entry {KEYRING_SERVICE}/{KEYRING_USER} is not a 256-bit key",
                     "restore the original key; a new key cannot open the existing database")
    ctx.key = key
    return Check(name, True, f"keyring {backend}, entry {KEYRING_SERVICE}/{KEYRING_USER}")


# --------------------------------------------------------------------------- database


def mask_url(url: str) -> str:
    """A database URL fit for a report: password hidden, SQLCipher key literal hidden."""
    if not url:
        return ""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.password is not None:
            parsed = parsed.set(password="***")
        return parsed.render_as_string(hide_password=False)
    except Exception:  # noqa: BLE001 - an unparseable URL is reported, never echoed
        return "<unparseable URL hidden>"


def check_database(ctx: DoctorContext) -> Check:
    from sqlalchemy.exc import SQLAlchemyError

    from benchlink.storage.database import WrongKeyError, open_engine
    from benchlink.storage.migrator import current_revision, head_revision

    settings = ctx.settings
    name = "database"
    if _uses_sqlcipher(settings):
        path = settings.database_path
        if not path.exists():
            return Check(name, True, f"{path} does not exist yet; it is created on first start")
        if ctx.key is None:
            return Check(name, False, f"{path} exists but no key is available to open it",
                         "fix the 'database key' check first")
        try:
            engine = open_engine(None, path=path, key=ctx.key)
        except WrongKeyError:
            return Check(name, False, f"{path} does not open with the configured key",
                         "restore the key file or keyring entry that created this database; Benchlink never "
                         "re-keys or replaces an existing database")
        where = str(path)
    else:
        where = mask_url(settings.database_url)
        try:
            engine = open_engine(settings.database_url)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            return Check(name, False, f"cannot connect to {where}: {type(exc).__name__}",
                         "check the server address, that PostgreSQL is running and accepts this workstation "
                         "(pg_hba.conf), and the user's password")
    try:
        with engine.connect() as conn:
            problems: list[str] = []
            if engine.dialect.name == "sqlite":
                cipher = str(conn.exec_driver_sql("PRAGMA cipher_version").scalar() or "")
                if not cipher:
                    problems.append("the file is not encrypted (no SQLCipher)")
                rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA cipher_integrity_check").fetchall()]
                problems += [f"page HMAC: {r}" for r in rows[:3]]
                check = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").fetchall()]
                if check != ["ok"]:
                    problems += [f"structure: {r}" for r in check[:3]]
        revision = current_revision(engine)
        head = head_revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or type(exc).__name__)
        return Check(name, False, f"{where}: integrity check failed: {reason}",
                     "stop Benchlink, keep a copy of the damaged file, and restore the last backup "
                     "(see Administration > Backups)")
    finally:
        engine.dispose()
    if problems:
        return Check(name, False, f"{where}: integrity check failed: {'; '.join(problems)}",
                     "stop Benchlink, keep a copy of the damaged file, and restore the last backup "
                     "(see Administration > Backups); then replay raw messages received since")
    if revision is None:
        schema = "empty (schema is created on next start)"
    elif revision == head:
        schema = f"schema {revision} (current)"
    else:
        from alembic.script import ScriptDirectory

        from benchlink.storage.migrator import MIGRATIONS_DIR

        known = {s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
        if revision not in known:
            return Check(name, False, f"{where}: schema {revision} is newer than this Benchlink ({head})",
                         "install the Benchlink version that wrote this database "
                         "(downgrades are not supported)")
        schema = f"schema {revision}, upgraded to {head} on next start"
    return Check(name, True, f"{where}: opens, integrity ok, {schema}")


# --------------------------------------------------------------------------- ports


def _serve_status(settings: Settings) -> Mapping[str, Any] | None:
    """The status of a live ``serve`` of this home, or None (stale files do not count)."""
    from benchlink.runtime.engine import read_status

    status = read_status(settings.state_file)
    if not status or not status.get("running"):
        return None
    if time.time() - float(str(status.get("updated", 0))) > 10:
        return None
    return status


def _held_by_serve(status: Mapping[str, Any] | None, device: str) -> bool:
    if status is None:
        return False
    devices = status.get("devices")
    rows = devices if isinstance(devices, list) else []
    return any(isinstance(d, dict) and d.get("name") == device for d in rows)


def _port_check(device: DeviceConfig, status: Mapping[str, Any] | None) -> Check:
    t = device.transport
    name = f"port {device.name}"
    if t.kind == "tcp-server":
        if t.port == 0:
            return Check(name, True, f"{t.host}: port 0, a free port is picked at start")
        with socket.socket(socket.AF_INET6 if ":" in t.host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((t.host, t.port))
            except OSError as exc:
                if _held_by_serve(status, device.name):
                    return Check(name, True, f"{t.host}:{t.port} is held by the running benchlink serve "
                                 f"(pid {status.get('pid') if status else '?'})")
                return Check(name, False, f"cannot listen on {t.host}:{t.port}: {exc.strerror or exc}",
                             f"another program uses port {t.port} (or {t.host} is not an address of this "
                             "PC): stop that program, or choose another port in config.toml and on the "
                             "analyzer")
        return Check(name, True, f"{t.host}:{t.port} is free to listen on")
    if t.kind == "tcp-client":
        try:
            with socket.create_connection((t.host, t.port), timeout=TCP_PROBE_TIMEOUT):
                pass
        except OSError as exc:
            return Check(name, False,
                         f"cannot reach the analyzer at {t.host}:{t.port}: {exc.strerror or exc}",
                         "check the analyzer is on and its LIS/host interface is enabled, the network cable, "
                         "the IP address and port in config.toml, and any firewall between them")
        return Check(name, True, f"analyzer at {t.host}:{t.port} accepts connections")
    return Check(name, True, f"{t.describe()} (checked under serial ports)")


def check_ports(ctx: DoctorContext) -> list[Check]:
    devices = [d for d in ctx.settings.devices if d.enabled and d.transport.kind != "serial"]
    if not devices:
        return [Check("ports", True, "no enabled TCP devices configured")]
    status = _serve_status(ctx.settings)
    return [_port_check(d, status) for d in devices]


def check_serial(ctx: DoctorContext) -> Check:
    from benchlink.transports.serial_port import list_serial_ports

    lister = ctx.serial_ports or list_serial_ports
    try:
        present = lister()
    except Exception as exc:  # noqa: BLE001 - enumerators differ per OS and driver
        present = []
        ctx.notes.append(f"serial port enumeration failed: {type(exc).__name__}")
    wanted = [d for d in ctx.settings.devices if d.enabled and d.transport.kind == "serial"]
    listing = ", ".join(present) or "none"
    if not wanted:
        return Check("serial ports", True, f"no serial devices configured; ports present: {listing}")
    missing = [
        d for d in wanted
        if "://" not in d.transport.device and d.transport.device not in present
        and not Path(d.transport.device).exists()
    ]
    if missing:
        names = ", ".join(f"{d.name} -> {d.transport.device}" for d in missing)
        return Check("serial ports", False, f"missing: {names}; ports present: {listing}",
                     "plug in the USB-serial adapter (and install its driver), or set device = one of the "
                     "ports present in config.toml (Windows: Device Manager > Ports shows the COM number)")
    names = ", ".join(f"{d.name} -> {d.transport.device}" for d in wanted)
    return Check("serial ports", True, f"present: {names}")


# --------------------------------------------------------------------------- plugins


def check_plugins(ctx: DoctorContext) -> list[Check]:
    if ctx.plugins is None:
        from benchlink.runtime.plugins import PluginManager

        ctx.plugins = PluginManager()
    pm = ctx.plugins
    bad = [r for r in pm.records if r.state != "loaded"]
    checks: list[Check] = []
    if bad:
        detail = "; ".join(f"{r.name} {r.version} {r.state}: {r.error}" for r in bad)
        checks.append(Check("plugins", False, detail,
                            "upgrade the failing plugin to one built for this Benchlink, or uninstall it; "
                            "`benchlink plugins` lists every plugin and its error"))
    else:
        names = ", ".join(r.name for r in pm.records)
        checks.append(Check("plugins", True, f"{len(pm.records)} loaded: {names}"))
    drivers = pm.drivers()
    unknown = [d for d in ctx.settings.devices if d.driver not in drivers and not d.driver.endswith(".toml")]
    if unknown:
        names = ", ".join(f"{d.name} -> {d.driver!r}" for d in unknown)
        known = ", ".join(sorted(drivers))
        checks.append(Check("drivers", False, f"no plugin provides the driver of {names}",
                            f"install the vendor plugin, or set driver to one of: {known}"))
    elif ctx.settings.devices:
        checks.append(Check("drivers", True, "every configured device has its driver"))
    return checks


# --------------------------------------------------------------------------- clock


def _newest_mtime(home: Path) -> tuple[float, str]:
    newest, which = 0.0, ""
    candidates: Iterable[Path] = [home / "benchlink.db", home / "benchlink.db-wal", home / "status.json",
                                  *(home / "logs").glob("benchlink.jsonl*")]
    for path in candidates:
        with contextlib.suppress(OSError):
            mtime = path.stat().st_mtime
            if mtime > newest:
                newest, which = mtime, path.name
    return newest, which


def check_clock(ctx: DoctorContext, *, now: float | None = None) -> Check:
    now = time.time() if now is None else now
    name = "clock"
    fix = ("set the date, time and time zone of this PC and turn on network time "
           "(Windows: Settings > Time > Sync now; Linux: `timedatectl set-ntp true`); results are stamped "
           "with this clock when received")
    wall = datetime.fromtimestamp(now, UTC)
    if wall < EARLIEST_PLAUSIBLE:
        return Check(name, False, f"system time {wall:%Y-%m-%d %H:%M} UTC is before this release", fix)
    newest, which = _newest_mtime(ctx.settings.home)
    if newest - now > CLOCK_SKEW_TOLERANCE:
        return Check(name, False,
                     f"{which} was written {newest - now:.0f} s in the future: the clock was set back", fix)
    local = datetime.fromtimestamp(now).astimezone()
    return Check(name, True, f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{local:%z})")


# --------------------------------------------------------------------------- running all


def run_checks(
    settings: Settings,
    *,
    plugins: PluginManager | None = None,
    serial_ports: Callable[[], list[str]] | None = None,
) -> list[Check]:
    """Every check, in the order a person would fix them (key before database, and so on)."""
    ctx = DoctorContext(settings=settings, plugins=plugins, serial_ports=serial_ports)
    checks = [check_key(ctx), check_database(ctx), *check_ports(ctx), check_serial(ctx), *check_plugins(ctx),
              check_clock(ctx)]
    return checks


def format_checks(checks: Sequence[Check]) -> str:
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        lines.append(f"  {'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"        {'':<{width}}  fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks)} checks, {failed} failed" if failed else f"{len(checks)} checks, all passed")
    return "\n".join(lines)


# --------------------------------------------------------------------------- support bundle

_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential")


def _mask_config(value: Any, key: str = "") -> Any:
    """Mask what must not leave the site; paths of key files stay (support needs to see them)."""
    lowered = key.lower()
    if isinstance(value, Mapping):
        return {str(k): _mask_config(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_config(v, key) for v in value]
    if any(word in lowered for word in _SECRET_WORDS):
        return MASK
    if lowered == "url" and isinstance(value, str):
        return mask_url(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _settings_summary(settings: Settings) -> dict[str, Any]:
    data = asdict(settings)
    data["database_url"] = mask_url(settings.database_url)
    return dict(_mask_config(redact_mapping(data)))


def _config_file(settings: Settings) -> dict[str, Any]:
    from benchlink.runtime.settings import ConfigError, read_toml

    if not settings.config_file.exists():
        return {"_note": f"no configuration file at {settings.config_file}"}
    try:
        raw = read_toml(settings.config_file)
    except ConfigError as exc:
        return {"_error": scrub_text(str(exc))}
    return dict(_mask_config(redact_mapping(raw)))


def _versions() -> dict[str, Any]:
    import importlib.metadata as md

    packages = {}
    for dist in ("benchlink", "PySide6-Essentials", "qasync", "pluggy", "pyserial", "SQLAlchemy",
                 "sqlcipher3", "alembic", "keyring", "structlog", "hl7", "platformdirs", "psycopg"):
        try:
            packages[dist] = md.version(dist)
        except md.PackageNotFoundError:
            packages[dist] = ""
    return {
        "benchlink": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "frozen": bool(getattr(sys, "frozen", False)),
        "executable": sys.executable,
        "keyring_backend": keyring_backend_name(),
        "packages": packages,
    }


def _plugin_rows(plugins: PluginManager | None) -> list[dict[str, Any]]:
    if plugins is None:
        return []
    return [{"name": r.name, "version": r.version, "state": r.state, "error": scrub_text(r.error),
             "provides": list(r.provides), "api": r.api} for r in plugins.records]


def _scrub_log_line(line: str) -> str:
    try:
        event = json.loads(line)
    except ValueError:
        return scrub_text(line)
    if isinstance(event, dict):
        return json.dumps(_mask_config(redact_mapping(event)), ensure_ascii=False, default=str)
    return scrub_text(line)


def _recent_log(log_dir: Path, limit: int = BUNDLE_LOG_LINES) -> str:
    """The last ``limit`` lines across the rotated files, oldest first, each scrubbed again."""
    files = sorted(log_dir.glob("benchlink.jsonl*"), key=lambda p: p.stat().st_mtime)
    lines: list[str] = []
    for path in reversed(files):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        lines = text.splitlines()[-(limit - len(lines)):] + lines
        if len(lines) >= limit:
            break
    return "\n".join(_scrub_log_line(line) for line in lines[-limit:]) + ("\n" if lines else "")


def _stall_reports(log_dir: Path, limit: int = 3) -> dict[str, str]:
    """The newest reports of a stop that hung (runtime.stall_report): stacks only, scrubbed anyway."""
    from benchlink.runtime.stall_report import REPORT_GLOB

    try:
        files = sorted(log_dir.glob(REPORT_GLOB), key=lambda p: p.stat().st_mtime)[-limit:]
    except OSError:
        return {}
    reports: dict[str, str] = {}
    for path in files:
        with contextlib.suppress(OSError):
            reports[f"logs/{path.name}"] = scrub_text(path.read_text(encoding="utf-8", errors="replace"))
    return reports


def _device_counters(settings: Settings) -> dict[str, Any]:
    from benchlink.runtime.engine import read_status

    status = read_status(settings.state_file)
    if status is None:
        return {"_note": "no status.json: `benchlink serve` has not run in this home"}
    devices = status.get("devices")
    rows = []
    for d in devices if isinstance(devices, list) else []:
        if isinstance(d, dict):
            keep = ("name", "driver", "transport", "state", "reason", "counters", "last_activity")
            rows.append(redact_mapping({k: d.get(k) for k in keep}))
    return {"pid": status.get("pid"), "updated": status.get("updated"), "running": status.get("running"),
            "devices": rows}


def _secrets_of(settings: Settings, key: bytes | None) -> list[str]:
    """Strings that must never appear in a bundle member, whatever a log or config says."""
    found: list[str] = []
    if key is not None:
        found += [key.hex(), key.hex().upper()]
    if settings.key_file is not None:
        with contextlib.suppress(OSError):
            text = Path(settings.key_file).read_text(encoding="ascii", errors="replace").strip()
            if len(text) >= 16:
                found.append(text)
    with contextlib.suppress(Exception):
        from sqlalchemy.engine import make_url

        password = make_url(settings.database_url).password if settings.database_url else None
        if password and len(str(password)) >= 4:
            found.append(str(password))
    return found


def write_bundle(
    settings: Settings,
    out: Path,
    checks: Sequence[Check],
    *,
    plugins: PluginManager | None = None,
) -> list[str]:
    """Write the support zip; returns the member names. Nothing in it identifies a patient."""
    ctx = DoctorContext(settings=settings)
    check_key(ctx)  # only to know which bytes to guard against; the key itself is never written
    secrets = _secrets_of(settings, ctx.key)
    members: dict[str, str] = {
        "README.txt": (
            f"Benchlink {__version__} support bundle, written {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}.\n"
            "It holds versions, the doctor report, configuration with secrets masked, the recent log with\n"
            "patient data redacted, and device counters. It holds no database, no key and no patient data.\n"
        ),
        "doctor.txt": scrub_text(format_checks(checks)) + "\n",
        "doctor.json": json.dumps([asdict(c) for c in checks], indent=1),
        "versions.json": json.dumps(_versions(), indent=1),
        "settings.json": json.dumps(_settings_summary(settings), indent=1, default=str),
        "config.json": json.dumps(_config_file(settings), indent=1, default=str),
        "plugins.json": json.dumps(_plugin_rows(plugins), indent=1),
        "counters.json": json.dumps(_device_counters(settings), indent=1, default=str),
        "logs/benchlink-recent.jsonl": _recent_log(settings.log_dir),
        **_stall_reports(settings.log_dir),
    }
    for member, text in members.items():
        for secret in secrets:
            if secret and secret in text:
                members[member] = text = text.replace(secret, MASK)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member, text in members.items():
                zf.writestr(member, text)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, out)
    except OSError as exc:
        raise DiagnosticsError(f"cannot write the support bundle {out}: {exc.strerror}; choose a writable "
                               "folder, e.g. --bundle ~/benchlink-support.zip") from exc
    return list(members)
