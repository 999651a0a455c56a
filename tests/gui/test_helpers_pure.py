"""The Qt-free rules behind the panels: wire text, device validation, config.toml writing, dates."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from benchlink.gui.date_range import local_midnight, preset_range
from benchlink.gui.device_config import DeviceForm, dumps_toml, form_from_config, save_device, validate_device
from benchlink.gui.wire_text import hex_dump, show_controls
from benchlink.runtime.settings import load_settings

DRIVERS = ("astm", "hl7")


def test_control_characters_are_named_like_a_line_analyser() -> None:
    frame = b"\x021H|\\^&|||cobas\r\x0353\r\n"
    assert show_controls(frame) == "<STX>1H|\\^&|||cobas<CR><ETX>53<CR><LF>"
    assert show_controls(b"\x05\x06\x15\x04\x17") == "<ENQ><ACK><NAK><EOT><ETB>"
    assert show_controls(b"\x0bMSH|\x1c\r") == "<VT>MSH|<FS><CR>"
    assert show_controls("é".encode("latin-1")) == "<E9>"
    assert show_controls(b"A\rB\r\nC", line_breaks=True) == "A<CR>\nB<CR><LF>\nC"
    assert show_controls(b"x" * 10, limit=4) == "xxxx… (6 more bytes not shown)"
    assert hex_dump(b"\x02AB") == "00000000  " + "02 41 42".ljust(47) + "  .AB"


def test_validation_names_each_bad_field() -> None:
    config, errors = validate_device(DeviceForm(name="", port="99999", host=""), drivers=DRIVERS)
    assert config is None
    assert set(errors) == {"name", "port", "host"}
    assert "between 1 and 65535" in errors["port"]
    _, errors = validate_device(DeviceForm(name="cobas", driver="nope"), drivers=DRIVERS, taken_names=["x"])
    assert "Unknown driver" in errors["driver"]
    _, errors = validate_device(DeviceForm(name="x"), drivers=DRIVERS, taken_names=["x"])
    assert "already exists" in errors["name"]
    _, errors = validate_device(DeviceForm(name="s", kind="serial", serial_device="", baudrate="300", parity="Q"),
                                drivers=DRIVERS)
    assert set(errors) == {"serial_device", "baudrate", "parity"}
    _, errors = validate_device(DeviceForm(name="t", tls_cert="/no/such.pem", tls_key="/no/key.pem"),
                                drivers=DRIVERS)
    assert errors["tls_cert"].startswith("No such file") and errors["tls_key"].startswith("No such file")


def test_a_port_or_serial_line_another_device_uses_is_refused_by_name() -> None:
    chem, _ = validate_device(DeviceForm(name="chem-1", host="0.0.0.0", port="15000"), drivers=DRIVERS)
    haem, _ = validate_device(DeviceForm(name="haem-1", kind="serial", serial_device="/dev/ttyUSB0"), drivers=DRIVERS)
    assert chem is not None and haem is not None
    _, errors = validate_device(DeviceForm(name="new", host="127.0.0.1", port="15000"), drivers=DRIVERS,
                                others=[chem, haem])
    assert errors == {"port": "Port 15000 is already used by chem-1; choose another"}
    _, errors = validate_device(DeviceForm(name="new", kind="serial", serial_device="/dev/ttyUSB0"), drivers=DRIVERS,
                                others=[chem, haem])
    assert errors == {"serial_device": "/dev/ttyUSB0 is already used by haem-1"}
    ok, errors = validate_device(DeviceForm(name="new", host="0.0.0.0", port="15001"), drivers=DRIVERS,
                                 others=[chem, haem])
    assert ok is not None and errors == {}


def test_a_valid_form_becomes_a_config_with_only_known_tolerances() -> None:
    form = DeviceForm(name="c311", driver="astm", host="0.0.0.0", port="5001",
                      tolerances=("oversize_frames", "lowercase_checksum"), receive_timeout="45")
    config, errors = validate_device(form, drivers=DRIVERS)
    assert errors == {} and config is not None
    assert config.transport.port == 5001 and config.receive_timeout == 45.0
    assert config.tolerances == ("lowercase_checksum", "oversize_frames")  # canonical order
    assert form_from_config(config).tolerances == config.tolerances


def test_save_device_keeps_other_sections_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[security]\nidle_minutes = 5\n\n[[device]]\nname = "old"\ndriver = "hl7"\n'
                    '[device.transport]\nkind = "tcp-client"\nhost = "10.0.0.9"\nport = 2575\n', encoding="utf-8")
    config, _ = validate_device(DeviceForm(name="xn lab", kind="serial", serial_device="COM3", baudrate="19200",
                                           parity="E", bytesize="7", tolerances=("cr_only_line_ends",)),
                                drivers=DRIVERS)
    assert config is not None
    save_device(path, config)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["security"] == {"idle_minutes": 5}
    settings = load_settings(home=tmp_path, config_file=path, environ={})
    assert [d.name for d in settings.devices] == ["old", "xn lab"]
    loaded = settings.devices[1]
    assert loaded == config
    # Editing under a new name replaces the old entry instead of adding a second one.
    renamed, _ = validate_device(replace(form_from_config(loaded), name="xn-1"), drivers=DRIVERS)
    assert renamed is not None
    save_device(path, renamed, previous_name="xn lab")
    names = [d.name for d in load_settings(home=tmp_path, config_file=path, environ={}).devices]
    assert names == ["old", "xn-1"]
    assert not list(tmp_path.glob(".config.toml.*"))  # no temp file left behind


def test_toml_writer_escapes_strings() -> None:
    text = dumps_toml({"a": 'q"\\\n\x01', "t": {"n": 1.5, "b": True, "l": ["x", 2]}})
    assert tomllib.loads(text) == {"a": 'q"\\\n\x01', "t": {"n": 1.5, "b": True, "l": ["x", 2]}}


@pytest.mark.parametrize(
    ("preset", "since_days", "until_days"),
    [("Any time", None, None), ("Today", 0, None), ("Yesterday", -1, 0), ("Last 7 days", -6, None)],
)
def test_date_presets_are_half_open_local_days(preset: str, since_days: int | None, until_days: int | None) -> None:
    today = date(2024, 3, 10)
    since, until = preset_range(preset, today)
    assert since == (None if since_days is None else local_midnight(today + timedelta(days=since_days)))
    assert until == (None if until_days is None else local_midnight(today + timedelta(days=until_days)))
    between = preset_range("Between…", today, date(2024, 3, 5), date(2024, 3, 1))
    assert between == (local_midnight(date(2024, 3, 1)), local_midnight(date(2024, 3, 6)))


def test_tab_leaves_a_table_instead_of_walking_its_cells(qapp: object) -> None:
    from PySide6.QtGui import QStandardItemModel
    from PySide6.QtWidgets import QWidget

    from benchlink.gui.widgets import make_table

    parent = QWidget()
    table = make_table(parent, "t", "T", QStandardItemModel(3, 3))
    assert not table.tabKeyNavigation()
