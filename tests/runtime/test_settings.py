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
