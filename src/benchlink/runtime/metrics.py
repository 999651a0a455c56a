"""An optional Prometheus ``/metrics`` endpoint, bound to localhost only.

Hand-written text exposition keeps the dependency list short; the format is small and
stable (one ``# TYPE`` line per metric, ``name{labels} value`` per sample).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from benchlink.core.status import COUNTER_NAMES, DeviceSnapshot, DeviceState

MAX_REQUEST_BYTES = 8192


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(snapshots: list[DeviceSnapshot]) -> str:
    lines: list[str] = []
    for counter in COUNTER_NAMES:
        name = f"benchlink_device_{counter}_total"
        lines.append(f"# TYPE {name} counter")
        for snap in snapshots:
            lines.append(f'{name}{{device="{_label(snap.name)}"}} {snap.counters.get(counter, 0)}')
    lines.append("# TYPE benchlink_device_state gauge")
    for snap in snapshots:
        for state in DeviceState:
            value = 1 if snap.state == state else 0
            lines.append(f'benchlink_device_state{{device="{_label(snap.name)}",state="{state}"}} {value}')
    lines.append("# TYPE benchlink_device_last_activity_seconds gauge")
    for snap in snapshots:
        if snap.last_activity is not None:
            lines.append(f'benchlink_device_last_activity_seconds{{device="{_label(snap.name)}"}} {snap.last_activity}')
    return "\n".join(lines) + "\n"


async def start_metrics_server(port: int, snapshots: Callable[[], list[DeviceSnapshot]],
                               host: str = "127.0.0.1") -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        first = request.split(b"\r\n", 1)[0].split()
        if len(first) >= 2 and first[0] == b"GET" and first[1].split(b"?")[0] == b"/metrics":
            body = render_metrics(snapshots()).encode()
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
        else:
            body = b"only GET /metrics is served here\n"
            head = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
        writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        try:
            await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_REQUEST_BYTES)
