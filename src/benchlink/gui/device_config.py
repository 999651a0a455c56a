"""Device forms to DeviceConfig and back, field by field, and config.toml written atomically.

Kept free of Qt: the Add/Edit dialog only shows what `validate_device` says, so the rules the
operator sees inline are the rules the engine would apply on the next start. The file is
rewritten through a temp file and `os.replace`, so a crash mid-save leaves the old file whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from benchlink.protocols.astm.tolerances import LinkTolerances
from benchlink.runtime.limits import EdgeLimits
from benchlink.runtime.settings import (
    TRANSPORT_KINDS,
    ConfigError,
    DeviceConfig,
    TransportConfig,
    parse_devices,
    read_toml,
)

TOLERANCE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(LinkTolerances))
PARITIES: tuple[str, ...] = ("N", "E", "O", "M", "S")
BYTESIZES: tuple[int, ...] = (5, 6, 7, 8)
STOPBITS: tuple[float, ...] = (1, 1.5, 2)
BAUDRATES: tuple[int, ...] = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")


@dataclass(frozen=True, slots=True)
class DeviceForm:
    """What the dialog holds, as plain text and flags (exactly what the widgets show)."""

    name: str = ""
    driver: str = "astm"
    enabled: bool = True
    kind: str = "tcp-server"
    host: str = "0.0.0.0"
    port: str = "5000"
    serial_device: str = ""
    baudrate: str = "9600"
    bytesize: str = "8"
    parity: str = "N"
    stopbits: str = "1"
    rtscts: bool = False
    xonxoff: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_verify: bool = True
    tolerances: tuple[str, ...] = ()
    receive_timeout: str = "30"
    reply_timeout: str = "15"
    download_orders: bool = False


def form_from_config(config: DeviceConfig) -> DeviceForm:
    t = config.transport
    return DeviceForm(
        name=config.name, driver=config.driver, enabled=config.enabled, kind=t.kind, host=t.host,
        port=str(t.port), serial_device=t.device, baudrate=str(t.baudrate), bytesize=str(t.bytesize),
        parity=t.parity, stopbits=f"{t.stopbits:g}", rtscts=t.rtscts, xonxoff=t.xonxoff,
        tls_cert=t.tls_cert, tls_key=t.tls_key, tls_ca=t.tls_ca, tls_verify=t.tls_verify,
        tolerances=tuple(config.tolerances), receive_timeout=f"{config.receive_timeout:g}",
        reply_timeout=f"{config.reply_timeout:g}", download_orders=config.download_orders,
    )


def _number(errors: dict[str, str], key: str, text: str, cast: type, low: float, high: float,
            what: str) -> Any:
    try:
        value = cast(text.strip())
    except ValueError:
        errors[key] = f"{what} must be a number"
        return None
    if not low <= value <= high:
        errors[key] = f"{what} must be between {low:g} and {high:g}"
        return None
    return value


_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def _clash_with_others(errors: dict[str, str], form: DeviceForm, port: int, others: Sequence[DeviceConfig]) -> None:
    """A listening port or serial port another device already uses: saved, the device only errored."""
    host = form.host.strip()
    for other in others:
        t = other.transport
        if form.kind == "tcp-server" and t.kind == "tcp-server" and port and t.port == port and (
                host == t.host or host in _ANY_ADDRESS or t.host in _ANY_ADDRESS):
            errors.setdefault("port", f"Port {port} is already used by {other.name}; choose another")
        if form.kind == "serial" and t.kind == "serial" and form.serial_device.strip() == t.device:
            errors.setdefault("serial_device", f"{t.device} is already used by {other.name}")


def validate_device(
    form: DeviceForm,
    *,
    drivers: Sequence[str],
    taken_names: Sequence[str] = (),
    base: DeviceConfig | None = None,
    others: Sequence[DeviceConfig] = (),
) -> tuple[DeviceConfig | None, dict[str, str]]:
    """(config, {}) when the form is valid, else (None, {field: what to fix}).

    `base` is the device being edited: settings the form does not show (profile, encoding, edge
    limits) are carried over from it unchanged.
    """
    errors: dict[str, str] = {}
    name = form.name.strip()
    if not name:
        errors["name"] = "Give the device a name, e.g. cobas-c311"
    elif not _NAME.fullmatch(name):
        errors["name"] = "Use letters, digits, space, '.', '_' or '-' (at most 64)"
    elif name in taken_names:
        errors["name"] = f"A device named {name!r} already exists"
    if form.driver not in drivers and not form.driver.endswith(".toml"):
        errors["driver"] = f"Unknown driver {form.driver!r}; choose one of {', '.join(sorted(drivers))}"
    if form.kind not in TRANSPORT_KINDS:
        errors["kind"] = f"Choose one of {', '.join(TRANSPORT_KINDS)}"
    port = 0
    baud, bytesize, stopbits = 9600, 8, 1.0
    if form.kind == "serial":
        if not form.serial_device.strip():
            errors["serial_device"] = "Pick the serial port the analyzer is cabled to (COM3, /dev/ttyUSB0)"
        baud = _number(errors, "baudrate", form.baudrate, int, 1200, 115200, "Baud rate") or 9600
        bytesize = _number(errors, "bytesize", form.bytesize, int, 5, 8, "Data bits") or 8
        if form.parity not in PARITIES:
            errors["parity"] = "Parity is one of N, E, O, M, S"
        try:
            stopbits = float(form.stopbits)
        except ValueError:
            stopbits = 0.0
        if stopbits not in STOPBITS:
            errors["stopbits"] = "Stop bits are 1, 1.5 or 2"
    elif form.kind in TRANSPORT_KINDS:
        if not form.host.strip():
            errors["host"] = ("Enter the address to listen on (0.0.0.0 = every interface)"
                              if form.kind == "tcp-server" else "Enter the analyzer's host name or IP address")
        port = _number(errors, "port", form.port, int, 1, 65535, "Port") or 0
        for key, text in (("tls_cert", form.tls_cert), ("tls_key", form.tls_key), ("tls_ca", form.tls_ca)):
            if text.strip() and not Path(text.strip()).expanduser().is_file():
                errors[key] = f"No such file: {text.strip()}"
        if form.tls_key.strip() and not form.tls_cert.strip():
            errors["tls_cert"] = "A private key needs its certificate"
        if form.kind == "tcp-server" and form.tls_ca.strip() and not form.tls_cert.strip():
            errors["tls_cert"] = "A TLS server needs its own certificate and key"
    _clash_with_others(errors, form, port, others)
    unknown = [t for t in form.tolerances if t not in TOLERANCE_NAMES]
    if unknown:
        errors["tolerances"] = f"Unknown tolerance(s): {', '.join(unknown)}"
    receive = _number(errors, "receive_timeout", form.receive_timeout, float, 1, 3600, "Receive timeout")
    reply = _number(errors, "reply_timeout", form.reply_timeout, float, 1, 3600, "Reply timeout")
    if errors:
        return None, errors
    transport = TransportConfig(
        kind=form.kind, host=form.host.strip(), port=port, device=form.serial_device.strip(),
        baudrate=baud, bytesize=bytesize, parity=form.parity, stopbits=stopbits, rtscts=form.rtscts,
        xonxoff=form.xonxoff, tls_cert=form.tls_cert.strip(), tls_key=form.tls_key.strip(),
        tls_ca=form.tls_ca.strip(), tls_verify=form.tls_verify,
        allow=base.transport.allow if base is not None else (),
    )
    template = base if base is not None else DeviceConfig(name=name)
    config = replace(
        template, name=name, driver=form.driver, enabled=form.enabled, transport=transport,
        tolerances=tuple(t for t in TOLERANCE_NAMES if t in form.tolerances),
        receive_timeout=float(receive), reply_timeout=float(reply), download_orders=form.download_orders,
    )
    try:  # the loader is the final judge: what we save must load on the next start
        parse_devices([device_to_toml(config)], "form")
    except ConfigError as exc:
        return None, {"form": str(exc)}
    return config, {}


def _differs(value: Any, default: Any) -> bool:
    return bool(value != default)


def device_to_toml(config: DeviceConfig) -> dict[str, Any]:
    """Only what differs from the defaults, so the file stays short and readable."""
    out: dict[str, Any] = {"name": config.name, "driver": config.driver}
    defaults = DeviceConfig(name=config.name)
    for key in ("enabled", "profile", "encoding", "receive_timeout", "reply_timeout", "download_orders"):
        value = getattr(config, key)
        if _differs(value, getattr(defaults, key)):
            out[key] = value
    if config.tolerances:
        out["tolerances"] = list(config.tolerances)
    transport: dict[str, Any] = {"kind": config.transport.kind}
    plain = TransportConfig()
    for f in fields(TransportConfig):
        if f.name == "kind":
            continue
        value = getattr(config.transport, f.name)
        if _differs(value, getattr(plain, f.name)):
            transport[f.name] = list(value) if isinstance(value, tuple) else value
    if config.transport.kind != "serial":
        transport.setdefault("host", config.transport.host)
        transport.setdefault("port", config.transport.port)
    out["transport"] = transport
    limits = {f.name: getattr(config.limits, f.name) for f in fields(EdgeLimits)
              if getattr(config.limits, f.name) != getattr(EdgeLimits(), f.name)}
    if limits:
        out["limits"] = limits
    return out


# --------------------------------------------------------------------------- TOML writing
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    for code in range(0x20):
        escaped = escaped.replace(chr(code), f"\\u{code:04x}")
    escaped = escaped.replace(chr(0x7F), "\\u007f")
    return f'"{escaped}"'


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else "nan"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_scalar(v)}" for k, v in value.items()) + " }"
    raise ConfigError(f"cannot write {type(value).__name__} values to config.toml")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit_table(lines: list[str], path: list[str], table: Mapping[str, Any], header: str | None) -> None:
    if header is not None:
        lines.append("")
        lines.append(header)
    nested = []
    for key, value in table.items():
        if isinstance(value, Mapping) or _is_table_array(value):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_scalar(value)}")
    for key, value in nested:
        sub = [*path, _key(key)]
        if isinstance(value, Mapping):
            _emit_table(lines, sub, value, f"[{'.'.join(sub)}]")
        else:
            for item in value:
                _emit_table(lines, sub, item, f"[[{'.'.join(sub)}]]")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """A small TOML writer for config.toml's shapes (tables, arrays of tables, scalars, lists)."""
    lines: list[str] = []
    _emit_table(lines, [], data, None)
    return "\n".join(lines).lstrip("\n") + "\n"


def write_config_atomically(path: Path, data: Mapping[str, Any]) -> None:
    text = dumps_toml(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def save_device(path: Path, config: DeviceConfig, *, previous_name: str | None = None) -> None:
    """Insert or replace one [[device]] in config.toml, keeping every other device and section.

    Comments in the file are not kept (TOML readers drop them); every value is.
    """
    data: dict[str, Any] = read_toml(path) if path.exists() else {}
    devices = [dict(d) for d in data.get("device", []) if isinstance(d, Mapping)]
    replace_name = previous_name or config.name
    entry = device_to_toml(config)
    for index, existing in enumerate(devices):
        if existing.get("name") == replace_name:
            devices[index] = entry
            break
    else:
        devices.append(entry)
    data["device"] = devices
    parse_devices(devices, str(path))  # never write a file the next start would refuse
    write_config_atomically(path, data)
