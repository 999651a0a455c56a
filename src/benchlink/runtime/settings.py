"""Configuration: one typed model, four sources.

Precedence is command line > environment (``BENCHLINK_*``) > TOML file > defaults. Every key is
described in ``docs/configuration.md``; errors name the file and the key so an operator can fix them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from benchlink.runtime.limits import EdgeLimits, parse_limits

TRANSPORT_KINDS = ("tcp-server", "tcp-client", "serial")
DEMO_PORT = 15999


WRITER_KINDS = ("process", "thread")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")  # runtime.event_loop resolves them
LOG_LEVELS = ("debug", "info", "warning", "error")  # runtime.logging_setup maps them
EXPORT_FORMATS = ("csv", "hl7")

#: Every table of config.toml besides ``[[device]]`` and the keys it may hold. The file is checked
#: against this before anything is used, so a typo stops Benchlink instead of quietly leaving a
#: default in force. ``[security]`` is read by ``runtime.auth_service`` (which checks its values);
#: it is listed here so that it is checked at every start. Plugins have no tables in this file:
#: they configure devices through ``[[device]]`` (``driver``, ``profile``) and their own profile files.
TABLE_KEYS: Mapping[str, frozenset[str]] = {
    "database": frozenset({"url", "key_file", "use_keyring", "writer"}),
    "serve": frozenset({"event_loop"}),
    "log": frozenset({"level"}),
    "status": frozenset({"port"}),
    "export": frozenset({"folder", "format"}),
    "security": frozenset({"idle_minutes", "min_password_length", "max_failures", "lockout_minutes"}),
}
DEVICE_TABLE = "device"


class ConfigError(ValueError):
    """A configuration problem, phrased for the person who has to edit the file."""


@dataclass(frozen=True, slots=True)
class TransportConfig:
    kind: str = "tcp-server"
    host: str = "127.0.0.1"
    port: int = 0
    device: str = ""
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_verify: bool = True
    allow: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "serial":
            return f"serial {self.device} {self.baudrate} {self.bytesize}{self.parity}{self.stopbits:g}"
        verb = "listen" if self.kind == "tcp-server" else "connect"
        return f"tcp {verb} {self.host}:{self.port}" + (" tls" if self.tls_cert or self.tls_ca else "")


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    name: str
    driver: str = "astm"
    enabled: bool = True
    profile: str = ""
    encoding: str = ""  # "" = the protocol's default: latin-1 for ASTM, MSH-18 for HL7
    transport: TransportConfig = field(default_factory=TransportConfig)
    tolerances: tuple[str, ...] = ()
    receive_timeout: float = 30.0
    reply_timeout: float = 15.0
    download_orders: bool = False
    limits: EdgeLimits = field(default_factory=EdgeLimits)


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    config_file: Path
    database_url: str = ""
    key_file: Path | None = None
    use_keyring: bool = True
    devices: tuple[DeviceConfig, ...] = ()
    demo: bool = False
    log_level: str = "info"
    status_port: int = 0
    export_folder: Path | None = None
    export_format: str = "csv"
    writer: str = "process"
    event_loop: str = "auto"

    @property
    def database_path(self) -> Path:
        return self.home / "benchlink.db"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def export_dir(self) -> Path:
        return self.home / "exports"

    @property
    def state_file(self) -> Path:
        """Where a running ``serve`` publishes device status for ``benchlink status``."""
        return self.home / "status.json"

    def with_demo(self) -> Settings:
        """Add the built-in simulated analyzer on loopback (a newcomer sees results at once)."""
        if any(d.name == "demo-analyzer" for d in self.devices):
            return replace(self, demo=True)
        demo = DeviceConfig(
            name="demo-analyzer",
            driver="astm",
            transport=TransportConfig(kind="tcp-server", host="127.0.0.1", port=DEMO_PORT),
        )
        return replace(self, demo=True, devices=(*self.devices, demo))


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("benchlink", "Benchlink"))


def _as_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _transport(raw: Mapping[str, Any], where: str) -> TransportConfig:
    known = set(TransportConfig.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known keys are {sorted(known)}")
    kind = str(raw.get("kind", "tcp-server"))
    if kind not in TRANSPORT_KINDS:
        raise ConfigError(f"{where}.kind = {kind!r}: use one of {', '.join(TRANSPORT_KINDS)}")
    values: dict[str, Any] = dict(raw)
    if "allow" in values:
        values["allow"] = tuple(str(a) for a in values["allow"])
    try:
        transport = TransportConfig(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    if kind == "serial" and not transport.device:
        raise ConfigError(f"{where}: a serial transport needs device = \"COM3\" or \"/dev/ttyUSB0\"")
    if kind != "serial" and not 0 <= int(transport.port) <= 65535:
        raise ConfigError(f"{where}.port = {transport.port}: use a TCP port between 1 and 65535")
    if kind == "serial" and not 1200 <= transport.baudrate <= 115200:
        raise ConfigError(f"{where}.baudrate = {transport.baudrate}: use 1200..115200")
    return transport


def parse_devices(raw: Any, source: str) -> tuple[DeviceConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: 'device' must be an array of tables, written [[device]]")
    devices: list[DeviceConfig] = []
    names: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"{source}: device[{index}]"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ConfigError(f"{where}: every [[device]] needs name = \"...\"")
        name = str(entry["name"])
        if name in names:
            raise ConfigError(f"{where}: device name {name!r} is used twice; names must be unique")
        names.add(name)
        known = set(DeviceConfig.__dataclass_fields__)
        unknown = set(entry) - known
        if unknown:
            raise ConfigError(f"{where} ({name}): unknown key(s) {sorted(unknown)}; known keys are {sorted(known)}")
        transport = _transport(entry.get("transport", {}), f"{where}.transport")
        devices.append(
            DeviceConfig(
                name=name,
                driver=str(entry.get("driver", "astm")),
                enabled=bool(entry.get("enabled", True)),
                profile=str(entry.get("profile", "")),
                encoding=str(entry.get("encoding", "")),
                transport=transport,
                tolerances=tuple(str(t) for t in entry.get("tolerances", ())),
                receive_timeout=float(entry.get("receive_timeout", 30.0)),
                reply_timeout=float(entry.get("reply_timeout", 15.0)),
                download_orders=bool(entry.get("download_orders", False)),
                limits=parse_limits(entry.get("limits", {}), f"{where} ({name}).limits"),
            )
        )
    return tuple(devices)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the line it names") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}); check the path and its permissions") from exc


def _known_tables() -> str:
    return ", ".join(f"[{name}]" for name in sorted(TABLE_KEYS)) + f", [[{DEVICE_TABLE}]]"


def check_tables(data: Mapping[str, Any], source: Path) -> None:
    """Refuse unknown tables and keys: a misspelt setting would otherwise be ignored without a word."""
    for name, value in data.items():
        if name == DEVICE_TABLE:
            continue  # parse_devices checks every device, its transport and its limits
        if name not in TABLE_KEYS:
            what = f"table [{name}]" if isinstance(value, dict) else f"top-level key {name!r}"
            raise ConfigError(f"{source}: unknown {what}; known tables are {_known_tables()} "
                              "(see docs/configuration.md)")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table (a line [{name}] followed by key = value lines)")
        unknown = set(value) - TABLE_KEYS[name]
        if unknown:
            raise ConfigError(f"{source}: [{name}] unknown key(s) {sorted(unknown)}; "
                              f"known keys are {sorted(TABLE_KEYS[name])}")


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = data.get(name, {})
    return section if isinstance(section, dict) else {}


def _string(section: Mapping[str, Any], table: str, key: str, source: Path) -> str:
    value = section.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{source}: [{table}].{key} = {value!r}: use a quoted string")
    return value


def _flag(section: Mapping[str, Any], table: str, key: str, default: bool, source: Path) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{source}: [{table}].{key} = {value!r}: use true or false (without quotes)")
    return value


def _choice(value: object, where: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed``; ``where`` names the table and key, or the environment variable."""
    choice = str(value).strip().lower() if isinstance(value, str) else value
    if choice not in allowed:
        raise ConfigError(f"{where} = {value!r}: use one of {', '.join(allowed)}")
    return str(choice)


