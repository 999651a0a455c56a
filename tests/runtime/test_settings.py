from __future__ import annotations

from pathlib import Path

import pytest

from benchlink.runtime.settings import ConfigError, load_settings


def write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_documented_device_format_parses(tmp_path: Path) -> None:
    write(tmp_path, """
[[device]]
name = "chem-1"
driver = "astm"
[device.transport]
kind = "tcp-server"
host = "127.0.0.1"
port = 15000

[[device]]
name = "haem-1"
[device.transport]
kind = "serial"
device = "/dev/ttyUSB0"
baudrate = 19200
parity = "E"
bytesize = 7
""")
    settings = load_settings(home=tmp_path, environ={})
    chem, haem = settings.devices
    assert (chem.name, chem.driver, chem.transport.kind, chem.transport.port) == ("chem-1", "astm", "tcp-server", 15000)
    assert (haem.transport.device, haem.transport.baudrate, haem.transport.parity, haem.transport.bytesize) == (
        "/dev/ttyUSB0", 19200, "E", 7)
    assert settings.database_path == tmp_path.resolve() / "benchlink.db"


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    write(tmp_path, '[database]\nurl = "sqlite:///file.db"\nkey_file = "/from/file"\n')
    from_file = load_settings(home=tmp_path, environ={})
    assert from_file.database_url == "sqlite:///file.db"
    assert from_file.key_file == Path("/from/file")
    env = {"BENCHLINK_DATABASE_URL": "sqlite:///env.db", "BENCHLINK_KEY_FILE": "/from/env"}
    from_env = load_settings(home=tmp_path, environ=env)
    assert from_env.database_url == "sqlite:///env.db" and from_env.key_file == Path("/from/env")
    from_cli = load_settings(home=tmp_path, environ=env, database_url="sqlite:///cli.db")
    assert from_cli.database_url == "sqlite:///cli.db"


def test_home_from_environment(tmp_path: Path) -> None:
    settings = load_settings(environ={"BENCHLINK_HOME": str(tmp_path)})
    assert settings.home == tmp_path.resolve()
    assert settings.config_file == tmp_path / "config.toml"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[device]]\nname = "a"\n[device.transport]\nkind = "usb"\n', "tcp-server, tcp-client, serial"),
        ('[[device]]\nname = "a"\nbogus = 1\n', "unknown key(s) ['bogus']"),
        ('[[device]]\nname = "a"\n[[device]]\nname = "a"\n', "used twice"),
        ('[[device]]\nname = "s"\n[device.transport]\nkind = "serial"\n', "needs device ="),
        ('[[device]]\nname = "s"\n[device.transport]\nkind = "serial"\ndevice="COM3"\nbaudrate=300\n', "1200..115200"),
        ("[[device]\n", "not valid TOML"),
        ('[serve]\nevent_loop = "trio"\n', "[serve].event_loop = 'trio'"),
        ('[log]\nlevel = "loud"\n', "[log].level = 'loud': use one of debug, info, warning, error"),
        ("[log]\nlevel = 3\n", "[log].level = 3"),
        ('[serial]\nport = "COM3"\n', "unknown table [serial]; known tables are [database], [export], [log]"),
        ('level = "debug"\n', "unknown top-level key 'level'"),
        ('log = "debug"\n', "[log] must be a table"),
        ('[log]\nlevle = "info"\n', "[log] unknown key(s) ['levle']; known keys are ['level']"),
        ('[database]\nkeyfile = "/k"\n', "[database] unknown key(s) ['keyfile']"),
        ('[database]\nuse_keyring = "no"\n', "[database].use_keyring = 'no': use true or false"),
        ("[database]\nkey_file = 1\n", "[database].key_file = 1: use a quoted string"),
        ("[status]\nport = 70000\n", "[status].port = 70000"),
        ("[status]\nport = true\n", "[status].port = True"),
        ('[export]\nfolders = "/x"\n', "[export] unknown key(s) ['folders']"),
        ('[security]\nidle_minutes = "ten"\n', "[security].idle_minutes = 'ten': use a number"),
        ("[security]\nidle_minute = 3\n", "[security] unknown key(s) ['idle_minute']"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, environ={})
    assert needle in str(info.value)
    assert "config.toml" in str(info.value)


def test_demo_adds_a_loopback_analyzer(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={}, demo=True)
    (demo,) = settings.devices
    assert demo.name == "demo-analyzer" and demo.transport.host == "127.0.0.1"
    assert settings.with_demo().devices == settings.devices


#: Every key the file may hold, with a valid value. A new key must be added here, or the next test fails.
EVERY_KEY = """
[database]
url = "sqlite:///ignored.db"
key_file = "/srv/benchlink/db.key"
use_keyring = false
writer = "thread"

[serve]
event_loop = "asyncio"

[log]
level = "WARNING"

[status]
port = 9464

[export]
folder = "/srv/exports"
format = "hl7"

[security]
idle_minutes = 0
min_password_length = 12
max_failures = 3
lockout_minutes = 30.5

[[device]]
name = "chem-1"
"""


def test_every_accepted_table_and_key_loads(tmp_path: Path) -> None:
    import tomllib

    from benchlink.runtime.settings import TABLE_KEYS

    data = tomllib.loads(EVERY_KEY)
    assert {t: set(keys) for t, keys in data.items() if t != "device"} == {t: set(k) for t, k in TABLE_KEYS.items()}
    write(tmp_path, EVERY_KEY)
    settings = load_settings(home=tmp_path, environ={})
    assert (settings.log_level, settings.status_port, settings.writer, settings.event_loop) == (
        "warning", 9464, "thread", "asyncio")
    assert settings.use_keyring is False and settings.export_format == "hl7"


def test_sample_config_loads(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "resources" / "sample-config.toml"
    settings = load_settings(home=tmp_path, config_file=sample, environ={})
    assert [d.name for d in settings.devices] == ["chem-1"]


@pytest.mark.parametrize("how", ["argument", "BENCHLINK_CONFIG"])
def test_named_config_file_must_exist(tmp_path: Path, how: str) -> None:
    nope = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        if how == "argument":
            load_settings(home=tmp_path, config_file=nope, environ={})
        else:
            load_settings(home=tmp_path, environ={"BENCHLINK_CONFIG": str(nope)})
    assert str(nope) in str(info.value) and "does not exist" in str(info.value)
    assert ("--config" if how == "argument" else "BENCHLINK_CONFIG") in str(info.value)


def test_default_config_file_may_be_missing(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, environ={})
    assert settings.devices == () and not settings.config_file.exists()


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("BENCHLINK_LOG_LEVEL", "loud", "BENCHLINK_LOG_LEVEL = 'loud': use one of debug, info, warning, error"),
        ("BENCHLINK_STATUS_PORT", "metrics", "BENCHLINK_STATUS_PORT = 'metrics'"),
        ("BENCHLINK_WRITER", "fork", "BENCHLINK_WRITER = 'fork': use one of process, thread"),
    ],
)
def test_bad_environment_values_name_the_variable(tmp_path: Path, variable: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, environ={variable: value})
    assert needle in str(info.value)
