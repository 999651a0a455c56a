"""The configuration reference (docs/configuration.md), generated from the settings dataclasses.

Keys and defaults come from the dataclasses themselves, so a renamed key or a changed default cannot
leave the manual behind; only the sentences explaining each key live here (or, for the edge limits
and link tolerances, in the ``#:`` comments beside the fields). A key without a sentence makes the
docs test fail, which is the point: a new setting is not finished until an operator can read what
it does. Run ``python docs/gen_reference.py`` to rewrite the page.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from typing import Any

from benchlink.protocols.astm.tolerances import LinkTolerances
from benchlink.runtime.limits import EdgeLimits
from benchlink.runtime.settings import (
    DEVICE_TABLE,
    LOG_LEVELS,
    TABLE_KEYS,
    DeviceConfig,
    Settings,
    TransportConfig,
)


@dataclasses.dataclass(frozen=True, slots=True)
class TomlKey:
    """Where a ``Settings`` field is written in the file, and its environment variable."""

    section: str
    key: str
    env: str
    meaning: str
    default: str = ""


#: Settings fields that are set in the TOML file.
SETTINGS_TOML: Mapping[str, TomlKey] = {
    "database_url": TomlKey(
        "database", "url", "BENCHLINK_DATABASE_URL",
        "SQLAlchemy URL of a shared PostgreSQL server, e.g. `postgresql+psycopg://user@host/benchlink`",
        "*(empty: local SQLCipher file `HOME/benchlink.db`)*"),
    "key_file": TomlKey(
        "database", "key_file", "BENCHLINK_KEY_FILE",
        "file holding the 256-bit database key, for services without a keyring. Created with mode 0600 on "
        "first run, while the database does not exist yet; a key file missing beside an existing database "
        "stops Benchlink (restore it from your backup), it is never replaced by a new key"),
    "use_keyring": TomlKey(
        "database", "use_keyring", "BENCHLINK_NO_KEYRING=1 turns it off",
        "use the OS keyring (Windows Credential Manager, macOS Keychain, Secret Service)"),
    "writer": TomlKey(
        "database", "writer", "BENCHLINK_WRITER",
        "where the single database writer commits: `process` (a child process, so commits use a second CPU "
        "core) or `thread` (inside the main process; an in-memory database always uses it)", "`process`"),
    "event_loop": TomlKey(
        "serve", "event_loop", "BENCHLINK_EVENT_LOOP",
        "asyncio event loop of the engine (`serve`, `simulate` and the GUI's engine thread): `auto` uses "
        "uvloop where it is installed (Linux, macOS) and the standard loop otherwise (Windows); `uvloop` "
        "insists on it; `asyncio` always takes the standard loop", "`auto`"),
    "log_level": TomlKey("log", "level", "BENCHLINK_LOG_LEVEL",
                         ", ".join(f"`{level}`" for level in LOG_LEVELS[:-1]) + f" or `{LOG_LEVELS[-1]}`"),
    "status_port": TomlKey(
        "status", "port", "BENCHLINK_STATUS_PORT",
        "port of the Prometheus `/metrics` endpoint on 127.0.0.1; `0` = off"),
    "export_folder": TomlKey(
        "export", "folder", "",
        "watched folder: every new result is exported into a new file here shortly after it arrives "
        "(files appear whole or not at all; each result once)", "*(empty: off)*"),
    "export_format": TomlKey("export", "format", "", "`csv` or `hl7` for the watched folder", "`csv`"),
}

#: Tables that are not ``Settings`` fields: read by the part that uses them, which checks the values.
#: Each key: (default, meaning).
OTHER_TABLES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "security": {
        "idle_minutes": ("`10`", "minutes without input before the window locks and asks for the password; "
                                 "`0` = never. Env: `BENCHLINK_IDLE_MINUTES`"),
        "min_password_length": ("`10`", "shortest password accepted for new and changed passwords (8 or more)"),
        "max_failures": ("`5`", "wrong passwords in a row before the account is locked (1 or more)"),
        "lockout_minutes": ("`15`", "how long a locked account stays locked; a supervisor can unlock it "
                                    "earlier with `benchlink users unlock NAME`"),
    },
}

#: Settings fields that come from the command line or the environment only.
SETTINGS_ENV_ONLY: Mapping[str, tuple[str, str]] = {
    "home": ("`--home DIR` / `BENCHLINK_HOME`",
             "folder for config.toml, database, key file (if relative), logs, exports"),
    "config_file": ("`--config FILE` / `BENCHLINK_CONFIG`", "another configuration file"),
    "demo": ("`--demo` / `BENCHLINK_DEMO=1`", "add the built-in simulated analyzer on loopback"),
    "devices": ("`[[device]]` tables", "the analyzers; see below"),
}

DEVICE_MEANING: Mapping[str, str] = {
    "name": "unique name shown in every panel and stored with each result",
    "driver": "a registered driver; `benchlink plugins` lists them",
    "enabled": "`false` keeps the device configured but disconnected",
    "profile": "a device profile name (vendor plugins)",
    "encoding": "text encoding of the analyzer's messages (`latin-1`, `cp1252`, `utf-8`); empty means the "
                "protocol default: `latin-1` for ASTM, MSH-18 for HL7",
    "transport": "the `[device.transport]` table below",
    "tolerances": "link-layer leniencies, off unless listed (see *Link tolerances* below)",
    "receive_timeout": "seconds the receiver waits for the next frame before discarding an incomplete "
                       "message (LIS01-A2: 30)",
    "reply_timeout": "seconds a sender waits for ACK/NAK before retrying (LIS01-A2: 15)",
    "download_orders": "when the line is idle, send pending worklist orders for this device unasked "
                       "(LIS01-A2 contention rules apply)",
    "limits": "the `[device.limits]` table below",
}

#: (applies to, meaning) per transport key.
TRANSPORT_MEANING: Mapping[str, tuple[str, str]] = {
    "kind": ("all", "`tcp-server` (the analyzer connects to us), `tcp-client` (we connect to it) or "
                    "`serial`"),
    "host": ("tcp", "interface to listen on, or the analyzer's address. Listening on other interfaces must "
                    "be configured explicitly"),
    "port": ("tcp", "TCP port (`0` picks a free one, useful only for tests and the demo)"),
    "device": ("serial", "port name: `COM3`, `/dev/ttyUSB0`"),
    "baudrate": ("serial", "1200 … 115200"),
    "bytesize": ("serial", "7 or 8"),
    "parity": ("serial", "`N`, `E`, `O`, `M`, `S`"),
    "stopbits": ("serial", "1, 1.5 or 2"),
    "rtscts": ("serial", "hardware flow control"),
    "xonxoff": ("serial", "software flow control"),
    "tls_cert": ("tcp", "our certificate (PEM) for TLS"),
    "tls_key": ("tcp", "the private key of `tls_cert`; its contents are never logged or bundled"),
    "tls_ca": ("tcp", "CA bundle used to verify the peer"),
    "tls_verify": ("tcp", "verify the peer certificate"),
    "allow": ("tcp-server", "peer addresses allowed to connect; empty allows any"),
}

INTRO = """\
# Configuration reference

