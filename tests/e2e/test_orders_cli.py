from __future__ import annotations

from pathlib import Path

from tests.helpers import benchlink


def test_orders_add_import_and_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    added = benchlink(home, "orders", "add", "S-1", "GLU", "NA", "--priority", "S")
    assert "added 2 order(s)" in added.stdout
    sheet = tmp_path / "worklist.csv"
    sheet.write_text("sample_id,tests,priority,patient_id\nS-2,CREA;K,R,P-9\nS-3,ALT,A,\n", encoding="utf-8")
    assert "imported 3 order(s)" in benchlink(home, "orders", "import", str(sheet)).stdout
    listing = benchlink(home, "orders", "list").stdout
    assert listing.count("pending") == 5 and "S-2" in listing and "CREA" in listing
    bad = tmp_path / "bad.csv"
    bad.write_text("sample_id,tests,priority\nS-4,GLU,Z\n", encoding="utf-8")
    refused = benchlink(home, "orders", "import", str(bad), check=False)
    assert refused.returncode == 2 and "line 2" in refused.stderr and "priority" in refused.stderr