def _port(value: object, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise ConfigError(f"{where} = {value!r}: use a TCP port between 1 and 65535, or 0 for off")
    return value


def _check_security_values(section: Mapping[str, Any], source: Path) -> None:
    """Only the type here; the ranges belong to the security policy (runtime.auth_service)."""
    for key, value in section.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{source}: [security].{key} = {value!r}: use a number")


def _export_folder(section: Mapping[str, Any], source: Path) -> Path | None:
    folder = section.get("folder")
    if folder in (None, ""):
        return None
    if not isinstance(folder, str):
        raise ConfigError(f"{source}: [export].folder must be a path string")
    return Path(folder).expanduser()


def _export_format(section: Mapping[str, Any], source: Path) -> str:
    return _choice(section.get("format", "csv"), f"{source}: [export].format", EXPORT_FORMATS)


def _env_or_file(env: Mapping[str, str], var: str, data: Mapping[str, Any], table: str, key: str,
                 default: object, source: Path) -> tuple[object, str]:
    """The raw value and where it came from, so that an error names the variable or the file's key."""
    if env.get(var):
        return env[var], var
    return _section(data, table).get(key, default), f"{source}: [{table}].{key}"


def _config_path(home: Path | None, config_file: Path | None, env: Mapping[str, str]) -> tuple[Path, str]:
    """The config file and who chose it: ``""`` for the default location, which may be absent."""
    if config_file is not None:
        return config_file, "--config"
    if env.get("BENCHLINK_CONFIG"):
        return Path(env["BENCHLINK_CONFIG"]), "BENCHLINK_CONFIG"
    if home is None:
        return Path(platformdirs.user_config_dir("benchlink", "Benchlink")) / "config.toml", ""
    return home / "config.toml", ""


def _read_config(path: Path, chosen_by: str) -> dict[str, Any]:
    """A missing default file is a first start; a missing file someone named is a mistake (a typo in
    a service definition would otherwise run the demo analyzer instead of the lab's devices)."""
    if not path.exists():
        if chosen_by:
            raise ConfigError(f"{path}: configuration file given by {chosen_by} does not exist; fix the path, "
                              f"or leave out {chosen_by} to use the default HOME/config.toml")
        return {}
    data = read_toml(path)
    check_tables(data, path)
    return data


def load_settings(
    *,
    home: Path | None = None,
    config_file: Path | None = None,
    demo: bool | None = None,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the four sources; arguments left as None fall through to the next source."""
    env = os.environ if environ is None else environ
    home = home or (Path(env["BENCHLINK_HOME"]) if env.get("BENCHLINK_HOME") else None)
    config_file, chosen_by = _config_path(home, config_file, env)
    home = home or default_home()
    data = _read_config(config_file, chosen_by)
    db_section = _section(data, "database")
    _check_security_values(_section(data, "security"), config_file)
    key_file_text = env.get("BENCHLINK_KEY_FILE") or _string(db_section, "database", "key_file", config_file)
    file_url = _string(db_section, "database", "url", config_file)
    keyring_on = _flag(db_section, "database", "use_keyring", True, config_file)

    def pick(var: str, table: str, key: str, default: object) -> tuple[object, str]:
        return _env_or_file(env, var, data, table, key, default, config_file)

    settings = Settings(
        home=home.expanduser().resolve(),
        config_file=config_file,
        database_url=database_url or env.get("BENCHLINK_DATABASE_URL") or file_url,
        key_file=Path(key_file_text).expanduser() if key_file_text else None,
        use_keyring=keyring_on and not _as_bool(env.get("BENCHLINK_NO_KEYRING", "0")),
        devices=parse_devices(data.get(DEVICE_TABLE), str(config_file)),
        log_level=_choice(*pick("BENCHLINK_LOG_LEVEL", "log", "level", "info"), LOG_LEVELS),
        status_port=_port(*pick("BENCHLINK_STATUS_PORT", "status", "port", 0)),
        export_folder=_export_folder(_section(data, "export"), config_file),
        export_format=_export_format(_section(data, "export"), config_file),
        writer=_choice(*pick("BENCHLINK_WRITER", "database", "writer", "process"), WRITER_KINDS),
        event_loop=_choice(*pick("BENCHLINK_EVENT_LOOP", "serve", "event_loop", "auto"), EVENT_LOOPS),
    )
    want_demo = demo if demo is not None else _as_bool(env.get("BENCHLINK_DEMO", "0"))
    if want_demo:
        settings = settings.with_demo()
    return settings
