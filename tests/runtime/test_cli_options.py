from __future__ import annotations

from pathlib import Path

from benchlink.cli.main import build_parser, settings_from


def test_global_options_work_before_and_after_the_subcommand(tmp_path: Path) -> None:
    parser = build_parser()
    before = parser.parse_args(["--home", str(tmp_path), "--demo", "results"])
    after = parser.parse_args(["results", "--home", str(tmp_path), "--demo"])
    for args in (before, after):
        settings = settings_from(args)
        assert settings.home == tmp_path.resolve()
        assert [d.name for d in settings.devices] == ["demo-analyzer"]
    neither = parser.parse_args(["results"])
    assert neither.home is None and neither.demo is None
