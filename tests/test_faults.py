"""Injected faults (mockserver/server/faults.py): in-process, then over real HTTP (uvicorn)."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
import httpx2
import pytest
import uvicorn
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver import Settings, create_app
from mockserver.domain.behaviour import Dialect, Fault, FaultTarget, Latency
from mockserver.domain.clock import MockClock
from mockserver.server import faults as faults_module
from mockserver.server.dialects import Speaker
from mockserver.server.errors import ErrorRenderer
from mockserver.server.faults import (
    MAX_LOGNORMAL_SECONDS,
    ConnectionDropped,
    DropLogFilter,
    FaultMiddleware,
    decide,
    draw_latency,
)
from mockserver.testing.bridge import AppTransport
from tests.helpers import AUTH, BASE_URL, CREATE_PATH, body

TASK_ID = "4f0c9e2a-1b7d-4c8e-9a55-0d3b8e6f7a21"
POLL = f"{CREATE_PATH}/{TASK_ID}"
DOWNLOAD = f"/files/{TASK_ID}/result_000.mp4"
MARKER = "x-wan-mock-injected"

# name -> (method, path, target it belongs to)
TARGETED: dict[str, tuple[str, str, FaultTarget]] = {
    "create": ("POST", CREATE_PATH, "create"),
    "poll": ("GET", POLL, "poll"),
    "download": ("GET", DOWNLOAD, "download"),
    "download-head": ("HEAD", DOWNLOAD, "download"),
}
NEVER = [
    ("GET", "/openapi.json"),
    ("GET", "/_mock/health"),
    ("POST", "/_mock/reset"),
    ("GET", CREATE_PATH),  # 405, not a create
    ("POST", POLL),  # 405, not a poll
    ("GET", POLL + "/extra"),
    ("POST", DOWNLOAD),
    ("GET", "/files"),
]


def wrap(
    faults: Sequence[Fault], *, seed: int = 1, clock: MockClock | None = None
) -> FaultMiddleware:
    clock = clock or MockClock("virtual")
    app = create_app(Settings(seed=7), clock=clock)
    return FaultMiddleware(app, faults, clock, random.Random(seed))


@contextmanager
def client(app: ASGIApp) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH, base_url=BASE_URL) as test_client:
        yield test_client


def call(test_client: TestClient, method: str, path: str) -> httpx2.Response:
    return test_client.request(method, path, json=body() if method == "POST" else None)


def asgi_client(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE_URL, headers=AUTH)


# --- status faults: targets, bodies, headers ----------------------------------------------------


@pytest.mark.parametrize("target", ["create", "poll", "download", "all"])
def test_status_fault_hits_its_target_only(target: FaultTarget) -> None:
    with client(wrap([Fault(target=target, status=503)])) as test_client:
        for name, (method, path, kind) in TARGETED.items():
            response = call(test_client, method, path)
            hit = target in (kind, "all")
            assert (response.status_code == 503) == hit, name
            assert (response.headers.get(MARKER) == "fault status:503") == hit, name
        for method, path in NEVER:
            response = call(test_client, method, path)
            assert MARKER not in response.headers, (method, path)
            assert response.status_code != 503, (method, path)


REALISTIC_WORDS = {
    400: ("Invalid Request", "request"),
    401: ("Unauthorized", "api key"),
    402: ("Payment Required", "insufficient balance"),
    403: ("Forbidden", "access"),
    404: ("Not Found", "does not exist"),
    409: ("Conflict", "already exists"),
    429: ("Too Many Requests", "rate limit exceeded"),
    451: ("Unavailable For Legal Reasons", "region"),
    500: ("Internal Server Error", "internal error"),
    502: ("Bad Gateway", "upstream"),
    503: ("Service Unavailable", "temporarily"),
    504: ("Gateway Timeout", "upstream"),
    418: ("I'm a Teapot", "failed"),
    599: ("Error", "failed"),
}


@pytest.mark.parametrize("status", sorted(REALISTIC_WORDS))
def test_status_fault_answers_realistically(status: int) -> None:
    with client(wrap([Fault(status=status)])) as test_client:
        response = test_client.get(POLL)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers[MARKER] == f"fault status:{status}"
    title, words = REALISTIC_WORDS[status]
    answer = response.json()
    assert answer["error_code"] == {400: 2001, 404: 2005}.get(status, status)
    assert answer["title"] == title
    assert words in answer["detail"].lower()
    assert ("retry-after" in response.headers) == (status in (429, 503))
    assert ("www-authenticate" in response.headers) == (status == 401)


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"), [(429, None, "1"), (503, None, "5"), (503, 30, "30")]
)
def test_retry_after(status: int, retry_after: int | None, expected: str) -> None:
    with client(wrap([Fault(status=status, retry_after=retry_after)])) as test_client:
        assert test_client.get(POLL).headers["retry-after"] == expected


def test_a_status_fault_answers_in_the_renderers_dialect() -> None:
    clock = MockClock("virtual")
    detail_only = ErrorRenderer(lambda: Speaker(Dialect(error_body="detail")), clock)
    app = FaultMiddleware(
        create_app(clock=clock), [Fault(status=402)], clock, random.Random(), detail_only
    )
    with client(app) as test_client:
        answer = test_client.get(POLL)
    assert answer.status_code == 402
    assert answer.json() == {"detail": "Insufficient balance; top up your account to continue"}


def test_status_fault_neither_calls_the_app_nor_reads_the_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app was called")

    async def receive() -> Message:
        raise AssertionError("the body was read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = FaultMiddleware(app, [Fault(status=500)], MockClock(), random.Random())
    scope = {"type": "http", "method": "POST", "path": CREATE_PATH, "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert sent[0]["status"] == 500
    assert b'"error_code":500' in sent[1]["body"]


# --- rates, reproducibility, live changes ------------------------------------------------------


async def statuses(app: ASGIApp, count: int) -> list[int]:
    async with asgi_client(app) as http:
        return [(await http.get(POLL)).status_code for _ in range(count)]


@pytest.mark.parametrize(("rate", "expected"), [(0.0, 0), (1.0, 200)])
def test_rate_zero_never_and_one_always(rate: float, expected: int) -> None:
    codes = asyncio.run(statuses(wrap([Fault(status=500, rate=rate)]), 200))
    assert codes.count(500) == expected
    assert codes.count(404) == 200 - expected  # the unknown task, answered by the app


def test_rate_is_honoured_and_reproducible_with_a_seed() -> None:
    fault = [Fault(status=500, rate=0.3)]
    first = asyncio.run(statuses(wrap(fault, seed=11), 2000))
    assert abs(first.count(500) / 2000 - 0.3) <= 0.04
    assert asyncio.run(statuses(wrap(fault, seed=11), 2000)) == first
    assert asyncio.run(statuses(wrap(fault, seed=12), 2000)) != first


def test_certain_faults_draw_nothing() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    always = [Fault(status=500, rate=0), Fault(latency=Latency(seconds=2)), Fault(drop=True)]
    assert decide(always, "poll", rng) == (2.0, always[2])
    assert rng.getstate() == state


def test_faults_can_be_replaced_live() -> None:
    middleware = wrap([])
    with client(middleware) as test_client:
        assert test_client.get(POLL).status_code == 404
        middleware.faults = [Fault(target="poll", status=502)]
        assert test_client.get(POLL).status_code == 502
        middleware.faults = ()
        assert test_client.get(POLL).status_code == 404


def test_no_faults_is_a_plain_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(method: str, path: str) -> None:
        raise AssertionError("classified a request although no fault is set")

    monkeypatch.setattr(faults_module, "target_of", never)
    with client(wrap([])) as test_client:
        response = test_client.post(CREATE_PATH, json=body())
    assert response.status_code == 202
    assert MARKER not in response.headers


# --- latency ---------------------------------------------------------------------------------


async def settle() -> None:
    await asyncio.sleep(0.05)


def test_latency_waits_for_the_virtual_clock() -> None:
    clock = MockClock("virtual")
    app = wrap([Fault(target="create", latency=Latency(seconds=10))], clock=clock)

    async def scenario() -> httpx.Response:
        async with asgi_client(app) as http:
            request = asyncio.create_task(http.post(CREATE_PATH, json=body()))
            await settle()
            assert not request.done()
            clock.advance(9.5)
            await settle()
            assert not request.done()
            clock.advance(0.5)
            return await asyncio.wait_for(request, 5)

    response = asyncio.run(scenario())
    assert response.status_code == 202
    assert response.headers[MARKER] == "fault latency:10.000"


def test_latencies_add_up_then_the_first_status_wins() -> None:
    clock = MockClock("virtual")
    app = wrap(
        [
            Fault(target="create", status=500),  # not a poll: ignored
            Fault(target="poll", status=503, retry_after=7),
            Fault(latency=Latency(seconds=2)),
            Fault(drop=True),
            Fault(target="poll", latency=Latency(seconds=3)),
        ],
        clock=clock,
    )

    async def scenario() -> httpx.Response:
        async with asgi_client(app) as http:
            request = asyncio.create_task(http.get(POLL))
            await settle()
            clock.advance(4.9)
            await settle()
            assert not request.done()
            clock.advance(0.1)
            return await asyncio.wait_for(request, 5)

    response = asyncio.run(scenario())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers[MARKER] == "fault latency:5.000, fault status:503"


def test_latency_under_a_fast_real_clock_takes_scaled_wall_time() -> None:
    clock = MockClock("real", speed=100)
    app = wrap([Fault(latency=Latency(seconds=20))], clock=clock)

    async def timed() -> float:
        async with asgi_client(app) as http:
            started = time.perf_counter()
            assert (await http.get(POLL)).status_code == 404
            return time.perf_counter() - started

    assert 0.19 <= asyncio.run(timed()) < 1.0  # 20 fake seconds at 100x: 0.2 s


def test_uniform_draws_stay_in_bounds_and_repeat_with_a_seed() -> None:
    latency = Latency(distribution="uniform", low=1.5, high=4)
    draws = [draw_latency(latency, random.Random(5)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = random.Random(5)
    values = [draw_latency(latency, rng) for _ in range(2000)]
    assert all(1.5 <= value <= 4 for value in values)
    assert min(values) < 1.6
    assert max(values) > 3.9


def test_lognormal_draws_have_the_median_and_the_cap() -> None:
    rng = random.Random(8)
    values = [draw_latency(Latency(distribution="lognormal", seconds=3), rng) for _ in range(2000)]
    assert 2.7 < statistics.median(values) < 3.3
    assert all(value > 0 for value in values)
    wide = Latency(distribution="lognormal", seconds=200, sigma=3)
    tail = [draw_latency(wide, random.Random(seed)) for seed in range(200)]
    assert max(tail) == MAX_LOGNORMAL_SECONDS
    assert tail == [draw_latency(wide, random.Random(seed)) for seed in range(200)]
    assert draw_latency(Latency(distribution="lognormal", seconds=0), rng) == 0


# --- dropped connections -----------------------------------------------------------------------


def test_drop_in_process_raises_the_clients_transport_error() -> None:
    app = wrap([Fault(target="poll", drop=True)])

    async def scenario() -> None:
        async with asgi_client(app) as http:  # httpx's bare ASGI transport shows the cause
            with pytest.raises(ConnectionDropped, match="injected fault"):
                await http.get(POLL)
            assert (await http.post(CREATE_PATH, json=body())).status_code == 202

    asyncio.run(scenario())
    # The plugin's transport turns it into the client's own transport error, sync and async.
    transport = AppTransport(app)
    try:
        with httpx.Client(transport=transport, base_url=BASE_URL, headers=AUTH) as http_client:
            with pytest.raises(httpx.RemoteProtocolError, match="injected fault"):
                http_client.get(POLL)
            assert http_client.post(CREATE_PATH, json=body()).status_code == 202
    finally:
        transport.close()


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def serving(app: ASGIApp, http: str) -> Iterator[str]:
    """``app`` under a real uvicorn in a thread, on a free loopback port (10 s deadline)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=http, lifespan="off", log_level="warning", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn ({http}) did not start within 10 s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_drop_over_uvicorn_is_a_transport_error_and_the_server_survives(http: str) -> None:
    clock = MockClock("real")
    app = wrap([Fault(target="download", drop=True)], clock=clock)
    logger, records, quiet = logging.getLogger("uvicorn.error"), Records(), DropLogFilter()
    logger.addFilter(quiet)
    logger.addHandler(records)
    try:
        with serving(app, http) as base_url:
            with httpx.Client(base_url=base_url, headers=AUTH, timeout=5) as http_client:
                for _ in range(3):
                    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                        http_client.get(DOWNLOAD)
                head = http_client.head(DOWNLOAD)  # no body to cut: a 502, then closed
                assert (head.status_code, head.headers[MARKER]) == (502, "fault drop")
                assert http_client.post(CREATE_PATH, json=body()).status_code == 202
            fresh = httpx.get(base_url + POLL, headers=AUTH, timeout=5)
            assert fresh.status_code == 404
    finally:
        logger.removeFilter(quiet)
        logger.removeHandler(records)
    drops = [r for r in records.records if "dropped the connection" in r.getMessage()]
    assert len(drops) == 4
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in drops)
