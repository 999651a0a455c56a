"""TCP (optionally TLS) channels on asyncio streams."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

READ_CHUNK = 64 * 1024


class StreamChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    async def read(self) -> bytes:
        try:
            return await self._reader.read(READ_CHUNK)
        except (ConnectionError, ssl.SSLError):
            return b""

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, ssl.SSLError, OSError):
            pass


ChannelHandler = Callable[[StreamChannel], Awaitable[None]]


async def start_tcp_server(
    host: str, port: int, handler: ChannelHandler, *, ssl_context: ssl.SSLContext | None = None
) -> asyncio.Server:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handler(StreamChannel(reader, writer))

    # A peer that never completes the TLS handshake must not hold the device's one connection for long.
    handshake = {"ssl_handshake_timeout": 10.0} if ssl_context is not None else {}
    return await asyncio.start_server(on_connect, host, port, ssl=ssl_context, limit=READ_CHUNK, **handshake)


async def open_tcp_channel(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None, timeout: float = 10.0
) -> StreamChannel:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl_context, limit=READ_CHUNK), timeout
    )
    return StreamChannel(reader, writer)


def bound_port(server: asyncio.Server) -> int:
    sockets = server.sockets or ()
    for sock in sockets:
        return int(sock.getsockname()[1])
    return 0