<!-- Generated from the settings dataclasses by docs/gen_reference.py; edit
     src/benchlink/runtime/settings_doc.py (descriptions) or the dataclasses, not this file. -->

Benchlink reads one TOML file: `HOME/config.toml` when `--home DIR` / `BENCHLINK_HOME` is set,
otherwise the platform's user config folder (`~/.config/benchlink/config.toml` on Linux,
`%LOCALAPPDATA%\\Benchlink\\benchlink\\config.toml` on Windows). `--config FILE` or
`BENCHLINK_CONFIG` names another file.

Precedence: **command line > environment (`BENCHLINK_*`) > file > defaults.**
A mistake in the file stops Benchlink with a message naming the file, the table or device, the key
and the values allowed: an unknown table, an unknown key in a table, and a value outside its allowed
set are all refused, never ignored. The tables are the ones below; plugins have no table of their
own in this file (a vendor device is configured through `[[device]]` `driver`/`profile` and the
plugin's profile files). A file named by `--config FILE` or `BENCHLINK_CONFIG` must exist; only the
default file may be absent (a first start then runs the demo analyzer).
`resources/sample-config.toml` is a commented starting point. `benchlink doctor` checks a
configuration against this machine (ports, serial ports, drivers).
"""

ENV_EXTRA = (
    ("`BENCHLINK_PROFILES`", "extra TOML device profiles: files or folders, separated like `PATH`"),
    ("`BENCHLINK_CORPUS`", "(tests) folder of real analyzer captures, default `../shared/corpus`"),
    ("`PYTHON_KEYRING_BACKEND`", "force a keyring backend (e.g. in the frozen app or in tests)"),
)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, int):
        return f"`{value}`"
    if isinstance(value, tuple | list):
        return "`[]`" if not value else f"`{list(value)}`"
    if value in ("", None):
        return "*(empty)*"
    return f"`{value}`"


def default_of(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        return _cell(field.default)
    if field.default_factory is not dataclasses.MISSING:
        produced = field.default_factory()
        return "" if dataclasses.is_dataclass(produced) else _cell(produced)
    return "*(required)*"


_COMMENT = re.compile(r"^\s*#:\s?(.*)$")
_FIELD = re.compile(r"^\s*(\w+)\s*:")


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment lines written above each field of a dataclass, joined."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        comment = _COMMENT.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        match = _FIELD.match(line)
        if match and pending:
            found[match.group(1)] = " ".join(pending)
        pending = []
    return found


def _documented_table_keys() -> set[tuple[str, str]]:
    return ({(spec.section, spec.key) for spec in SETTINGS_TOML.values()}
            | {(table, key) for table, keys in OTHER_TABLES.items() for key in keys})


def table_gaps() -> list[str]:
    """Keys the loader accepts but the manual does not describe, and keys described but refused.

    ``settings.TABLE_KEYS`` decides what the file may hold; the page is written from this module.
    Both directions matter: an undocumented key is a setting nobody can find, a documented key the
    loader refuses stops every installation that follows the manual.
    """
    accepted = {(table, key) for table, keys in TABLE_KEYS.items() for key in keys}
    documented = _documented_table_keys()
    gaps = [f"[{table}].{key} (accepted, not documented)" for table, key in sorted(accepted - documented)]
    gaps += [f"[{table}].{key} (documented, refused by settings.TABLE_KEYS)" for table, key in
             sorted(documented - accepted)]
    return gaps


def undocumented() -> list[str]:
    """Fields with no description: each one is a gap in the manual (the docs test lists them)."""
    missing = [f"Settings.{f.name}" for f in dataclasses.fields(Settings)
               if f.name not in SETTINGS_TOML and f.name not in SETTINGS_ENV_ONLY]
    missing += [f"DeviceConfig.{f.name}" for f in dataclasses.fields(DeviceConfig)
                if f.name not in DEVICE_MEANING]
    missing += [f"TransportConfig.{f.name}" for f in dataclasses.fields(TransportConfig)
                if f.name not in TRANSPORT_MEANING]
    for cls in (EdgeLimits, LinkTolerances):
        comments = field_comments(cls)
        missing += [f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls) if f.name not in comments]
    return missing + table_gaps()


def _md(text: str) -> str:
    """Turn reST-style double backticks of source comments into Markdown code."""
    return text.replace("``", "`").replace("|", "\\|")


def render_configuration() -> str:
    out = [INTRO]
    settings_fields = {f.name: f for f in dataclasses.fields(Settings)}
    sections: dict[str, list[tuple[str, TomlKey]]] = {}
    for name, spec in SETTINGS_TOML.items():
        if name in settings_fields:
            sections.setdefault(spec.section, []).append((name, spec))
    for section, keys in sections.items():
        out += [f"## `[{section}]`", "", "| key | default | meaning |", "|---|---|---|"]
        for name, spec in keys:
            default = spec.default or default_of(settings_fields[name])
            env = f" Env: `{spec.env}`" if spec.env else ""
            out.append(f"| `{spec.key}` | {default} | {spec.meaning}.{env} |".replace(
                "Env: `BENCHLINK_NO_KEYRING=1 turns it off`", "Env: `BENCHLINK_NO_KEYRING=1` turns it off"))
        out.append("")
    for table, keys in OTHER_TABLES.items():
        out += [f"## `[{table}]`", "", "| key | default | meaning |", "|---|---|---|"]
        out += [f"| `{key}` | {default} | {meaning} |" for key, (default, meaning) in keys.items()]
        out.append("")

    out += [f"## `[[{DEVICE_TABLE}]]` (one table per analyzer)", "", "| key | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(DeviceConfig):
        if f.name in ("transport", "limits"):
            continue
        out.append(f"| `{f.name}` | {default_of(f)} | {DEVICE_MEANING[f.name]} |")
    out.append("")

    out += ["### `[device.transport]`", "", "| key | default | applies to | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(TransportConfig):
        applies, meaning = TRANSPORT_MEANING[f.name]
        out.append(f"| `{f.name}` | {default_of(f)} | {applies} | {meaning} |")
    out.append("")

    limit_notes = field_comments(EdgeLimits)
    out += ["### `[device.limits]`", "",
            "What a broken or hostile peer may cost before it is cut off. Over any limit the peer gets a "
            "clear log entry (`connection dropped: limit exceeded`, with the limit's name) and a dropped "
            "connection; memory stays bounded and the device keeps listening.", "",
            "| key | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(EdgeLimits):
        out.append(f"| `{f.name}` | {default_of(f)} | {_md(limit_notes.get(f.name, ''))} |")
    out.append("")

    tolerance_notes = field_comments(LinkTolerances)
    out += ["### Link tolerances (`tolerances = [...]`)", "",
            "Deviations from LIS01-A2 that real instruments need. Each widens what Benchlink accepts as a "
            "receiver; as a sender it always speaks the strict standard.", "",
            "| name | meaning |", "|---|---|"]
    for f in dataclasses.fields(LinkTolerances):
        out.append(f"| `{f.name}` | {_md(tolerance_notes.get(f.name, ''))} |")
    out.append("")

    out += ["## Command line and environment only", "", "| setting | meaning |", "|---|---|"]
    for f in dataclasses.fields(Settings):
        if f.name in SETTINGS_ENV_ONLY and f.name != "devices":
            where, meaning = SETTINGS_ENV_ONLY[f.name]
            out.append(f"| {where} | {meaning} |")
    for where, meaning in ENV_EXTRA:
        out.append(f"| {where} | {meaning} |")
    out.append("")
    return "\n".join(out)
