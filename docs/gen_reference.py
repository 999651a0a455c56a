"""Regenerate the generated reference pages: docs/configuration.md and docs/cli.md.

    python docs/gen_reference.py          # rewrite both pages
    python docs/gen_reference.py --check  # exit 1 if either page is out of date (the docs test does this)
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchlink.cli.reference import render_cli_reference
from benchlink.runtime.settings_doc import render_configuration, undocumented

DOCS = Path(__file__).resolve().parent
PAGES = {"configuration.md": render_configuration, "cli.md": render_cli_reference}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    gaps = undocumented()
    if gaps:
        print(f"settings without a description in settings_doc.py: {', '.join(gaps)}", file=sys.stderr)
        return 1
    stale = []
    for name, render in PAGES.items():
        text = render()
        path = DOCS / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python docs/gen_reference.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
