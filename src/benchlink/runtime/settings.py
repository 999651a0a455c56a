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


def _export_folder(section: Mapping[str, Any], source: Path) -> Path | None:
    folder = section.get("folder")
    if folder in (None, ""):
        return None
    if not isinstance(folder, str):
        raise ConfigError(f"{source}: [export].folder must be a path string")
    return Path(folder).expanduser()


def _export_format(section: Mapping[str, Any], source: Path) -> str:
    fmt = str(section.get("format", "csv"))
    if fmt not in ("csv", "hl7"):
        raise ConfigError(f"{source}: [export].format = {fmt!r}: use \"csv\" or \"hl7\"")
    return fmt


def _writer_kind(value: object, source: Path) -> str:
    kind = str(value)
    if kind not in WRITER_KINDS:
        raise ConfigError(f"{source}: [database].writer = {kind!r}: use \"process\" or \"thread\"")
    return kind


def _event_loop(value: object, source: Path | str) -> str:
    choice = str(value)
    if choice not in EVENT_LOOPS:
        raise ConfigError(f"{source}: [serve].event_loop = {choice!r}: use \"auto\", \"uvloop\" or \"asyncio\"")
    return choice


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
    if config_file is None and env.get("BENCHLINK_CONFIG"):
        config_file = Path(env["BENCHLINK_CONFIG"])
    if home is None:
        home = default_home()
        config_file = config_file or Path(platformdirs.user_config_dir("benchlink", "Benchlink")) / "config.toml"
    config_file = config_file or home / "config.toml"
    data: dict[str, Any] = read_toml(config_file) if config_file.exists() else {}
    db_section = data.get("database", {})
    key_file_text = env.get("BENCHLINK_KEY_FILE") or db_section.get("key_file", "")
    settings = Settings(
        home=home.expanduser().resolve(),
        config_file=config_file,
        database_url=database_url or env.get("BENCHLINK_DATABASE_URL") or str(db_section.get("url", "")),
        key_file=Path(key_file_text).expanduser() if key_file_text else None,
        use_keyring=not _as_bool(env.get("BENCHLINK_NO_KEYRING", "0")) and bool(db_section.get("use_keyring", True)),
        devices=parse_devices(data.get("device"), str(config_file)),
        log_level=env.get("BENCHLINK_LOG_LEVEL") or str(data.get("log", {}).get("level", "info")),
        status_port=int(env.get("BENCHLINK_STATUS_PORT") or data.get("status", {}).get("port", 0)),
        export_folder=_export_folder(data.get("export", {}), config_file),
        export_format=_export_format(data.get("export", {}), config_file),
        writer=_writer_kind(env.get("BENCHLINK_WRITER") or db_section.get("writer", "process"), config_file),
        event_loop=(_event_loop(env["BENCHLINK_EVENT_LOOP"], "BENCHLINK_EVENT_LOOP") if env.get("BENCHLINK_EVENT_LOOP")
                    else _event_loop(data.get("serve", {}).get("event_loop", "auto"), config_file)),
    )
    want_demo = demo if demo is not None else _as_bool(env.get("BENCHLINK_DEMO", "0"))
    if want_demo:
        settings = settings.with_demo()
    return settings
