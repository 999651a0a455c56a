"""Fixtures for storage tests: real SQLCipher files, a real throwaway PostgreSQL, a fake keyring."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import keyring.backend
import pytest
import sqlalchemy

from benchlink.core.model import Result, ResultKind
from benchlink.storage.database import open_engine
from benchlink.storage.store import InboundMessage, Store

KEY = bytes(range(32))
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class DictKeyring(keyring.backend.KeyringBackend):
    """In-memory keyring: tests must never touch the developer's real keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def fake_keyring() -> Iterator[DictKeyring]:
    previous = keyring.get_keyring()
    backend = DictKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


# --------------------------------------------------------------------------- PostgreSQL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]
    return cmd


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Base URL of a private PostgreSQL started for this test session (skips if not installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip(
            "PostgreSQL server binaries not installed (apt-get install postgresql) - postgres params skipped"
        )
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="benchlink-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    data = root / "data"
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


_schema_numbers = itertools.count()


@pytest.fixture(params=["sqlcipher", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    """An empty database of each backend; PostgreSQL gets a fresh schema per test."""
    if request.param == "sqlcipher":
        eng = open_engine(None, path=tmp_path / "benchlink.db", key=KEY)
    else:
        base: str = request.getfixturevalue("postgres_url")
        schema = f"t{next(_schema_numbers)}_{os.getpid()}"
        admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
        eng = open_engine(f"{base}?options=-csearch_path%3D{schema}")
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def store(engine: sqlalchemy.Engine) -> Store:
    s = Store(engine)
    s.migrate()
    return s


def _make_result(sample: str, code: str, value: str = "1.0", **kw: object) -> Result:
    numeric: float | None
    try:
        numeric = float(value)
    except ValueError:
        numeric = None
    kw.setdefault("numeric_value", numeric)
    return Result(sample_id=sample, instrument_code=code, value=value, **kw)  # type: ignore[arg-type]


def _make_message(
    n: int, *, device: str = "xn1000", results: int = 3, minutes: int | None = None, **kw: object
) -> InboundMessage:
    """A distinct message ``n`` with ``results`` results; bytes differ per n."""
    res = tuple(
        _make_result(
            f"S{n:05d}",
            f"T{j}",
            str(n + j / 10),
            patient_id=f"P{n % 7}",
            patient_name=f"Name {n}",
            flags="H" if j == 0 and n % 2 else "",
            kind=ResultKind.QC if n % 10 == 9 else ResultKind.PATIENT,
        )
        for j in range(results)
    )
    data = f"H|\\^&|||{device}|\rP|1||P{n % 7}\rO|1|S{n:05d}\rL|1|N\r".encode()
    return InboundMessage(
        device=device,
        protocol="astm",
        data=data,
        received_at=T0 + timedelta(minutes=n if minutes is None else minutes),
        results=res,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_message() -> object:
    """Factory ``make_message(n, device=..., results=..., minutes=..., **InboundMessage fields)``."""
    return _make_message


@pytest.fixture
def make_result() -> object:
    return _make_result
