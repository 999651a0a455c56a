"""Scale run: N simulated analyzers on loopback TCP against one `benchlink serve`, encryption on.

Reports sustained results/s, p50/p99 latency from a complete message to its final ACK (measured
at the analyzer), zero-loss check, and serve's peak RSS. Usage:

    .venv/bin/python bench/bench_scale.py [--analyzers 200] [--messages 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlink.protocols.astm import link as astm_link
from benchlink.protocols.astm.link import AstmLink, Role
from benchlink.runtime.event_loop import run as run_loop
from benchlink.runtime.simulator import build_message
from benchlink.transports.tcp import open_tcp_channel


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def all_listening(status: Path, expected: int) -> bool:
    try:
        devices = json.loads(status.read_text(encoding="utf-8"))["devices"]
    except (OSError, ValueError, KeyError):
        return False
    return sum(1 for d in devices if d.get("state") == "listening") >= expected


FAILURES: list[str] = []  # why an analyzer stopped early, printed under the table


def children(pid: int) -> list[int]:
    """serve's child processes (the database writer), whose memory counts as serve's too."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class WalWatcher(threading.Thread):
    """The largest the WAL file got while the analyzers ran: under steady load it must stay bounded."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.1):
            try:
                self.peak = max(self.peak, self.path.stat().st_size)
            except OSError:
                pass

    def stop(self) -> None:
        self._done.set()
        self.join()


async def analyzer(port: int, index: int, texts: list[bytes], latencies: list[float],
                   interval: float = 0.0) -> int:
    """One analyzer. ``interval`` > 0 paces it: message i is due at start + i * interval (an open
    loop, as real analyzers are); 0 sends the next message as soon as the last is acknowledged."""
    loop = asyncio.get_running_loop()
    try:
        channel = await open_tcp_channel("127.0.0.1", port)
    except OSError as exc:
        FAILURES.append(f"analyzer {index}: cannot connect to port {port}: {exc}")
        return 0
    link = AstmLink(Role.INSTRUMENT)
    acked = 0
    # a random phase, so paced analyzers do not all send in the same millisecond
    start = loop.time() + (index * 0.618034 % 1.0) * interval
    try:
        for i in range(1, len(texts) + 1):
            if interval:
                delay = start + (i - 1) * interval - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            link.send_message(texts[i - 1], loop.time())
            done = False
            t_last = None
            while not done:
                out = link.data_to_send()
                if out:
                    channel.write(out)
                    if b"\x03" in out:
                        t_last = time.perf_counter()
                    await channel.drain()
                data = await channel.read()
                if not data:
                    FAILURES.append(f"analyzer {index}: connection closed by serve after {acked} messages")
                    return acked
                for event in link.receive_data(data, loop.time()):
                    if isinstance(event, astm_link.MessageSent):
                        done = True
                        acked += 1
                        if t_last is not None:
                            latencies.append(time.perf_counter() - t_last)
                    elif isinstance(event, astm_link.SendFailed):
                        FAILURES.append(f"analyzer {index}: send failed ({event.reason}) after {acked} messages")
                        return acked
            out = link.data_to_send()
            if out:
                channel.write(out)
                await channel.drain()
    finally:
        await channel.close()
    return acked


async def drive(ports: list[int], messages: int, panel: int = 4,
                rate: float = 0.0) -> tuple[int, float, list[float], float]:
    """``rate`` > 0 offers that many results/s in total, spread evenly over the analyzers."""
    latencies: list[float] = []
    interval = len(ports) * panel / rate if rate else 0.0
    # Every message is made before the clock starts: a real analyzer's CPU is not the LIS PC's, so
    # the load generator should take as little of the shared 2 cores as it can.
    texts = [[build_message(n, prefix=f"A{i:04d}-", seed=i, panel_size=panel)[1] for n in range(1, messages + 1)]
             for i in range(len(ports))]
    start, cpu = time.perf_counter(), time.process_time()
    counts = await asyncio.gather(*(analyzer(p, i, texts[i], latencies, interval) for i, p in enumerate(ports)))
    return sum(counts), time.perf_counter() - start, latencies, time.process_time() - cpu


def run(analyzers: int, messages: int, panel: int = 4, rate: float = 0.0) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="benchlink-scale-"))
    ports = free_ports(analyzers)
    lines = []
    for i, port in enumerate(ports):
        lines += [f'[[device]]\nname = "an-{i:04d}"\ndriver = "astm"\n[device.transport]\nkind = "tcp-server"\n'
                  f'host = "127.0.0.1"\nport = {port}\n']
    (home / "config.toml").write_text("\n".join(lines), encoding="utf-8")
    env = {**os.environ, "BENCHLINK_HOME": str(home), "BENCHLINK_KEY_FILE": str(home / "k"),
           "BENCHLINK_NO_KEYRING": "1", "BENCHLINK_LOG_LEVEL": "warning"}
    # The database exists before serve starts, as on every restart of a real service (the first
    # start's one-off migration is not part of serving).
    subprocess.run([sys.executable, "-m", "benchlink", "results", "--limit", "1"], env=env, check=True,
                   capture_output=True, timeout=120)
    serve = subprocess.Popen([sys.executable, "-m", "benchlink", "serve"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Ready = every device listening, read from serve's status file. (A probe connection would
        # take the device's one connection slot and get the real analyzer refused.)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all_listening(home / "status.json", analyzers):
            time.sleep(0.2)
        family = [serve.pid, *children(serve.pid)]
        cpu_before = [cpu_seconds(pid) for pid in family]
        wal_peak = WalWatcher(home / "benchlink.db-wal")
        wal_peak.start()
        acked, elapsed, lat, generator_cpu = run_loop(drive(ports, messages, panel, rate))  # uvloop, as `simulate` runs
        wal_peak.stop()
        cpu_used = [cpu_seconds(pid) - before for pid, before in zip(family, cpu_before, strict=True)]
        rss = sum(peak_rss_mb(pid) for pid in family)
        time.sleep(1.5)  # one more status write, with the last messages' commit latencies
        server = json.loads((home / "status.json").read_text(encoding="utf-8")).get("commit_latency_ms", {})
    finally:
        serve.send_signal(signal.SIGTERM)
        _, errors = serve.communicate(timeout=60)
    if acked < analyzers * messages:
        FAILURES.extend(line for line in errors.splitlines() if "error" in line.lower() or "warn" in line.lower())
    listing = subprocess.run([sys.executable, "-m", "benchlink", "results", "--json", "--limit", "100000000"],
                             env=env, capture_output=True, text=True, timeout=600)
    stored = sum(1 for line in listing.stdout.splitlines() if line.strip())
    lat.sort()
    results_per_message = panel
    return {
        "analyzers": analyzers,
        "panel": panel,
        "offered": rate,
        "messages_per_s": acked / elapsed,
        "messages_acked": acked,
        "messages_expected": analyzers * messages,
        "results_stored": stored,
        "zero_loss": float(stored == acked * results_per_message),
        "results_per_s": acked * results_per_message / elapsed,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else float("nan"),
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
        "serve_rss_mb": rss,
        "wal_peak_mb": wal_peak.peak / 1e6,
        "server_p50_ms": server.get("p50", float("nan")),
        "server_p99_ms": server.get("p99", float("nan")),
        # CPU per acknowledged message while the analyzers ran: what a message costs, whatever the load
        "main_us_per_msg": cpu_used[0] / acked * 1e6 if acked else float("nan"),
        "writer_us_per_msg": sum(cpu_used[1:]) / acked * 1e6 if acked else float("nan"),
        "generator_us_per_msg": generator_cpu / acked * 1e6 if acked else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--analyzers", type=int, nargs="+", default=[200])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--panel", type=int, nargs="+", default=[4, 12],
                        help="results per message (a chemistry panel is often 10-20)")
    parser.add_argument("--rate", type=float, nargs="+", default=[0.0],
                        help="offered results/s in total (0 = as fast as acknowledged: the ceiling)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(n, args.messages, p, r) for n in args.analyzers for p in args.panel for r in args.rate]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'analyzers':>9} {'panel':>5} {'offered':>8} {'msg/s':>6} {'acked':>7} {'stored':>7} {'loss':>5} "
          f"{'results/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'srv p50':>7} {'srv p99':>7} {'RSS MB':>7} "
          f"{'main µs':>7} {'child µs':>8} {'gen µs':>6} {'WAL MB':>6}")
    for r in rows:
        offered = f"{r['offered']:.0f}" if r["offered"] else "max"
        print(f"{r['analyzers']:>9} {r['panel']:>5} {offered:>8} {r['messages_per_s']:>6.0f} {r['messages_acked']:>7} "
              f"{r['results_stored']:>7} "
              f"{'none' if r['zero_loss'] else 'LOSS':>5} {r['results_per_s']:>10.0f} {r['p50_ms']:>7.1f} "
              f"{r['p99_ms']:>7.1f} {r['server_p50_ms']:>7.1f} {r['server_p99_ms']:>7.1f} {r['serve_rss_mb']:>7.0f} "
              f"{r['main_us_per_msg']:>7.0f} {r['writer_us_per_msg']:>8.0f} {r['generator_us_per_msg']:>6.0f} "
              f"{r['wal_peak_mb']:>6.0f}")
    for line in FAILURES[:20]:
        print("  stopped early:", line)


if __name__ == "__main__":
    main()
