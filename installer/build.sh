#!/usr/bin/env bash
# Build the onedir bundle dist/benchlink/ with PyInstaller (Linux here; the same spec builds on Windows,
# see installer/README.md). Skips the ~30-60 s build when nothing that goes into the bundle changed,
# unless --force is given. Usage: installer/build.sh [--force]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="$ROOT/build/installer"
DIST="$ROOT/dist"
STAMP="$WORK/source.sha256"

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "PyInstaller is not installed in $PY; run: $PY -m pip install 'pyinstaller>=6.10'" >&2
  exit 3
fi

# Everything that ends up in the bundle: our sources, the plugins, the spec and hooks, the package versions.
hash_sources() {
  {
    find src plugins installer resources -type f \
      \( -name '*.py' -o -name '*.toml' -o -name '*.spec' -o -name '*.mako' -o -name '*.png' -o -name '*.ico' \) \
      -not -path '*/tests/*' -not -path '*/__pycache__/*' -not -path '*/build/*' -print0 | sort -z | xargs -0 sha256sum
    "$PY" -m pip freeze 2>/dev/null | grep -v '^-e' || true
  } | sha256sum | cut -d' ' -f1
}

want="$(hash_sources)"
if [[ "${1:-}" != "--force" && -x "$DIST/benchlink/benchlink" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "dist/benchlink is up to date (sources $want)"
  exit 0
fi

mkdir -p "$WORK"
rm -f "$STAMP"
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK/pyinstaller" installer/benchlink.spec
echo "$want" > "$STAMP"
echo "built dist/benchlink in $(( $(date +%s) - start )) s, $(du -sh "$DIST/benchlink" | cut -f1)"
