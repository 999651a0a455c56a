"""`make bench`: run every benchmark script in turn and print their tables.

Each script is standalone (``.venv/bin/python bench/<name>.py``) so one figure can be
reproduced alone; this runner only sequences them and reports which failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    ("ASTM decode vs python-astm", "bench_astm_decode.py", []),
    ("ASTM link layer", "bench_astm_link.py", []),
    ("HL7 parse vs python-hl7 / hl7apy", "bench_hl7.py", []),
    ("Storage: inserts vs raw sqlcipher3, 1M-row page queries", "bench_storage.py", []),
    ("Export: CSV and HL7", "bench_export.py", []),
    ("Scale: analyzers on loopback against one serve", "bench_scale.py", ["--analyzers", "200", "1000"]),
    ("Scale at offered rates: latency below the ceiling", "bench_scale.py",
     ["--analyzers", "200", "--messages", "40", "--rate", "2000", "4000", "8000", "10000"]),
    ("Serial: pty pair at an emulated 9600 baud", "bench_serial.py", ["--messages", "20"]),
    ("GUI responsiveness", "bench_gui.py", []),
]


def main() -> int:
    failed = []
    for title, script, args in ORDER:
        path = HERE / script
        print(f"\n## {title}  ({script})", flush=True)
        if not path.exists():
            print("   (not present)")
            continue
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path), *args], text=True)
        print(f"   [{script}: exit {proc.returncode}, {time.perf_counter() - started:.0f} s]", flush=True)
        if proc.returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
