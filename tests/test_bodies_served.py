"""Big JSON bodies against a served fake: a body's structure is bounded before it is decoded,
so bodies of tiny arrays cost the server about their size, not many times it."""

from __future__ import annotations

import asyncio

import httpx

from tests.fuzz_driver import rss
from tests.helpers import AUTH, CREATE_PATH
from tests.server_process import running_server

MB = 2**20
TINY_LISTS = b'{"prompt":"x","image":"https://example.com/a.jpg","x":[' + b"[]," * (31 * MB // 3)
TINY_LISTS += b"[]]}"


def test_eight_31_mb_bodies_of_tiny_lists_are_refused_within_bounded_memory() -> None:
    with running_server("--no-access-log") as server:
        pid = server.process.pid
        before = rss(pid, "VmHWM")

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
                headers = {**AUTH, "Content-Type": "application/json"}
                posts = (
                    client.post(CREATE_PATH, content=TINY_LISTS, headers=headers) for _ in range(8)
                )
                return await asyncio.gather(*posts)

        replies = asyncio.run(flood())
        peak = rss(pid, "VmHWM") - before
    for reply in replies:
        assert reply.status_code == 400, reply.text[:300]
        error = reply.json()
        assert error["detail"].startswith("body: ")
        assert "more than 10000" in error["detail"]
    # Each body is held while it arrives (at most twice over, in uvicorn's buffer and ours);
    # decoding it as objects would take about 30 times its size (1.9 GB for these eight).
    assert peak < 3 * 8 * len(TINY_LISTS), f"peak RSS grew {peak / MB:.0f} MiB"
