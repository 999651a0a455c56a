"""The conformance suite every driver must pass (built-in, TOML profile or vendor plugin).

Two ways to use it:

* ``check_driver(driver, samples)`` returns a list of problems (empty when conformant);
  the ``driver_conformance`` fixture asserts on it.
* Subclass :class:`DriverConformance` in a test module and provide two fixtures,
  ``driver`` and ``conformance_samples`` (complete messages); every check becomes a test.

What "conformant" means is what the engine relies on: a driver describes itself correctly;
it decodes real messages into well-formed results, deterministically; on bad or huge input it
raises :class:`~benchlink.core.driver.DecodeError` (so the message is quarantined) and
nothing else; it never puts patient data into warnings (they are logged); and when it
supports orders, its answers are valid messages of its protocol naming the queried sample.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import random
import re
import time
from collections.abc import Callable, Sequence

import pytest

from benchlink.core.driver import PROTOCOLS, DecodeError, Driver, DriverInfo, query_replies
from benchlink.core.model import Decoded, HostQuery, OrderRequest, Result, ResultKind
from benchlink.protocols.astm.errors import AstmDecodeError
from benchlink.protocols.astm.records import decode_message
from benchlink.protocols.astm.tolerances import LinkTimers, LinkTolerances
from benchlink.protocols.hl7.errors import Hl7Error
from benchlink.protocols.hl7.message import parse_message

#: A driver must reject (or shrug off) this much junk within :data:`HUGE_INPUT_SECONDS`.
HUGE_INPUT_BYTES = 2 * 1024 * 1024
HUGE_INPUT_SECONDS = 5.0
QUERY_SAMPLE = "CONF-0001"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TOLERANCES = frozenset(f.name for f in dataclasses.fields(LinkTolerances))
_TIMERS = frozenset(f.name for f in dataclasses.fields(LinkTimers))

Check = Callable[[Driver, Sequence[bytes]], list[str]]


def _decode(driver: Driver, data: bytes) -> Decoded:
    return driver.decode(data, encoding=driver.info.encoding or "")


def check_info(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    info = getattr(driver, "info", None)
    if not isinstance(info, DriverInfo):
        return [f"driver.info is {type(info).__name__}, not DriverInfo"]
    problems = []
    if not _NAME.match(info.name):
        problems.append(f"info.name {info.name!r} must be lower-case letters, digits, '-', '_' or '.'")
    if info.protocol not in PROTOCOLS:
        problems.append(f"info.protocol {info.protocol!r} is not one of {PROTOCOLS}")
    problems += [f"info.tolerances names unknown link tolerance {t!r}" for t in info.tolerances if t not in _TOLERANCES]
    problems += [f"info.timers names unknown link timer {t!r}" for t in info.timers if t not in _TIMERS]
    for pattern in info.sender_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            problems.append(f"info.sender_patterns: {pattern!r} is not a regular expression ({exc})")
    if info.encoding:
        try:
            codecs.lookup(info.encoding)
        except LookupError:
            problems.append(f"info.encoding {info.encoding!r} is not a known text encoding")
    return problems


def check_decodes_samples(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    if not samples:
        return ["no conformance samples given: pass at least one complete message with results"]
    problems: list[str] = []
    total = 0
    for n, sample in enumerate(samples, start=1):
        try:
            decoded = _decode(driver, sample)
        except DecodeError as exc:
            problems.append(f"sample {n}: DecodeError on a sample message: {exc}")
            continue
        if not isinstance(decoded, Decoded):
            problems.append(f"sample {n}: decode returned {type(decoded).__name__}, not Decoded")
            continue
        total += len(decoded.results)
        for i, r in enumerate(decoded.results, start=1):
            where = f"sample {n} result {i}"
            if not isinstance(r, Result):
                problems.append(f"{where}: {type(r).__name__} is not a Result")
                continue
            if not r.instrument_code.strip():
                problems.append(f"{where}: empty instrument_code (mapping and storage key on it)")
            if r.instrument_code != r.instrument_code.strip() or r.sample_id != r.sample_id.strip():
                problems.append(f"{where}: instrument_code/sample_id keep padding; trim it")
            if not isinstance(r.kind, ResultKind):
                problems.append(f"{where}: kind {r.kind!r} is not a ResultKind")
            if r.numeric_value is not None and not math.isfinite(r.numeric_value):
                problems.append(f"{where}: numeric_value {r.numeric_value!r} is not finite")
            if r.numeric_value is not None and not r.value.strip():
                problems.append(f"{where}: a number without the value text it came from")
    if total == 0 and not problems:
        problems.append("no sample produced a result; give samples that carry results")
    return problems


def check_deterministic(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    problems = []
    for n, sample in enumerate(samples, start=1):
        try:
            first, second = _decode(driver, sample), _decode(driver, sample)
        except DecodeError:
            continue
        if first != second:
            problems.append(f"sample {n}: two decodes of the same bytes differ (replay must be exact)")
    return problems


def _bad_inputs(samples: Sequence[bytes]) -> list[tuple[str, bytes]]:
    rng = random.Random(1394)
    bad: list[tuple[str, bytes]] = [
        ("empty", b""),
        ("NUL bytes", b"\x00" * 64),
        ("random bytes", bytes(rng.randrange(256) for _ in range(512))),
        ("text that is no message", b"hello, analyzer\r\n"),
    ]
    for n, sample in enumerate(samples[:3], start=1):
        bad.append((f"sample {n} cut in half", sample[: len(sample) // 2]))
        flipped = bytearray(sample)
        for _ in range(max(1, len(flipped) // 50)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        bad.append((f"sample {n} with bytes flipped", bytes(flipped)))
        bad.append((f"sample {n} with fields emptied", re.sub(rb"[^|\r\n]+", b"", sample, count=40)))
    return bad


def check_bad_input(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    problems = []
    for label, data in _bad_inputs(samples):
        try:
            decoded = _decode(driver, data)
        except DecodeError:
            continue
        except Exception as exc:  # noqa: BLE001 - this is exactly what the check looks for
            problems.append(f"{label}: raised {type(exc).__name__}: {exc} (only DecodeError may escape decode)")
            continue
        if not isinstance(decoded, Decoded):
            problems.append(f"{label}: decode returned {type(decoded).__name__}, not Decoded")
    return problems


def check_huge_input(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    seed = samples[0] if samples else b"H|\\^&\r"
    data = (seed * (HUGE_INPUT_BYTES // max(1, len(seed)) + 1))[:HUGE_INPUT_BYTES]
    started = time.perf_counter()
    try:
        _decode(driver, data)
    except DecodeError:
        pass
    except Exception as exc:  # noqa: BLE001 - this is exactly what the check looks for
        return [f"{HUGE_INPUT_BYTES} bytes of repeated messages: raised {type(exc).__name__}: {exc}"]
    elapsed = time.perf_counter() - started
    if elapsed > HUGE_INPUT_SECONDS:
        return [f"{HUGE_INPUT_BYTES} bytes took {elapsed:.1f} s to decode (limit {HUGE_INPUT_SECONDS} s)"]
    return []


def check_no_phi_in_warnings(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    problems = []
    for n, sample in enumerate(samples, start=1):
        try:
            decoded = _decode(driver, sample)
        except DecodeError as exc:
            texts, phi = [str(exc)], set()
        else:
            texts = list(decoded.warnings)
            phi = {v for r in decoded.results for v in (r.patient_name, r.patient_id, r.birth_date) if len(v) >= 3}
            phi |= {part for r in decoded.results for part in r.patient_name.split("^") if len(part) >= 3}
        for text in texts:
            leaked = sorted(v for v in phi if v in text)
            if leaked:
                problems.append(f"sample {n}: a warning repeats patient data ({len(leaked)} value(s)); "
                                "warnings are logged and must not carry PHI")
    return problems


def _parse_reply(protocol: str, data: bytes) -> str:
    if protocol == "astm":
        message = decode_message(data, tolerant=False)
        return "\r".join(r.raw_line(message.delimiters) for r in message.records)
    msg = parse_message(data)
    if not msg.segments or msg.segments[0][0] != "MSH":
        raise Hl7Error("reply does not start with MSH")
    return "\r".join("|".join(seg) for seg in msg.segments)


def check_query_answers(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    if not driver.info.orders:
        return []
    protocol = driver.info.protocol
    query = HostQuery(sample_ids=(QUERY_SAMPLE,), request_id="CONF1")
    orders = [OrderRequest(QUERY_SAMPLE, ("GLU", "CREA"), priority="S")]
    problems = []
    for label, wanted in (("with orders", orders), ("without orders", [])):
        try:
            replies = query_replies(driver, query, wanted, encoding=driver.info.encoding or "")
        except Exception as exc:  # noqa: BLE001 - this is exactly what the check looks for
            problems.append(f"answer {label}: raised {type(exc).__name__}: {exc}")
            continue
        if not replies or not all(isinstance(r, bytes) and r for r in replies):
            problems.append(f"answer {label}: no reply bytes")
            continue
        texts = []
        for reply in replies:
            try:
                texts.append(_parse_reply(protocol, reply))
            except (AstmDecodeError, Hl7Error, ValueError) as exc:
                problems.append(f"answer {label}: not a valid {protocol} message: {exc}")
        if label == "with orders" and texts and not any(QUERY_SAMPLE in t and "GLU" in t for t in texts):
            problems.append(f"answer {label}: the queried sample and its tests are not in the reply")
    return problems


CHECKS: dict[str, Check] = {
    "info": check_info,
    "decodes_samples": check_decodes_samples,
    "deterministic": check_deterministic,
    "bad_input": check_bad_input,
    "huge_input": check_huge_input,
    "no_phi_in_warnings": check_no_phi_in_warnings,
    "query_answers": check_query_answers,
}


def check_driver(driver: Driver, samples: Sequence[bytes]) -> list[str]:
    """Every problem the suite finds, each prefixed with its check's name."""
    problems = []
    for name, check in CHECKS.items():
        problems += [f"[{name}] {p}" for p in check(driver, samples)]
    return problems


def assert_conformant(driver: Driver, samples: Sequence[bytes]) -> None:
    problems = check_driver(driver, samples)
    if problems:
        raise AssertionError(f"driver {driver.info.name!r} is not conformant:\n  " + "\n  ".join(problems))


class DriverConformance:
    """Subclass me in a test module; provide ``driver`` and ``conformance_samples`` fixtures."""

    def _run(self, check: Check, driver: Driver, samples: Sequence[bytes]) -> None:
        problems = check(driver, samples)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    def test_info(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_info, driver, conformance_samples)

    def test_decodes_samples(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_decodes_samples, driver, conformance_samples)

    def test_deterministic(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_deterministic, driver, conformance_samples)

    def test_bad_input_raises_decode_error_only(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_bad_input, driver, conformance_samples)

    def test_huge_input_is_bounded(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_huge_input, driver, conformance_samples)

    def test_no_phi_in_warnings(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_no_phi_in_warnings, driver, conformance_samples)

    def test_query_answers(self, driver: Driver, conformance_samples: Sequence[bytes]) -> None:
        self._run(check_query_answers, driver, conformance_samples)
