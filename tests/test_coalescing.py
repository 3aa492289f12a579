"""Writes of one loop turn leave together: a small answer is one write (so one segment on the
wire), a big chunk is not held, and closing or ending the stream sends what is held first."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from mockserver.server.coalescing import FLUSH_AT, CoalescingTransport
from tests.helpers import KEY, body
from tests.server_process import running_server


class Recording(asyncio.Transport):
    """A transport that records what is written to it and how it was ended."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.events.append("close")
        self.closing = True

    def write_eof(self) -> None:
        self.events.append("eof")

    def abort(self) -> None:
        self.events.append("abort")
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 7


def run(steps: Any) -> Recording:
    async def main() -> Recording:
        inner = Recording()
        await steps(CoalescingTransport(inner, asyncio.get_running_loop()), inner)
        return inner

    return asyncio.run(main())


def test_the_writes_of_one_turn_leave_as_one_when_the_loop_turns() -> None:
    async def steps(transport: CoalescingTransport, inner: Recording) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(memoryview(b'{"a":1}'))
        assert inner.writes == []
        assert transport.get_write_buffer_size() == 7 + 19 + 7  # held bytes count as buffered
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)

    assert run(steps).writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a":1}', b"next"]


def test_a_big_chunk_is_not_held_and_held_bytes_keep_their_order() -> None:
    big = b"v" * FLUSH_AT

    async def steps(transport: CoalescingTransport, inner: Recording) -> None:
        transport.write(big)  # nothing held: straight through
        assert inner.writes == [big]
        transport.write(b"head")
        transport.write(big)  # past the bound: what is held goes at once, in order
        assert inner.writes == [big, b"head" + big]
        await asyncio.sleep(0)

    assert len(run(steps).writes) == 2


def test_closing_or_ending_the_stream_sends_what_is_held_first() -> None:
    async def steps(transport: CoalescingTransport, inner: Recording) -> None:
        transport.write(b"answer")
        transport.write_eof()
        assert (inner.writes, inner.events) == ([b"answer"], ["eof"])
        transport.write(b"last")
        transport.close()
        await asyncio.sleep(0)

    inner = run(steps)
    assert (inner.writes, inner.events) == ([b"answer", b"last"], ["eof", "close"])


def test_an_abort_or_a_closed_connection_drops_what_is_held() -> None:
    async def aborting(transport: CoalescingTransport, inner: Recording) -> None:
        transport.write(b"lost")
        transport.abort()
        await asyncio.sleep(0)

    async def closed_meanwhile(transport: CoalescingTransport, inner: Recording) -> None:
        transport.write(b"lost")
        inner.closing = True  # the peer went away before the loop turned
        await asyncio.sleep(0)

    assert run(aborting).writes == []
    assert run(closed_meanwhile).writes == []


def test_a_served_answer_arrives_whole_in_one_read() -> None:
    """Head and body in one write: a client's first read holds the whole answer, every time
    (written apart, a fast reader often gets the head alone)."""
    with running_server("--no-access-log", "--api-key", KEY) as server:
        url = urlsplit(server.base_url)
        assert url.hostname is not None
        assert url.port is not None
        payload = json.dumps(body()).encode()
        create = (
            b"POST /vendors/alibaba/v1/wan2.6-i2v/generation HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(payload) + payload
        )
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(400):
                sock.sendall(create)
                answer = sock.recv(65536)
                head, _, rest = answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 202"), answer
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                assert len(rest) == length, answer
