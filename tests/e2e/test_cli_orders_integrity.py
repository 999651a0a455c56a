"""Worklist integrity as an operator meets it: `benchlink orders` and `benchlink mappings` run as real
processes on a real encrypted database. An import is all lines or none, an open order is never entered
twice (an analyzer would be asked to run the test twice), and a misspelt device name is pointed out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import benchlink, write_tcp_config

from benchlink.storage.database import open_engine
from benchlink.storage.keys import load_or_create_key
from benchlink.storage.worklist import OrderRow, Worklist


@contextmanager
def worklist(home: Path) -> Iterator[Worklist]:
    """The same database the commands wrote, opened with the same key file."""
    engine = open_engine(None, path=home / "benchlink.db",
                         key=load_or_create_key(key_file=home / "db.key", use_keyring=False))
    try:
        yield Worklist(engine)
    finally:
        engine.dispose()


def saved(home: Path) -> list[OrderRow]:
    with worklist(home) as wl:
        return sorted(wl.list(), key=lambda r: r.id)


def sheet(tmp_path: Path, text: str, name: str = "worklist.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def make_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_tcp_config(home, port=0, name="chem-1")
    return home


def test_a_bad_line_saves_nothing_and_every_bad_line_is_named(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    bad = sheet(tmp_path, "sample_id,tests,priority\nS-1,GLU,R\nS-2,NA,Z\nS-3,K,S\nS-4,,R\n")
    refused = benchlink(home, "orders", "import", str(bad), check=False)
    assert refused.returncode == 2
    assert "line 3: priority 'Z'" in refused.stderr and "line 5:" in refused.stderr
    assert "nothing was imported" in refused.stderr
    assert saved(home) == [], "line 2 came before the bad line and must not have been saved"

    bad.write_text("sample_id,tests,priority\nS-1,GLU,R\nS-2,NA,A\nS-3,K,S\nS-4,CREA,R\n", encoding="utf-8")
    assert "imported 4 order(s)" in benchlink(home, "orders", "import", str(bad)).stdout
    assert sorted((r.sample_id, r.test) for r in saved(home)) == [
        ("S-1", "GLU"), ("S-2", "NA"), ("S-3", "K"), ("S-4", "CREA")]


def test_priority_error_names_every_choice(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    refused = benchlink(home, "orders", "import", str(sheet(tmp_path, "sample_id,tests,priority\nS-1,GLU,Z\n")),
                        check=False)
    assert refused.returncode == 2
    assert "use S (stat), A (ASAP) or R (routine)" in refused.stderr


def test_importing_the_same_file_again_adds_nothing(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    path = sheet(tmp_path, "sample_id,tests,priority,device\nS-1,GLU;NA,S,\nS-2,K,R,chem-1\n")
    assert "imported 3 order(s)" in benchlink(home, "orders", "import", str(path)).stdout
    again = benchlink(home, "orders", "import", str(path))
    assert "imported 0 order(s)" in again.stdout and "3 already open" in again.stdout
    assert "line 2: S-1 GLU is already pending" in again.stderr
    assert len(saved(home)) == 3


def test_an_open_order_is_not_entered_twice_but_a_repeat_after_its_result_is(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    benchlink(home, "orders", "add", "S102", "GLU")
    twice = benchlink(home, "orders", "add", "S102", "GLU", "NA")
    assert "added 1 order(s)" in twice.stdout and "S102 GLU is already pending" in twice.stderr
    # An order for any device reaches chem-1 too: one for chem-1 would be a second GLU in its answer.
    benchlink(home, "orders", "add", "S102", "GLU", "--device", "chem-1")
    with worklist(home) as wl:
        requests, _ = wl.requests_for(["S102"], device="chem-1")
        assert [r.tests for r in requests] == [("GLU", "NA")]
        wl.mark([r.id for r in wl.list() if r.test == "GLU"], "resulted")
    assert "added 1 order(s)" in benchlink(home, "orders", "add", "S102", "GLU").stdout
    assert sorted((r.test, r.state) for r in saved(home)) == [
        ("GLU", "pending"), ("GLU", "resulted"), ("NA", "pending")]


def test_lines_repeated_in_one_file_are_reported_and_conflicting_ones_refused(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    repeated = sheet(tmp_path, "sample_id,tests,priority\nS-1,GLU,R\nS-2,NA,R\nS-1,GLU,R\n")
    done = benchlink(home, "orders", "import", str(repeated))
    assert "imported 2 order(s)" in done.stdout
    assert "line 4 repeats S-1 GLU from line 2" in done.stderr
    conflicting = sheet(tmp_path, "sample_id,tests,priority\nS-5,K,R\nS-5,K,S\n", "conflict.csv")
    refused = benchlink(home, "orders", "import", str(conflicting), check=False)
    assert refused.returncode == 2
    assert "line 3: S-5 K is also on line 2 with a different priority" in refused.stderr
    assert [r.sample_id for r in saved(home)].count("S-5") == 0


def test_a_misspelt_column_or_a_shifted_line_is_refused(tmp_path: Path) -> None:
    """Ignoring an unknown 'priorty' column would import a stat order as routine."""
    home = make_home(tmp_path)
    typo = benchlink(home, "orders", "import", str(sheet(tmp_path, "sample_id,tests,priorty\nS-1,GLU,S\n")),
                     check=False)
    assert typo.returncode == 2 and "'priorty'" in typo.stderr
    shifted = sheet(tmp_path, "sample_id,tests,priority,patient_name\nS-1,GLU,S,Doe, Jane\n", "shifted.csv")
    refused = benchlink(home, "orders", "import", str(shifted), check=False)
    assert refused.returncode == 2 and "line 2:" in refused.stderr and "double quotes" in refused.stderr
    assert "Jane" not in refused.stderr
    assert saved(home) == []


def test_a_sample_with_a_stat_test_is_answered_as_stat(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    benchlink(home, "orders", "add", "S-7", "GLU", "--priority", "S")
    benchlink(home, "orders", "add", "S-7", "NA", "--priority", "R")
    with worklist(home) as wl:
        (request,), _ = wl.requests_for(["S-7"], device="chem-1")
    assert request.tests == ("GLU", "NA") and request.priority == "S"


def test_unknown_device_names_are_warned_about_with_the_configured_ones(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    mapping = benchlink(home, "mappings", "set", "nosuchdevice", "K", "2823-3")
    assert "warning" in mapping.stderr and "'nosuchdevice'" in mapping.stderr
    assert "chem-1, demo-analyzer" in mapping.stderr and "[[device]]" in mapping.stderr
    order = benchlink(home, "orders", "add", "S102", "GLU", "--device", "chem1")
    assert "warning" in order.stderr and "did you mean 'chem-1'" in order.stderr
    imported = benchlink(home, "orders", "import",
                         str(sheet(tmp_path, "sample_id,tests,device\nS-3,GLU,nosuch\nS-4,NA,chem-1\n")))
    assert "'nosuch'" in imported.stderr and imported.stderr.count("warning") == 1
    maps = sheet(tmp_path, "device,instrument_code,lis_code\nchem-2,NA,2951-2\n*,CL,2075-0\n", "maps.csv")
    assert "'chem-2'" in benchlink(home, "mappings", "import", str(maps)).stderr
    for args in (("mappings", "set", "chem-1", "K", "2823-3"), ("mappings", "set", "*", "GLU", "2345-7"),
                 ("mappings", "set", "demo-analyzer", "NA", "2951-2"),
                 ("orders", "add", "S103", "GLU", "--device", "chem-1"), ("orders", "add", "S104", "GLU")):
        assert "warning" not in benchlink(home, *args).stderr, args
