"""Commands that run something: the window, the headless service, the simulator, status."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchlink.cli.errors import friendly
from benchlink.runtime.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, common: Common) -> None:
    gui = sub.add_parser("gui", help="open the desktop window (the default)")
    common(gui)
    gui.add_argument("--screenshot", type=Path, help="save a screenshot of the window to this PNG")
    gui.add_argument("--quit-after", type=float, help="close the window after this many seconds")
    gui.set_defaults(handler=cmd_gui)

    serve = sub.add_parser("serve", help="run the engine headless for the configured devices")
    common(serve)
    serve.add_argument("--duration", type=_positive_seconds, help="stop after this many seconds (tests, soaks)")
    serve.set_defaults(handler=cmd_serve)

    sim = sub.add_parser("simulate", help="act as an analyzer and send ASTM results to a Benchlink")
    common(sim)
    target = sim.add_mutually_exclusive_group(required=True)
    target.add_argument("--connect", metavar="HOST:PORT", help="where Benchlink listens (TCP)")
    target.add_argument("--serial", metavar="PORT", help="serial port to send on, e.g. /dev/ttyUSB1 or COM4")
    sim.add_argument("--baudrate", type=int, default=9600, help="serial speed (default 9600)")
    sim.add_argument("--profile", default="generic-astm",
                     help="analyzer to imitate: generic-astm, or a vendor profile (benchlink plugins lists them)")
    sim.add_argument("--fault", default="none", help="inject a fault: none, corrupt, garbled-ack, drop, stall, "
                     "garbage, oversize, contention (bid exactly when the host does)")
    sim.add_argument("--query", nargs="+", metavar="SAMPLE",
                     help="send a host query (Q record) for these samples and print the host's answer")
    sim.add_argument("--count", type=int, default=10, help="messages per analyzer (default 10)")
    sim.add_argument("--rate", type=float, default=0.0, help="messages per second per analyzer (0 = as fast as ACKs)")
    sim.add_argument("--concurrency", type=int, default=1, help="simulated analyzers in this process")
    sim.add_argument("--prefix", default="SIM", help="sample ID prefix")
    sim.add_argument("--start", type=int, default=1, help="index of the first sample (resume after a crash)")
    sim.add_argument("--seed", type=int, default=None, help="random seed for repeatable values")
    sim.add_argument("--patient-name", default=None, help="patient name to use in every message (tests)")
    sim.add_argument("--ack-log", type=Path, help="append each acknowledged sample ID to this file")
    sim.set_defaults(handler=cmd_simulate)

    status = sub.add_parser("status", help="show each device's state and counters from a running serve")
    common(status)
    status.add_argument("--json", action="store_true", help="the whole status as JSON, for monitoring")
    status.set_defaults(handler=cmd_status)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0 seconds (leave it out to run until stopped)")
    return value


def _prepare_first_start(settings: Settings) -> Settings:
    if not settings.devices and not settings.config_file.exists():
        print("benchlink: no devices configured yet; starting the built-in demo analyzer "
              f"(configure devices in {settings.config_file})", file=sys.stderr)
        return settings.with_demo()
    return settings


@contextlib.contextmanager
def _one_engine(settings: Settings, what: str, tell: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold the home's engine lock for the block; yields True (after saying why) when it is taken.

    ``tell`` also shows the reason where stderr is not seen (the window, started from an icon).
    """
    from benchlink.runtime.instance_lock import InstanceLock, InstanceLockedError

    lock = InstanceLock(settings.home, what)
    try:
        lock.acquire()
    except (InstanceLockedError, OSError) as exc:
        reason = (str(exc) if isinstance(exc, InstanceLockedError) else
                  f"cannot create {lock.path}: {exc.strerror}; check that the home folder is writable")
        print(f"benchlink: {reason}", file=sys.stderr)
        if tell is not None:
            tell(reason)
        yield True
        return
    try:
        yield False
    finally:
        lock.release()


