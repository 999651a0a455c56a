#!/usr/bin/env bash
# Build the documentation site into site/ (or $1): regenerate the reference pages, then mkdocs --strict.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="${1:-$ROOT/site}"
if ! "$PY" -c "import material" 2>/dev/null; then
  echo "mkdocs-material is not installed in $PY; run: $PY -m pip install 'mkdocs-material>=9.5'" >&2
  exit 3
fi
"$PY" docs/gen_reference.py
NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict --clean --site-dir "$OUT"
echo "documentation built in $OUT (open $OUT/index.html)"
