"""RS-232 through pyserial with one dedicated reader thread per port.

A thread rather than pyserial-asyncio(-fast): it behaves the same on Windows, where the
qasync proactor loop has no ``add_reader``, and it avoids the 100 % CPU spin STACK.md
records for pyserial-asyncio-fast. Bytes cross into the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import serial

from benchlink.transports.base import TransportError

_PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
             "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}
_STOPBITS = {1: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE, 2: serial.STOPBITS_TWO}
MAX_QUEUED_CHUNKS = 4096


class SerialChannel:
    def __init__(self, port: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._port = port
        self._loop = loop
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=MAX_QUEUED_CHUNKS)
        self._closed = threading.Event()
        self.peer = str(port.port)
        self._thread = threading.Thread(target=self._reader, name=f"serial-reader:{self.peer}", daemon=True)
        self._thread.start()

    def _deliver(self, chunk: bytes) -> None:
        if self._queue.full():  # bounded: a consumer this far behind has lost the link anyway
            self._queue.get_nowait()
        self._queue.put_nowait(chunk)

    def _reader(self) -> None:
        while not self._closed.is_set():
            try:
                chunk = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError):
                break  # port vanished (USB adapter pulled) or was closed under us
            if chunk:
                try:
                    self._loop.call_soon_threadsafe(self._deliver, bytes(chunk))
                except RuntimeError:
                    break  # loop closed
        self._closed.set()
        try:
            self._loop.call_soon_threadsafe(self._deliver, b"")
        except RuntimeError:
            pass

    async def read(self) -> bytes:
        if self._closed.is_set() and self._queue.empty():
            return b""
        return await self._queue.get()

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._closed.set()
            raise ConnectionError(f"serial port {self.peer} write failed: {exc}") from exc

    async def drain(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._flush)

    def _flush(self) -> None:
        try:
            self._port.flush()
        except (serial.SerialException, OSError, termios_error()):
            pass

    async def close(self) -> None:
        self._closed.set()
        try:
            self._port.cancel_read()
        except (AttributeError, serial.SerialException, OSError):
            pass
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 2.0)
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass


def termios_error() -> type[BaseException]:
    try:
        import termios

        return termios.error
    except ImportError:  # Windows
        return OSError


async def open_serial_channel(device: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                              stopbits: float = 1, rtscts: bool = False, xonxoff: bool = False) -> SerialChannel:
    if parity.upper() not in _PARITIES:
        raise TransportError(f"serial parity {parity!r} is not one of N, E, O, M, S")
    if stopbits not in _STOPBITS:
        raise TransportError(f"serial stopbits {stopbits!r} is not one of 1, 1.5, 2")

    def opener() -> Any:
        return serial.serial_for_url(
            device, baudrate=baudrate, bytesize=bytesize, parity=_PARITIES[parity.upper()],
            stopbits=_STOPBITS[stopbits], rtscts=rtscts, xonxoff=xonxoff, timeout=0.1,
        )

    loop = asyncio.get_running_loop()
    try:
        port = await loop.run_in_executor(None, opener)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise TransportError(f"cannot open serial port {device}: {exc}; check the port name and that no "
                             "other program holds it") from exc
    return SerialChannel(port, loop)


def list_serial_ports() -> list[str]:
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports())
