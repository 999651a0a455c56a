"""Versioned, audited mappings on both backends, and their CSV form."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchlink.core.model import Result
from benchlink.storage.mappings import MappingError
from benchlink.storage.store import Store


def test_set_mapping_versions_and_retires_the_previous(store: Store) -> None:
    maps = store.mappings()
    first = maps.set_mapping("xn", "GLU", "2345-7", name="Glucose", units="mmol/L", actor="sup")
    second = maps.set_mapping("xn", "GLU", "2339-0", name="Glucose", units="mmol/L", actor="sup")
    assert first is not None and second is not None
    assert (first.version, second.version) == (1, 2)
    (current,) = maps.current_mappings()
    assert current.lis_code == "2339-0" and current.version == 2 and not current.retired
    history = maps.history("xn", "GLU")
    assert [(h.version, h.lis_code, h.retired) for h in history] == [(1, "2345-7", True), (2, "2339-0", False)]


def test_same_values_again_create_no_version_and_no_audit(store: Store) -> None:
    maps = store.mappings()
    maps.set_mapping("*", "NA", "2951-2", actor="sup")
    assert maps.set_mapping("*", "NA", "2951-2", actor="sup") is None
    assert len(maps.history("*", "NA")) == 1
    assert len(store.audit().search(action="mapping.set")) == 1


def test_each_change_is_audited_with_before_and_after(store: Store) -> None:
    maps = store.mappings()
    maps.set_mapping("xn", "GLU", "A", actor="alice")
    maps.set_mapping("xn", "GLU", "B", factor=18.0, units="mg/dL", actor="bob")
    newest, oldest = store.audit().search(action="mapping.set")
    assert oldest.actor == "alice" and oldest.before is None and oldest.after is not None
    assert oldest.after["lis_code"] == "A"
    assert newest.actor == "bob" and newest.target == "mapping:xn/GLU"
    assert newest.before == {"lis_code": "A", "name": "", "units": "", "factor": 1.0, "version": 1}
    assert newest.after == {"lis_code": "B", "name": "", "units": "mg/dL", "factor": 18.0, "version": 2}
    assert store.audit().verify().ok


def test_retire_removes_the_current_mapping_but_keeps_history(store: Store) -> None:
    maps = store.mappings()
    maps.set_mapping("xn", "K", "2823-3", actor="sup")
    assert maps.retire("xn", "K", actor="sup")
    assert not maps.retire("xn", "K", actor="sup")
    assert maps.current_mappings() == []
    assert [h.retired for h in maps.history("xn", "K")] == [True]
    again = maps.set_mapping("xn", "K", "2823-3", actor="sup")
    assert again is not None and again.version == 2


def test_to_table_applies_device_specific_before_wildcard(store: Store) -> None:
    maps = store.mappings()
    maps.set_mapping("*", "GLU", "GEN", actor="s")
    maps.set_mapping("xn", "GLU", "SPECIFIC", name="Glucose", units="mg/dL", factor=18.0, actor="s")
    table = maps.to_table()
    r = Result(sample_id="S", instrument_code="GLU", value="5", numeric_value=5.0, units="mmol/L")
    mapped = table.apply("xn", r)
    assert (mapped.lis_code, mapped.test_name, mapped.numeric_value, mapped.units) == (
        "SPECIFIC", "Glucose", 90.0, "mg/dL"
    )
    assert table.apply("other", r).lis_code == "GEN"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "GLU", "X"), "device is empty"),
        (("d", " ", "X"), "instrument_code is empty"),
        (("d", "GLU", ""), "lis_code is empty"),
    ],
)
def test_invalid_mappings_are_refused(store: Store, args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        store.mappings().set_mapping(*args, actor="s")
    with pytest.raises(MappingError, match="factor"):
        store.mappings().set_mapping("d", "GLU", "X", factor=0.0, actor="s")
    with pytest.raises(MappingError, match="must be a finite number above 0"):
        store.mappings().set_mapping("d", "GLU", "X", factor=-5.0, actor="s")  # no unit conversion is negative


def test_csv_round_trip(store: Store, tmp_path: Path) -> None:
    maps = store.mappings()
    maps.set_mapping("xn", "GLU", "2345-7", name="Glucose, fasting", units="mmol/L", actor="s")
    maps.set_mapping("*", "HGB", "718-7", name="Hämoglobin", units="g/dL", factor=0.1, actor="s")
    out = tmp_path / "maps.csv"
    assert maps.export_csv(out) == 2
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "device,instrument_code,lis_code,name,units,factor"
    assert '"Glucose, fasting"' in text and "Hämoglobin" in text
    # Importing the export again changes nothing; an edited line makes exactly one new version.
    assert maps.import_csv(out, actor="s") == (0, 2)
    out.write_text(text.replace("718-7", "718-8"), encoding="utf-8")
    assert maps.import_csv(out, actor="s") == (1, 1)
    assert [h.lis_code for h in maps.history("*", "HGB")] == ["718-7", "718-8"]


def test_bad_csv_line_names_the_line_and_applies_nothing(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("device,instrument_code,lis_code,factor\nxn,GLU,2345-7,1\nxn,NA,2951-2,abc\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"line 3: factor 'abc'"):
        store.mappings().import_csv(bad, actor="s")
    assert store.mappings().current_mappings() == []
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("xn,GLU,2345-7\n", encoding="utf-8")
    with pytest.raises(MappingError, match="header lacks"):
        store.mappings().import_csv(nohead, actor="s")
