"""Declarative device profiles: a TOML file instead of a Python driver.

Many analyzers only differ from the standard in *where* they put things and which link
quirks they need. A profile says exactly that, and is validated up front with errors that
name the file, the line and the key, so an integrator fixes a typo before a device goes live.
The format is documented in ``docs/plugins.md`` ("Device profiles in TOML").
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlink.core.driver import DecodeError, DriverInfo
from benchlink.core.model import Decoded, HostQuery, OrderRequest, Result, ResultKind
from benchlink.core.values import parse_numeric
from benchlink.drivers.astm_generic import GenericAstmDriver
from benchlink.drivers.hl7_generic import GenericHl7Driver
from benchlink.protocols.astm.errors import AstmDecodeError
from benchlink.protocols.astm.records import Delimiters, OrderView, PatientView, Record, ResultView
from benchlink.protocols.astm.records import parse_timestamp as parse_astm_timestamp
from benchlink.protocols.astm.tolerances import LinkTimers, LinkTolerances
from benchlink.protocols.hl7.message import Hl7Message, Segment
from benchlink.protocols.hl7.observations import message_kind, parse_timestamp

#: Profiles are small; a bigger file is a mistake (or not a profile).
MAX_PROFILE_BYTES = 256 * 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ASTM_SPEC = re.compile(r"^([HPORQCML])\.(\d{1,2})(?:\.(\d{1,2}))?$")
_HL7_SPEC = re.compile(r"^([A-Z][A-Z0-9]{2})[.-](\d{1,3})(?:\.(\d{1,2}))?$")

_TABLES: dict[str, frozenset[str]] = {
    "device": frozenset({"name", "protocol", "vendor", "models", "description", "sender_patterns", "encoding"}),
    "delimiters": frozenset({"field", "repeat", "component", "escape"}),
    "tolerances": frozenset(f.name for f in dataclasses.fields(LinkTolerances)),
    "timers": frozenset(f.name for f in dataclasses.fields(LinkTimers)),
    "transport": frozenset({"kind", "baudrate", "bytesize", "parity", "stopbits", "port", "host", "tls"}),
    "fields": frozenset({"sample_id", "test_code", "test_name", "value", "units", "reference_range",
                         "flags", "status", "patient_id", "observed_at"}),
    "qc": frozenset({"sample_id_prefixes"}),
    "test_codes": frozenset(),  # any key: an instrument code
    "orders": frozenset({"supported", "test_id"}),
}
#: Which record (ASTM) or segment (HL7) each field key may point into.
_FIELD_RECORDS: dict[str, dict[str, frozenset[str]]] = {
    "astm": {"sample_id": frozenset("O"), "patient_id": frozenset("P"),
             **{k: frozenset("R") for k in ("test_code", "test_name", "value", "units", "reference_range",
                                            "flags", "status", "observed_at")}},
    "hl7": {"sample_id": frozenset({"OBR", "SPM", "ORC"}), "patient_id": frozenset({"PID"}),
            **{k: frozenset({"OBX"}) for k in ("test_code", "test_name", "value", "units", "reference_range",
                                               "flags", "status", "observed_at")}},
}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    key: str
    message: str


class ProfileError(ValueError):
    """A profile is invalid; ``problems`` name each line and key, ``str()`` lists them all."""

    def __init__(self, path: str, problems: Sequence[Problem]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}:{p.line}: {p.key}: {p.message}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """``R.3.4`` -> record R, field 3, component 4 (component 0: the whole field)."""

    record: str
    field: int
    component: int = 0

    @classmethod
    def parse(cls, text: str, protocol: str) -> FieldSpec | None:
        match = (_ASTM_SPEC if protocol == "astm" else _HL7_SPEC).match(text.strip())
        if match is None:
            return None
        return cls(match.group(1), int(match.group(2)), int(match.group(3) or 0))


@dataclass(frozen=True, slots=True)
class TestCode:
    code: str
    name: str = ""


@dataclass(frozen=True)
class Profile:
    """A validated profile (what the TOML says, typed)."""

    path: str
    info: DriverInfo
    fields: Mapping[str, tuple[FieldSpec, ...]]
    test_codes: Mapping[str, TestCode] = field(default_factory=dict)
    qc_prefixes: tuple[str, ...] = ()
    delimiters: Delimiters = field(default_factory=Delimiters)
    order_test_id: str = "^^^{code}"


# --------------------------------------------------------------------------- locating lines


class _Lines:
    """Find the line of a table or key in the TOML text (tomllib gives no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def of(self, table: str, key: str | None = None) -> int:
        header = re.compile(r"^\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?$")
        start = None
        for number, line in enumerate(self.lines, start=1):
            if header.match(line):
                start = number
                break
        if start is None:
            return 1
        if key is None:
            return start
        pattern = re.compile(r"""^\s*(?:"|')?""" + re.escape(key) + r"""(?:"|')?\s*[=.]""")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if re.match(r"^\s*\[", line):
                break
            if pattern.match(line):
                return number
        return start


# --------------------------------------------------------------------------- validation


class _Checker:
    def __init__(self, text: str) -> None:
        self.where = _Lines(text)
        self.problems: list[Problem] = []

    def fail(self, table: str, key: str | None, message: str) -> None:
        name = f"{table}.{key}" if key is not None else f"[{table}]"
        self.problems.append(Problem(self.where.of(table, key), name, message))

    def string(self, table: str, values: Mapping[str, Any], key: str, *, required: bool = False) -> str:
        value = values.get(key)
        if value is None:
            if required:
                self.fail(table, None, f"missing required key {key!r}")
            return ""
        if not isinstance(value, str):
            self.fail(table, key, f"must be a string, got {type(value).__name__}")
            return ""
        return value

    def strings(self, table: str, values: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = values.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(table, key, "must be a string or a list of strings")
            return ()
        return tuple(value)


def parse_profile(text: str, path: str = "<profile>") -> Profile:
    """Validate profile text; raise :class:`ProfileError` naming every bad line and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise ProfileError(path, [Problem(int(match.group(1)) if match else 1, "toml", f"not valid TOML: {exc}")]) \
            from exc
    check = _Checker(text)
    for table, body in data.items():
        if table not in _TABLES:
            line = check.where.of(table)
            check.problems.append(Problem(line, f"[{table}]", f"unknown table; expected one of {sorted(_TABLES)}"))
            continue
        if not isinstance(body, dict):
            check.problems.append(Problem(1, table, "must be a table ([" + table + "])"))
            continue
        allowed = _TABLES[table]
        if allowed:
            for key in body:
                if key not in allowed:
                    check.fail(table, key, f"unknown key; expected one of {sorted(allowed)}")
    device = data.get("device")
    if not isinstance(device, dict):
        check.problems.append(Problem(1, "[device]", "missing the [device] table (name and protocol)"))
        raise ProfileError(path, check.problems)

    name = check.string("device", device, "name", required=True)
    if name and not _NAME.match(name):
        check.fail("device", "name", "use lower-case letters, digits, '-', '_' or '.', like 'acme-chem'")
    protocol = check.string("device", device, "protocol", required=True)
    if protocol and protocol not in ("astm", "hl7"):
        check.fail("device", "protocol", f"must be 'astm' or 'hl7', got {protocol!r}")
        protocol = ""
    encoding = check.string("device", device, "encoding")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            check.fail("device", "encoding", f"unknown text encoding {encoding!r} (try 'latin-1' or 'utf-8')")
    patterns = check.strings("device", device, "sender_patterns")
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            check.fail("device", "sender_patterns", f"{pattern!r} is not a regular expression: {exc}")

    tolerances = _section(data, "tolerances")
    enabled: list[str] = []
    for key, value in tolerances.items():
        if key in _TABLES["tolerances"]:
            if not isinstance(value, bool):
                check.fail("tolerances", key, "must be true or false")
            elif value:
                enabled.append(key)
    timers: dict[str, float] = {}
    for key, value in _section(data, "timers").items():
        if key in _TABLES["timers"]:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                check.fail("timers", key, "must be a positive number of seconds (or count)")
            else:
                timers[key] = value
    transport = {k: v for k, v in _section(data, "transport").items() if k in _TABLES["transport"]}

    delimiters = Delimiters()
    delims = _section(data, "delimiters")
    if delims:
        if protocol == "hl7":
            check.fail("delimiters", None, "HL7 declares its separators in MSH-1/MSH-2; remove this table")
        chars = {k: check.string("delimiters", delims, k) for k in ("field", "repeat", "component", "escape")}
        try:
            delimiters = Delimiters(**{k: v or getattr(Delimiters(), k) for k, v in chars.items()})
        except AstmDecodeError as exc:
            check.fail("delimiters", next(iter(delims)), str(exc))

    specs: dict[str, tuple[FieldSpec, ...]] = {}
    for key, value in _section(data, "fields").items():
        if key not in _TABLES["fields"] or not protocol:
            continue
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            check.fail("fields", key, "must be a position like 'R.3.4' or a list of them (first non-empty wins)")
            continue
        parsed: list[FieldSpec] = []
        for text_spec in texts:
            spec = FieldSpec.parse(text_spec, protocol)
            allowed_records = _FIELD_RECORDS[protocol][key]
            if spec is None:
                example = "R.3.4 (record.field.component)"
                if protocol == "hl7":
                    example = "OBX.3.1 (segment.field.component)"
                check.fail("fields", key, f"{text_spec!r} is not a position; write it like {example}")
            elif spec.record not in allowed_records:
                check.fail("fields", key, f"{text_spec!r}: {key} is read from {'/'.join(sorted(allowed_records))}, "
                                          f"not {spec.record}")
            elif spec.field < 1:
                check.fail("fields", key, f"{text_spec!r}: fields are numbered from 1")
            else:
                parsed.append(spec)
        specs[key] = tuple(parsed)

    codes: dict[str, TestCode] = {}
    for key, value in _section(data, "test_codes").items():
        if isinstance(value, str) and value:
            codes[key] = TestCode(value)
        elif isinstance(value, dict) and isinstance(value.get("code"), str) and value["code"] \
                and isinstance(value.get("name", ""), str) and set(value) <= {"code", "name"}:
            codes[key] = TestCode(value["code"], value.get("name", ""))
        else:
            check.fail("test_codes", key, 'must be a code string or { code = "...", name = "..." }')

    qc = _section(data, "qc")
    qc_prefixes = check.strings("qc", qc, "sample_id_prefixes") if qc else ()
    orders = _section(data, "orders")
    supported = orders.get("supported", protocol == "astm" and bool(orders))
    if not isinstance(supported, bool):
        check.fail("orders", "supported", "must be true or false")
        supported = False
    test_id = check.string("orders", orders, "test_id") if orders else ""
    if test_id and "{code}" not in test_id:
        check.fail("orders", "test_id", "must contain {code}, e.g. '^^^{code}'")

    if check.problems:
        raise ProfileError(path, check.problems)
    info = DriverInfo(
        name=name,
        protocol=protocol,
        description=check.string("device", device, "description") or f"TOML profile {Path(path).name}",
        vendor=check.string("device", device, "vendor"),
        models=check.strings("device", device, "models"),
        tolerances=tuple(enabled),
        timers=timers,
        transport=transport,
        encoding=encoding,
        sender_patterns=patterns,
        orders=bool(supported),
    )
    return Profile(path=path, info=info, fields=specs, test_codes=codes, qc_prefixes=qc_prefixes,
                   delimiters=delimiters, order_test_id=test_id or "^^^{code}")


def _section(data: Mapping[str, Any], table: str) -> Mapping[str, Any]:
    body = data.get(table, {})
    return body if isinstance(body, dict) else {}


def load_profile(path: Path | str) -> ProfileDriver:
    """Read, validate and build the driver of one profile file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(str(path), [Problem(0, "file", f"cannot read the profile: {exc.strerror}")]) from exc
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(str(path), [Problem(0, "file", f"larger than {MAX_PROFILE_BYTES} bytes; not a profile")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(str(path), [Problem(0, "file", "TOML files must be UTF-8")]) from exc
    return profile_driver(parse_profile(text, str(path)))


def profile_driver(profile: Profile) -> ProfileDriver:
    if profile.info.protocol == "astm":
        return AstmProfileDriver(profile)
    return Hl7ProfileDriver(profile)


# --------------------------------------------------------------------------- the drivers


def _astm_read(record: Record, spec: FieldSpec, delims: Delimiters) -> str:
    if spec.component == 0:
        return record.text(spec.field, delims).strip()
    comps = record.components(spec.field, delims)
    return comps[spec.component - 1].strip() if spec.component <= len(comps) else ""


def _mapped(profile: Profile, code: str, name: str) -> tuple[str, str]:
    mapped = profile.test_codes.get(code)
    if mapped is None:
        return code, name
    return mapped.code, mapped.name or name


class AstmProfileDriver(GenericAstmDriver):
    """The generic ASTM driver reading the positions a profile names."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.info = profile.info

    def _first(self, key: str, record: Record, delims: Delimiters) -> str | None:
        specs = self.profile.fields.get(key)
        if not specs:
            return None
        for spec in specs:
            if record.type == spec.record:
                text = _astm_read(record, spec, delims)
                if text:
                    return text
        return ""

    def sample_id(self, order: OrderView) -> str:
        found = self._first("sample_id", order.record, order.delimiters)
        return order.sample_id if found is None else found

    def order_kind(self, order: OrderView) -> ResultKind:
        sid = self.sample_id(order).upper()
        if any(sid.startswith(p.upper()) for p in self.profile.qc_prefixes):
            return ResultKind.QC
        return super().order_kind(order)

    def test_code(self, result: ResultView) -> tuple[str, str]:
        code = self._first("test_code", result.record, result.delimiters)
        name = self._first("test_name", result.record, result.delimiters)
        return _mapped(self.profile, result.code if code is None else code, name or "")

    def result_value(self, result: ResultView) -> str:
        found = self._first("value", result.record, result.delimiters)
        return result.value if found is None else found

    def result_details(self, result: ResultView) -> dict[str, str | datetime | None]:
        details = super().result_details(result)
        for key in ("units", "reference_range", "flags", "status"):
            found = self._first(key, result.record, result.delimiters)
            if found is not None:
                details[key] = found
        stamp = self._first("observed_at", result.record, result.delimiters)
        if stamp is not None:
            details["observed_at"] = parse_astm_timestamp(stamp)
        return details

    def patient_id(self, patient: PatientView) -> str:
        found = self._first("patient_id", patient.record, patient.delimiters)
        return super().patient_id(patient) if found is None else found

    def order_test(self, code: str) -> list[str]:
        return self.profile.order_test_id.format(code=code).split("^")

    def answer_query(self, query: HostQuery, orders: list[OrderRequest], *, encoding: str = "latin-1") -> bytes:
        if not self.info.orders:
            raise DecodeError(f"profile {self.info.name!r} does not support orders ([orders] supported = false)")
        return super().answer_query(query, orders, encoding=encoding)

    def decode(self, data: bytes, *, encoding: str = "latin-1") -> Decoded:
        return super().decode(data, encoding=self.info.encoding or encoding)


class Hl7ProfileDriver(GenericHl7Driver):
    """HL7 results read from the positions a profile names (OBX.5, OBR.3 ...)."""

    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self.profile = profile
        self.info = profile.info

    def _read(self, msg: Hl7Message, seg: Segment, key: str, default: str) -> str:
        specs = self.profile.fields.get(key)
        if not specs:
            return default
        for spec in specs:
            if seg[0] != spec.record:
                continue
            text = msg.value(seg, spec.field, max(spec.component, 1)) if spec.component else msg.text(seg, spec.field)
            if text.strip():
                return text.strip()
        return ""

    def to_domain(self, msg: Hl7Message) -> Decoded:
        kind = msg.message_type.split(msg.separators.component)[0] if msg.message_type else ""
        if kind == "QRY" or not self.profile.fields:
            return super().to_domain(msg)
        results: list[Result] = []
        sample = patient = ""
        obr_time = ""
        result_kind = ResultKind(message_kind(msg))
        for seg in msg.segments:
            name = seg[0]
            if name == "PID":
                patient = self._read(msg, seg, "patient_id", msg.value(seg, 3) or msg.value(seg, 2))
            elif name in ("OBR", "SPM", "ORC"):
                default = (msg.value(seg, 3) or msg.value(seg, 2)) if name == "OBR" else ""
                found = self._read(msg, seg, "sample_id", default)
                if found:
                    sample = found
                if name == "OBR":
                    obr_time = msg.value(seg, 7)
            elif name == "OBX":
                if msg.value(seg, 2) in ("ED", "RP"):
                    continue
                code = self._read(msg, seg, "test_code", msg.value(seg, 3, 1).strip())
                test_name = self._read(msg, seg, "test_name", msg.value(seg, 3, 2).strip())
                code, test_name = _mapped(self.profile, code, test_name)
                value = self._read(msg, seg, "value", msg.text(seg, 5))
                number, comparator = parse_numeric(value) if value else (None, "")
                results.append(Result(
                    sample_id=sample, instrument_code=code, value=value, patient_id=patient,
                    test_name=test_name, numeric_value=number, comparator=comparator,
                    units=self._read(msg, seg, "units", msg.value(seg, 6, 1)),
                    reference_range=self._read(msg, seg, "reference_range", msg.text(seg, 7)),
                    flags=self._read(msg, seg, "flags", msg.value(seg, 8, 1)),
                    status=self._read(msg, seg, "status", msg.value(seg, 11)),
                    observed_at=parse_timestamp(self._read(msg, seg, "observed_at", msg.value(seg, 14) or obr_time)),
                    instrument=msg.sending_application, kind=result_kind,
                ))
        return Decoded(results=tuple(results), sender=msg.sending_application)


ProfileDriver = AstmProfileDriver | Hl7ProfileDriver
