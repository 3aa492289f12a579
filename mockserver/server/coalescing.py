"""A transport that sends what a connection writes in one turn of the event loop together.

uvicorn writes an answer's head when the app starts it and its body when the app sends it: two
``write`` calls, so two segments on the wire, and a client woken twice for one small answer.
On loopback that second wake-up and its acknowledgement cost the server about as much as the
app's own work on a poll. Here small writes wait in a buffer until the loop turns (``call_soon``)
and leave as one: a JSON answer is one system call and one segment. Nothing waits longer than
the current turn, a write of :data:`FLUSH_AT` bytes or more (a video chunk) goes at once, and
anything that ends or inspects the stream (close, EOF, the buffer's size) sees the held bytes
first. It is the idea of Node's ``socket.cork()`` released on the next tick.
"""

from __future__ import annotations

import asyncio
from typing import Any

FLUSH_AT = 64 * 1024
"""Held bytes past which a write goes out at once (a video's chunks are 256 KiB)."""


class CoalescingTransport(asyncio.Transport):
    """``transport``, with the writes of one loop turn joined into one."""

    __slots__ = ("_held", "_held_bytes", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            if len(data) >= FLUSH_AT:
                self._transport.write(data)
                return
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_AT:
            self.flush()

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what is held now (nothing if the connection is already closing)."""
        if not self._held:
            return
        held = self._held
        data = held[0] if len(held) == 1 else b"".join(held)
        self._held = []
        self._held_bytes = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    # --- ending the stream: what is held goes first ---------------------------------------

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = []
        self._held_bytes = 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._held_bytes

    # --- the rest is the transport's own --------------------------------------------------

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()
