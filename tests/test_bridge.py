"""``AppTransport``: httpx requests answered by an ASGI app in-process, sync and async.

Sync clients are served through a private loop thread (an anyio blocking portal), async clients
on their own loop. These tests pin what a transport must keep intact: request bodies of every
kind, binary answers, repeated headers, dropped connections, timeouts, concurrency and shutdown.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from mockserver import Settings, create_app
from mockserver.domain.behaviour import Fault
from mockserver.testing.bridge import LOOP_THREAD, AppTransport

CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
AUTH = {"Authorization": "Bearer bridge-key"}
BODY = {"prompt": "A cat", "image": "https://example.com/cat.jpg"}


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the request as JSON (method, path, body, every header line) and two
    ``Set-Cookie`` lines; ``/slow`` waits 0.1 s first, ``/binary`` answers every byte value."""
    assert scope["type"] == "http"
    body = b""
    while True:
        message: Message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    if scope["path"] == "/slow":
        await asyncio.sleep(0.1)
    if scope["path"] == "/binary":
        content, kind = bytes(range(256)) * 64, b"application/octet-stream"
    else:
        content = json.dumps(
            {
                "method": scope["method"],
                "path": scope["path"],
                "body": body.decode("latin-1"),
                "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            }
        ).encode()
        kind = b"application/json"
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(content)).encode()),
        (b"set-cookie", b"a=1; Path=/"),
        (b"set-cookie", b"b=2; Path=/"),
        (b"x-multi", b"first"),
        (b"x-multi", b"second"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == LOOP_THREAD and t.is_alive()]


@pytest.fixture
def echo() -> Iterator[AppTransport]:
    transport = AppTransport(echo_app)
    yield transport
    transport.close()


@pytest.fixture
def fake() -> Iterator[AppTransport]:
    transport = AppTransport(create_app(Settings(seed=3, clock="virtual")))
    yield transport
    transport.close()


def finished_video_url(client: httpx.Client) -> str:
    """Creates a task, moves the virtual clock past its end and returns ``videos[0]``."""
    task_id = client.post(CREATE_PATH, json=BODY).json()["task_info"]["id"]
    client.post("/_mock/clock/advance", json={"seconds": 600})
    task = client.get(f"{CREATE_PATH}/{task_id}").json()
    assert task["task_info"]["status"] == "succeeded", task
    url = task["videos"][0]
    assert isinstance(url, str)
    return url


# Request bodies.


def test_sync_request_bodies_arrive_whole(echo: AppTransport) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": '
        yield b'"streamed"}'

    with httpx.Client(transport=echo, base_url="http://app.test") as client:
        raw = client.post("/raw", content=b"\x00\x01binary\xff").json()
        as_json = client.post("/json", json={"a": [1, 2], "b": "\u00e9"}).json()
        streamed = client.post("/stream", content=chunks()).json()
        empty = client.get("/empty").json()

    assert raw["body"] == "\x00\x01binary\xff"
    assert json.loads(as_json["body"].encode("latin-1")) == {"a": [1, 2], "b": "\u00e9"}
    assert streamed["body"] == '{"prompt": "streamed"}'
    assert (streamed["method"], streamed["path"]) == ("POST", "/stream")
    assert empty["body"] == ""
    assert empty["method"] == "GET"


def test_async_request_bodies_arrive_whole(echo: AppTransport) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": '
        await asyncio.sleep(0)
        yield b'"async streamed"}'

    async def main() -> list[dict[str, str]]:
        async with httpx.AsyncClient(transport=echo, base_url="http://app.test") as client:
            return [
                (await client.post("/raw", content=b"\x00raw\xfe")).json(),
                (await client.post("/json", json={"n": 1})).json(),
                (await client.post("/stream", content=chunks())).json(),
            ]

    raw, as_json, streamed = asyncio.run(main())
    assert raw["body"] == "\x00raw\xfe"
    assert json.loads(as_json["body"]) == {"n": 1}
    assert streamed["body"] == '{"prompt": "async streamed"}'


def test_a_streamed_create_body_reaches_the_real_app(fake: AppTransport) -> None:
    def chunks() -> Iterator[bytes]:
        encoded = json.dumps(BODY).encode()
        yield encoded[:10]
        yield encoded[10:]

    with httpx.Client(transport=fake, base_url="http://wan.test", headers=AUTH) as client:
        created = client.post(
            CREATE_PATH, content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert created.status_code == 202, created.text
        task = client.get(f"/_mock/tasks/{created.json()['task_info']['id']}").json()
    assert task["request"]["prompt"] == "A cat"


# Responses.


def test_binary_responses_are_intact(echo: AppTransport) -> None:
    with httpx.Client(transport=echo, base_url="http://app.test") as client:
        sync_bytes = client.get("/binary").content

    async def main() -> bytes:
        async with httpx.AsyncClient(transport=echo, base_url="http://app.test") as client:
            return (await client.get("/binary")).content

    assert sync_bytes == bytes(range(256)) * 64
    assert asyncio.run(main()) == sync_bytes


def test_the_result_video_is_the_same_bytes_every_way(fake: AppTransport) -> None:
    with httpx.Client(transport=fake, base_url="http://wan.test", headers=AUTH) as client:
        url = finished_video_url(client)
        video = client.get(url)
        expected = video.content
        ranged = client.get(url, headers={"Range": "bytes=0-99"})
        head = client.head(url)

    async def fetch() -> bytes:
        async with httpx.AsyncClient(transport=fake) as client:
            return (await client.get(url)).content

    assert url.startswith("http://wan.test/files/")
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert expected[4:8] == b"ftyp"
    assert int(video.headers["content-length"]) == len(expected)
    assert asyncio.run(fetch()) == expected
    assert ranged.status_code == 206
    assert ranged.content == expected[:100]
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(expected)


def test_headers_keep_every_value_both_ways(echo: AppTransport) -> None:
    request_headers = httpx.Headers([("x-tag", "one"), ("x-tag", "two"), ("x-single", "s")])
    with httpx.Client(transport=echo, base_url="http://app.test") as client:
        response = client.get("/headers", headers=request_headers)

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=echo, base_url="http://app.test") as client:
            return await client.get("/headers", headers=request_headers)

    for answer in (response, asyncio.run(main())):
        seen = answer.json()["headers"]
        assert [v for k, v in seen if k == "x-tag"] == ["one", "two"]
        assert ["x-single", "s"] in seen
        assert ["host", "app.test"] in seen
        assert answer.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
        assert answer.headers.get_list("x-multi") == ["first", "second"]
        assert dict(answer.cookies) == {"a": "1", "b": "2"}


