"""One supervised task per device: open the transport, run sessions, reconnect with backoff.

A device's failures stay inside its own task; the engine only ever sees its snapshot
(guarantee 7: a slow or broken device cannot stall the others).
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from collections.abc import Coroutine
from typing import Any

from benchlink.core.driver import Driver
from benchlink.core.events import DeviceChanged, EventBus, TraceChunk
from benchlink.core.status import DeviceState
from benchlink.protocols.astm.tolerances import LinkTimers
from benchlink.runtime.astm_session import AstmSession, tolerances_from
from benchlink.runtime.counters import DeviceHealth
from benchlink.runtime.hl7_session import Hl7Session
from benchlink.runtime.ingest import Ingestor
from benchlink.runtime.limits import RateLimiter
from benchlink.runtime.logging_setup import get_logger
from benchlink.runtime.orders import OrderService
from benchlink.runtime.settings import DeviceConfig
from benchlink.transports.base import Channel, TransportError
from benchlink.transports.serial_port import open_serial_channel
from benchlink.transports.tcp import bound_port, open_tcp_channel, start_tcp_server
from benchlink.transports.tls import client_context, server_context, wants_tls

log = get_logger("benchlink.device")


class Backoff:
    """Exponential backoff with full jitter, capped, reset after a success."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


def listen_failure(host: str, port: int, exc: OSError) -> str:
    """The device's error line when its listening socket cannot open, with what to do about it.

    asyncio's own text ("error while attempting to bind on address (...): address already in use")
    repeats the address and names no remedy.
    """
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {host}:{port}: another program already uses port {port}; stop it, or choose "
                "another port here and on the analyzer")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}:{port}: {host} is not an address of this PC; use one it has, or 0.0.0.0"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