def cmd_gui(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.gui.app import run_gui, show_start_refused

    settings = _prepare_first_start(settings)
    # Unattended runs (--quit-after: docs, tests) must not wait on a dialog nobody will close.
    tell = show_start_refused if args.quit_after is None else None
    def run() -> int:
        from benchlink.storage.database import WrongKeyError
        from benchlink.storage.keys import KeyUnavailableError

        try:
            return run_gui(settings, screenshot=args.screenshot, quit_after=args.quit_after)
        except (KeyUnavailableError, WrongKeyError) as exc:
            if tell is not None:  # friendly() prints it too, for a console
                tell(f"the database key: {exc}")
            raise

    with _one_engine(settings, "the Benchlink window", tell) as refused:
        if refused:
            return 2
        return int(friendly(run))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.runtime.logging_setup import configure_logging

    settings = _prepare_first_start(settings)
    configure_logging(settings.log_dir, level=settings.log_level)
    from benchlink.runtime import stall_report
    from benchlink.runtime.event_loop import run

    try:
        with _one_engine(settings, "benchlink serve") as refused:
            if refused:
                return 2
            return int(friendly(lambda: run(_serve(settings, args.duration, getattr(args, "user", None)),
                                            settings.event_loop)))
    finally:
        stall_report.disarm_at_exit()  # armed when the stop began (_serve); covers the loop's and Python's shutdown


async def _serve(settings: Settings, duration: float | None, user: str | None = None) -> int:
    from benchlink.cli.credentials import require_service
    from benchlink.runtime.bootstrap import build_engine, open_store

    # The database writer's thread must take the GIL back from a busy event loop each time its
    # child process replies; at the default 5 ms switch interval the child sat idle waiting for
    # the next batch (bench_scale: ~11.1k -> ~11.6k results/s at 200 analyzers). The GUI does the same.
    sys.setswitchinterval(0.001)
    loop = asyncio.get_running_loop()
    store = await loop.run_in_executor(None, open_store, settings)
    actor = require_service(settings, store, user=user)
    engine = build_engine(settings, store)
    print(f"benchlink: serving as {actor.username}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    await engine.start()
    watcher = asyncio.create_task(engine.watch_config())
    for snap in engine.snapshots():
        print(f"benchlink: {snap.name}: {snap.state} {snap.reason}", file=sys.stderr, flush=True)
    if engine.not_started:
        print(f"benchlink: fix the [[device]] entries that did not start in {settings.config_file} (it is re-read "
              "within seconds)", file=sys.stderr, flush=True)
    try:
        if duration is not None:
            await asyncio.wait_for(stop.wait(), duration)
        else:
            await stop.wait()
    except TimeoutError:
        pass
    from benchlink.runtime import stall_report

    stall_report.arm(settings.log_dir, "serve-stop")
    watcher.cancel()
    await engine.stop()
    print("benchlink: stopped cleanly", file=sys.stderr, flush=True)
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.runtime.event_loop import run
    from benchlink.runtime.faults import Fault, FaultyChannel
    from benchlink.runtime.plugins import PluginManager
    from benchlink.runtime.simulator import (
        SimulationReport,
        build_message,
        query_message,
        send_messages,
        simulate_profile,
    )
    from benchlink.transports.base import Channel
    from benchlink.transports.serial_port import open_serial_channel
    from benchlink.transports.tcp import open_tcp_channel

    profiles = PluginManager().simulator_profiles()
    if args.profile != "generic-astm" and args.profile not in profiles:
        available = sorted({"generic-astm", *profiles})  # a plugin may also register generic-astm
        print(f"benchlink simulate: no profile {args.profile!r}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    try:
        fault = Fault(args.fault)
    except ValueError:
        print(f"benchlink simulate: unknown fault {args.fault!r}; use one of {', '.join(f.value for f in Fault)}",
              file=sys.stderr)
        return 2
    host, port = "", 0
    if args.connect:
        host, _, port_text = str(args.connect).rpartition(":")
        if not host or not port_text.isdigit():
            print("benchlink simulate: --connect needs HOST:PORT, e.g. 127.0.0.1:15000", file=sys.stderr)
            return 2
        port = int(port_text)

    async def open_channel() -> Channel:
        if args.serial:
            return await open_serial_channel(args.serial, baudrate=args.baudrate)
        return await open_tcp_channel(host, port)

    async def one(index: int) -> SimulationReport:
        report = SimulationReport(ack_log=args.ack_log)
        prefix = args.prefix if args.concurrency == 1 else f"{args.prefix}{index:03d}-"
        seed = None if args.seed is None else args.seed + index
        try:
            channel: Channel = await open_channel()
            if fault not in (Fault.NONE, Fault.CONTENTION):
                channel = FaultyChannel(channel, fault, seed=index, stall_seconds=35.0)
            try:
                if args.query:
                    await send_messages(channel, [("query", query_message(args.query))], report=report,
                                        wait_for_answers=1)
                    for text in report.received:
                        print(text.decode("latin-1").replace("\r", "\n").rstrip())
                elif args.profile == "generic-astm":
                    messages = [build_message(i, prefix=prefix, seed=seed, patient_name=args.patient_name)
                                for i in range(args.start, args.start + args.count)]
                    await send_messages(channel, messages, rate=args.rate, report=report,
                                        contend=fault is Fault.CONTENTION)
                else:
                    await simulate_profile(channel, profiles[args.profile], count=args.count, start=args.start,
                                           seed=seed, rate=args.rate, report=report)
            finally:
                await channel.close()
        except (OSError, TimeoutError) as exc:
            hint = ("; is `benchlink serve` (or the window) running, and is this the port in its config?"
                    if isinstance(exc, ConnectionRefusedError) else "")
            print(f"benchlink simulate: analyzer {index}: {exc}{hint}", file=sys.stderr)
        return report

    async def run_all() -> list[SimulationReport]:
        return list(await asyncio.gather(*(one(i) for i in range(args.concurrency))))

    started = time.perf_counter()
    reports = run(run_all(), settings.event_loop)
    elapsed = time.perf_counter() - started
    acked = sum(len(r.acknowledged) for r in reports)
    wanted = (1 if args.query else args.count) * args.concurrency
    print(f"sent {acked}/{wanted} messages, all acknowledged: {acked == wanted}, {elapsed:.2f} s")
    return 0 if acked == wanted else 1


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from benchlink.runtime.engine import read_status

    status = read_status(settings.state_file)
    if status is None:
        print(f"benchlink: no running serve found (no {settings.state_file}); start `benchlink serve`",
              file=sys.stderr)
        return 1
    age = time.time() - float(str(status.get("updated", 0)))
    if args.json:
        print(json.dumps({**status, "age_seconds": round(age, 1)}, indent=2))
        return 0
    running = bool(status.get("running")) and age < 10
    loop = f", {status['event_loop']} event loop" if status.get("event_loop") else ""
    print(f"serve pid {status.get('pid')} — {'running' if running else f'not running (last seen {age:.0f} s ago)'}"
          f"{loop}")
    latency = status.get("commit_latency_ms")
    if isinstance(latency, dict) and latency.get("count"):
        print(f"commit latency: p50 {latency['p50']:.1f} ms, p99 {latency['p99']:.1f} ms "
              f"(last {int(latency['count'])} messages, from the last byte to COMMIT)")
    devices = status.get("devices")
    rows = devices if isinstance(devices, list) else []
    print(f"{'device':<20} {'state':<11} {'messages':>8} {'results':>8} {'errors':>6}  detail")
    for d in rows:
        c = d.get("counters", {})
        print(f"{d['name']:<20} {d['state']:<11} {c.get('messages', 0):>8} {c.get('results', 0):>8} "
              f"{c.get('errors', 0):>6}  {d.get('reason', '')}")
    not_started = status.get("not_started")
    # Non-zero for monitoring when serve is down or a configured analyzer is not even being listened to.
    return 0 if running and not not_started else 1