# Faults.


def dropping_app() -> AppTransport:
    settings = Settings(seed=1, clock="virtual", faults=(Fault(target="create", drop=True),))
    return AppTransport(create_app(settings))


def test_a_dropped_connection_is_a_remote_protocol_error_for_sync_clients() -> None:
    transport = dropping_app()
    try:
        with httpx.Client(transport=transport, base_url="http://wan.test", headers=AUTH) as client:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                client.post(CREATE_PATH, json=BODY)
            # the transport is still usable afterwards, and only the targeted call drops
            assert client.get("/_mock/health").status_code == 200
    finally:
        transport.close()
    assert caught.value.request.url.path == CREATE_PATH


def test_a_dropped_connection_is_a_remote_protocol_error_for_async_clients() -> None:
    transport = dropping_app()

    async def main() -> None:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://wan.test", headers=AUTH
        ) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(CREATE_PATH, json=BODY)
            assert (await client.get("/_mock/health")).status_code == 200

    try:
        asyncio.run(main())
    finally:
        transport.close()


# Threads and the loop.


def test_concurrent_sync_requests_from_many_threads(echo: AppTransport) -> None:
    def call(client: httpx.Client, n: int) -> tuple[int, str]:
        answer = client.post("/slow", content=f"request-{n}".encode())
        return n, answer.json()["body"]

    with httpx.Client(transport=echo, base_url="http://app.test") as client:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda n: call(client, n), range(16)))
        elapsed = time.monotonic() - started
        threads = len(loop_threads())

    assert answers == [(n, f"request-{n}") for n in range(16)]  # nobody got another's answer
    assert elapsed < 1.2, f"16 requests of 0.1 s took {elapsed:.2f} s: they ran one at a time"
    assert threads == 1  # one loop thread serves every caller


def test_concurrent_creates_on_the_real_app_are_all_kept(fake: AppTransport) -> None:
    with httpx.Client(transport=fake, base_url="http://wan.test", headers=AUTH) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(
                pool.map(lambda _: client.post(CREATE_PATH, json=BODY).status_code, range(40))
            )
        tasks = client.get("/_mock/tasks").json()
    assert statuses == [202] * 40
    assert tasks["count"] == 40
    assert len({t["id"] for t in tasks["tasks"]}) == 40


def test_async_clients_need_no_loop_thread_and_close_stops_it() -> None:
    transport = AppTransport(echo_app)
    before = len(loop_threads())

    async def main() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
            return (await client.get("/")).status_code

    assert asyncio.run(main()) == 200
    assert len(loop_threads()) == before  # async requests are served on the caller's loop

    with httpx.Client(transport=transport, base_url="http://app.test") as client:
        assert client.get("/").status_code == 200
        assert len(loop_threads()) == before + 1
        transport.close()
        assert len(loop_threads()) == before
        # a transport closed under a client starts a new loop if it is used again
        assert client.get("/").status_code == 200
    transport.close()
    assert len(loop_threads()) == before


def test_close_without_use_and_twice_is_harmless() -> None:
    before = len(loop_threads())
    transport = AppTransport(echo_app)
    transport.close()
    transport.close()
    asyncio.run(transport.aclose())
    assert len(loop_threads()) == before


class HangingApp:
    """Never answers: waits until cancelled, and says when it started and when it was left."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.left = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.started.set()
        try:
            await asyncio.sleep(60)
        finally:
            self.left.set()


def test_a_sync_request_past_the_timeout_is_cancelled_and_raises_read_timeout() -> None:
    app = HangingApp()
    transport = AppTransport(app, timeout=0.2)
    try:
        with httpx.Client(transport=transport, base_url="http://app.test") as client:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout, match=r"GET http://app.test/hang within 0.2 s"):
                client.get("/hang")
            assert time.monotonic() - started < 5
            assert app.left.wait(5), "the app's coroutine was not cancelled after the timeout"
    finally:
        transport.close()


def test_close_cancels_a_running_sync_request_with_a_read_error() -> None:
    app = HangingApp()
    transport = AppTransport(app)
    before = len(loop_threads())
    errors: list[BaseException] = []

    def call() -> None:
        with httpx.Client(transport=transport, base_url="http://app.test") as client:
            try:
                client.get("/hang")
            except httpx.HTTPError as exc:
                errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert app.started.wait(5)
    transport.close()
    caller.join(5)

    assert not caller.is_alive(), "the request outlived the transport it ran on"
    assert app.left.is_set()
    assert len(errors) == 1
    assert isinstance(errors[0], httpx.ReadError)
    assert "closed while GET http://app.test/hang was running" in str(errors[0])
    assert len(loop_threads()) == before
