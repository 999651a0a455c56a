"""Declarative TOML device profiles: they decode, and bad ones say file, line and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchlink.drivers.profile import ProfileError, load_profile, parse_profile
from benchlink.runtime.plugins import PluginManager
from benchlink.testing.conformance import check_driver
from benchlink.testing.replay import replay_capture

CORPUS = Path(os.environ.get("BENCHLINK_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))

XP_PROFILE = """\
[device]
name = "test-xp"
protocol = "astm"
vendor = "Sysmex"
sender_patterns = ['^\\s*XP-\\d']

[tolerances]
oversize_frames = true

[timers]
receive_timeout = 45

[fields]
sample_id = ["O.4.3", "O.3"]
test_code = "R.3.5"

[test_codes]
"WBC" = { code = "WBC-X", name = "Leukocytes" }
"RBC" = "RBC-X"

[qc]
sample_id_prefixes = ["QC"]
"""

XP_MESSAGE = (b"H|\\^&|||XP-100^00-13|||||||E1394-97\rP|1\rO|1||^^            113^A|^^^^WBC\\^^^^RBC|||||||N\r"
              b"R|1|^^^^WBC^1|  5.5|10*3/uL||N||||               ||20240723172452\r"
              b"R|2|^^^^RBC^1|  2.87|10*6/uL||L\rR|3|^^^^HGB^1| 10.1|g/dL||N\rL|1|N\r")


def _write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_profile_decodes_its_own_fixture(tmp_path: Path) -> None:
    driver = load_profile(_write(tmp_path, XP_PROFILE))
    assert driver.info.name == "test-xp" and driver.info.tolerances == ("oversize_frames",)
    assert driver.info.timers["receive_timeout"] == 45
    decoded = driver.decode(XP_MESSAGE, encoding="latin-1")
    got = [(r.sample_id, r.instrument_code, r.test_name, r.value, r.numeric_value) for r in decoded.results]
    assert got == [("113", "WBC-X", "Leukocytes", "5.5", 5.5), ("113", "RBC-X", "", "2.87", 2.87),
                   ("113", "HGB", "", "10.1", 10.1)]
    assert check_driver(driver, [XP_MESSAGE]) == []


def test_a_valid_profile_decodes_a_real_capture(tmp_path: Path) -> None:
    capture = CORPUS / "astm-framed" / "sysmex-xp100__cbc-padded-values.astm"
    if not capture.exists():
        pytest.skip(f"corpus capture absent: {capture} (set BENCHLINK_CORPUS)")
    report = replay_capture(load_profile(_write(tmp_path, XP_PROFILE)), capture)
    assert not report.failures
    assert {r.sample_id for r in report.results} == {"113"}
    assert {"WBC-X", "RBC-X", "HGB", "PLT"} <= {r.instrument_code for r in report.results}
    assert all(r.value == r.value.strip() for r in report.results)


def test_hl7_profile_reads_named_positions() -> None:
    profile = parse_profile(
        '[device]\nname = "odd-hl7"\nprotocol = "hl7"\n\n[fields]\nsample_id = "OBR.2"\ntest_code = "OBX.4"\n'
        'value = "OBX.5.1"\n', "odd.toml")
    from benchlink.drivers.profile import profile_driver

    driver = profile_driver(profile)
    decoded = driver.decode(b"MSH|^~\\&|ODD|LAB|||20260101||ORU^R01|7|P|2.3.1\rPID|1\rOBR|1|BC77|9\r"
                            b"OBX|1|NM|12|GLU|5.4^x|mmol/L|3.9-6.1|N|||F\r", encoding="")
    r = decoded.results[0]
    assert (r.sample_id, r.instrument_code, r.value, r.units, r.flags) == ("BC77", "GLU", "5.4", "mmol/L", "N")


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        ('[device]\nname = "x"\nprotocol = "astm"\n\n[fields]\nsample_id = "O.3"\ntest_code = "R.x"\n',
         7, "fields.test_code", "not a position"),
        ('[device]\nname = "x"\nprotocol = "astm"\n[tolerances]\noversize_frame = true\n',
         5, "tolerances.oversize_frame", "unknown key"),
        ('[device]\nname = "x"\nprotocol = "smtp"\n', 3, "device.protocol", "'astm' or 'hl7'"),
        ('[device]\nname = "x"\nprotocol = "astm"\n[timers]\nreply_timeout = -1\n', 5, "timers.reply_timeout",
         "positive"),
        ('[device]\nname = "x"\nprotocol = "astm"\nencoding = "klingon"\n', 4, "device.encoding", "unknown text"),
        ('[device]\nname = "x"\nprotocol = "astm"\n\n[fields]\nsample_id = "R.3"\n', 6, "fields.sample_id",
         "read from O"),
        ('[device]\nname = "x"\nprotocol = "astm"\nsender_patterns = ["(unclosed"]\n', 4, "device.sender_patterns",
         "regular expression"),
        ('[device]\nprotocol = "astm"\n', 1, "[device]", "missing required key 'name'"),
        ('[device]\nname = "x"\nprotocol = "astm"\n\n[colours]\nred = 1\n', 5, "[colours]", "unknown table"),
        ('[device]\nname = "x"\nprotocol = "astm"\n[orders]\ntest_id = "^^^"\n', 5, "orders.test_id", "{code}"),
        ('[device]\nname = "x"\nprotocol = "astm"\n[test_codes]\n"685" = 3\n', 5, "test_codes.685", "code string"),
        ('[device]\nname = "x"\nprotocol = astm\n', 3, "toml", "not valid TOML"),
    ],
)
def test_invalid_profiles_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str,
                                                 fragment: str) -> None:
    path = _write(tmp_path, text, "broken.toml")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert f"{path}:{line}: {key}: " in message, message
    assert fragment in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = '[device]\nname = "Bad Name"\nprotocol = "astm"\n[tolerances]\nnope = true\noversize_frames = "yes"\n'
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, text))
    assert [p.key for p in info.value.problems] == ["tolerances.nope", "device.name", "tolerances.oversize_frames"]
    assert [p.line for p in info.value.problems] == [5, 2, 6]


def test_profiles_load_from_the_environment_and_bad_ones_are_reported(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, XP_PROFILE, "good.toml")
    _write(tmp_path, '[device]\nname = "x"\nprotocol = "ftp"\n', "bad.toml")
    monkeypatch.setenv("BENCHLINK_PROFILES", str(tmp_path))
    pm = PluginManager(load_entry_points=False)
    assert "test-xp" in pm.drivers()
    bad = next(r for r in pm.records if r.name == "profile:bad.toml")
    assert bad.state == "failed" and "bad.toml:3: device.protocol" in bad.error
    found = pm.detect(XP_MESSAGE)
    assert found is not None and found[0].info.name == "test-xp"


def test_driver_by_toml_path(tmp_path: Path) -> None:
    pm = PluginManager(load_entry_points=False)
    driver = pm.driver(str(_write(tmp_path, XP_PROFILE, "direct.toml")))
    assert driver.info.name == "test-xp"


def test_orders_can_be_switched_off(tmp_path: Path) -> None:
    from benchlink.core.driver import DecodeError
    from benchlink.core.model import HostQuery

    driver = load_profile(_write(tmp_path, XP_PROFILE + "\n[orders]\nsupported = false\n"))
    assert driver.info.orders is False
    with pytest.raises(DecodeError, match="does not support orders"):
        driver.answer_query(HostQuery(("S1",)), [], encoding="latin-1")