class DeviceRunner:
    def __init__(
        self,
        config: DeviceConfig,
        *,
        driver: Driver,
        ingestor: Ingestor,
        bus: EventBus,
        orders: OrderService | None = None,
    ) -> None:
        self.config = config
        self.driver = driver
        self.ingestor = ingestor
        self.bus = bus
        self.health = DeviceHealth(
            name=config.name, driver=config.driver, transport=config.transport.describe(),
            on_change=self._publish,
        )
        ingestor.health[config.name] = self.health
        self.tolerances = tolerances_from(config.tolerances)
        self.timers = LinkTimers(receive_timeout=config.receive_timeout, reply_timeout=config.reply_timeout)
        self.orders = orders
        self._task: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._active: Channel | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self.port: int = config.transport.port
        self._rates: dict[str, RateLimiter] = {}  # per peer address: a flood from one host cannot lock out another
        self._session: AstmSession | Hl7Session | None = None
        self.listening = asyncio.Event()

    def _publish(self) -> None:
        if self.bus.listened:
            self.bus.publish(DeviceChanged(self.health.snapshot()))

    def _trace(self, direction: str, data: bytes) -> None:
        if self.bus.listened:
            self.bus.publish(TraceChunk(self.config.name, direction, time.time(), data))

    async def start(self) -> None:
        if not self.config.enabled:
            self.health.set_state(DeviceState.DISABLED)
            return
        kind = self.config.transport.kind
        if kind == "tcp-server":
            await self._start_server()
        else:
            self._task = asyncio.create_task(self._client_loop(), name=f"device:{self.config.name}")

    async def _start_server(self) -> None:
        t = self.config.transport
        try:
            ssl_context = server_context(t) if wants_tls(t) else None
            self._server = await start_tcp_server(t.host, t.port, self._on_channel, ssl_context=ssl_context)
        except OSError as exc:
            if self.config.name == "demo-analyzer" and t.port != 0:
                # The demo must always come up: take any free port when its usual one is busy.
                self._server = await start_tcp_server(t.host, 0, self._on_channel)
                self._listening_on(t.host)
                return
            self.health.set_state(DeviceState.ERROR, listen_failure(t.host, t.port, exc))
            log.error("listen failed", device=self.config.name, host=t.host, port=t.port, error=str(exc))
            return
        self._listening_on(t.host)

    def _listening_on(self, host: str) -> None:
        assert self._server is not None
        self.port = bound_port(self._server)
        self.health.set_state(DeviceState.LISTENING, f"{host}:{self.port}")
        self.listening.set()
        log.info("listening", device=self.config.name, host=host, port=self.port)

    async def _on_channel(self, channel: Channel) -> None:
        allow = self.config.transport.allow
        peer_host = channel.peer.rsplit(":", 1)[0]
        if allow and peer_host not in allow:
            log.warning("connection refused: peer not in allow-list", device=self.config.name, peer=channel.peer)
            await channel.close()
            return
        if len(self._rates) > 4096:  # bounded even against a spoofed-address flood
            self._rates.clear()
        if not self._rates.setdefault(peer_host, RateLimiter(self.config.limits.max_connections_per_minute)).allow():
            log.warning("connection refused: too many new connections", device=self.config.name, peer=channel.peer,
                        limit_per_minute=self.config.limits.max_connections_per_minute)
            await channel.close()
            return
        if self._active is not None:
            stale = self._session is not None and (
                asyncio.get_running_loop().time() - self._session.last_progress >= self.config.limits.supersede_after)
            if not stale:
                log.warning("second connection refused: one connection per device", device=self.config.name,
                            peer=channel.peer)
                await channel.close()
                return
            log.warning("idle connection replaced by a new one", device=self.config.name,
                        old_peer=self._active.peer, peer=channel.peer)
            old = self._active
            await old.close()
            for _ in range(50):
                if self._active is not old:
                    break
                await asyncio.sleep(0.02)
        self._active = channel
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        await self._run_session(channel)
        if task is not None:
            self._sessions.discard(task)
        self._active = None
        if self._server is not None:
            self.health.set_state(DeviceState.LISTENING, f"{self.config.transport.host}:{self.port}")

    async def _run_session(self, channel: Channel) -> None:
        self.health.peer = channel.peer
        self.health.set_state(DeviceState.CONNECTED, channel.peer)
        log.info("connected", device=self.config.name, peer=channel.peer)

        if self.driver.info.protocol == "hl7":
            hl7 = Hl7Session(channel, device=self.config.name, driver=self.driver,
                             encoding=self.config.encoding or None,
                             ingestor=self.ingestor, health=self.health, trace=self._trace, orders=self.orders,
                             limits=self.config.limits)
            self._session = hl7
            await self._guarded(channel, hl7.run())
            self._session = None
            return
        session = AstmSession(
            channel, device=self.config.name, driver=self.driver, encoding=self.config.encoding or "latin-1",
            tolerances=self.tolerances, timers=self.timers, ingestor=self.ingestor, health=self.health,
            trace=self._trace,
            orders=self.orders, download_orders=self.config.download_orders, limits=self.config.limits,
        )
        self._session = session
        await self._guarded(channel, session.run())
        self._session = None

    async def _guarded(self, channel: Channel, run: Coroutine[Any, Any, None]) -> None:
        try:
            await run
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.health.bump("errors")
            self.health.set_state(DeviceState.ERROR, f"session failed: {type(exc).__name__}")
            log.exception("session failed", device=self.config.name)
        finally:
            await channel.close()
            log.info("disconnected", device=self.config.name, peer=channel.peer)

    async def _open_client(self) -> Channel:
        t = self.config.transport
        if t.kind == "serial":
            return await open_serial_channel(t.device, baudrate=t.baudrate, bytesize=t.bytesize, parity=t.parity,
                                             stopbits=t.stopbits, rtscts=t.rtscts, xonxoff=t.xonxoff)
        ssl_context = client_context(t) if wants_tls(t) else None
        return await open_tcp_channel(t.host, t.port, ssl_context=ssl_context)

    async def _client_loop(self) -> None:
        """Connect, run a session, and when the link goes (cable pulled, USB adapter gone) try again."""
        t = self.config.transport
        where = t.device if t.kind == "serial" else f"{t.host}:{t.port}"
        backoff = Backoff()
        while True:
            self.health.set_state(DeviceState.CONNECTING, where)
            try:
                channel = await self._open_client()
            except (OSError, TimeoutError, TransportError) as exc:
                delay = backoff.next_delay()
                self.health.set_state(DeviceState.ERROR, f"cannot open {where}; retry in {delay:.1f}s")
                log.warning("open failed", device=self.config.name, error=str(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            self._active = channel
            await self._run_session(channel)
            self._active = None
            await asyncio.sleep(backoff.next_delay())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._active is not None:
            await self._active.close()
        for task in list(self._sessions):
            try:
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            except TimeoutError:
                pass
            self._server = None
        self.health.set_state(DeviceState.STOPPED)
