"""Shared test helpers: real images and request bodies, the in-process fake with the calls tests
make on it, hand-moved time, and stored tasks. Fixtures built on them live in ``conftest.py``."""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx2
import numpy as np
from PIL import Image
from starlette.testclient import TestClient

from mockserver import ManualClock, MockClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.redis_shared import RedisShared
from mockserver.domain.redis_store import RedisStore, connect
from mockserver.domain.shared import SharedState
from mockserver.domain.sqlite_store import SQLiteStore, open_database
from mockserver.domain.tasks import Plan, Status, Task
from mockserver.server.app import MockApp

CREATE_PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
AUTH = {"Authorization": "Bearer test-key"}
BASE_URL = "http://wan-mock.test"  # where in-process clients send their requests
START = 1_790_000_000.0  # where ManualClock() starts: 2026-09-21T14:13:20Z
SCENARIO_HEADER = "X-Wan-Mock-Scenario"
INJECTED = "x-wan-mock-injected"  # the header on answers the fake made up on purpose
DAY = 86_400.0
KEY = AUTH["Authorization"].removeprefix("Bearer ")
OTHER_KEY = "other-key-42"
OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}  # a second client, isolated from the first
ADMIN_TOKEN = "s3cret-token"
ADMIN = {"X-Wan-Mock-Admin-Token": ADMIN_TOKEN}
# A result link's token: from a secret of the run, never from the seed (domain/links.py), so
# comparisons of two runs blank it with without_link_tokens.
LINK_TOKEN = re.compile(r"(/files/[^/]+/)[0-9a-f]{32}/")
FAILURE_CODES = (3001, 3002, 3003, 3004, 3005, 4002, 4008)  # the documented task failures
UNKNOWN_ID = "4f0c9e2a-1b7d-4c8e-9a55-0d3b8e6f7a21"  # a well-formed id no fake has made


# --- request data -------------------------------------------------------------------------------


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (640, 480), mode: str = "RGB") -> bytes:
    """A real image file in ``fmt`` (a flat colour, so it stays small)."""
    colour: Any = (30, 120, 200, 255)[: len(mode)] if mode not in ("L", "P", "1") else 128
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def picture(width: int, height: int, flip: bool = False) -> bytes:
    """A PNG with a strong pattern, so that video frames can be compared with it."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    green = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    blue = np.where((x // 80 + y // 80) % 2 == 0, 220, 40).astype(np.uint8)
    rgb = np.stack([green, red, blue] if flip else [red, green, blue], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{b64(data)}"


def body(**fields: Any) -> dict[str, Any]:
    """A valid create body, with ``fields`` added or replaced."""
    base: dict[str, Any] = {
        "prompt": "A black cat looks curiously at the sky",
        "image": "https://example.com/first_frame.jpg",
    }
    base.update(fields)
    return base


def without_link_tokens(text: str) -> str:
    """``text`` with every result link's token replaced by ``<token>``."""
    return LINK_TOKEN.sub(r"\1<token>/", text)


# --- the in-process fake ------------------------------------------------------------------------


@dataclass
class Fake:
    """One in-process fake: its backend, its clock and a client carrying an API key."""

    app: MockApp
    backend: Backend
    clock: MockClock
    client: TestClient

    def create(self, headers: dict[str, str] | None = None, **fields: Any) -> str:
        """Creates a task that must be accepted; returns its id."""
        response = self.client.post(CREATE_PATH, json=body(**fields), headers=headers)
        assert response.status_code == 202, f"create: {response.status_code} {response.text}"
        return str(response.json()["task_info"]["id"])

    def poll(self, task_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.client.get(f"{CREATE_PATH}/{task_id}", headers=headers)
        assert response.status_code == 200, f"poll: {response.status_code} {response.text}"
        return dict(response.json())

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control-plane call that must answer 200 with JSON (a state-changing one is sent as
        JSON, as the control plane requires)."""
        if method != "GET" and not {"json", "content", "data"} & kwargs.keys():
            kwargs["json"] = {}
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == 200, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        assert response.headers["content-type"] == "application/json", response.headers
        return response.json()

    def detail(self, task_id: str) -> dict[str, Any]:
        """The control plane's view of a task: scenario, source, plan and history."""
        return dict(self.ok("GET", f"/_mock/tasks/{task_id}"))

    def now(self) -> float:
        return float(self.ok("GET", "/_mock/clock")["clock"]["unix"])

    def settings(self) -> dict[str, Any]:
        return dict(self.ok("GET", "/_mock/settings"))

    def count(self) -> int:
        """How many tasks the fake holds, for every key."""
        return int(self.ok("GET", "/_mock/tasks")["count"])


@contextmanager
def fake_app(
    settings: Settings | None = None,
    clock: MockClock | None = None,
    headers: dict[str, str] | None = None,
    *,
    raise_server_exceptions: bool = True,
) -> Iterator[Fake]:
    """A started fake (seed 1 and a ManualClock unless given) with a client sending ``AUTH``
    and ``headers``; the app's lifespan ends when the block does."""
    clock = clock if clock is not None else ManualClock()
    app = create_app(settings or Settings(seed=1), clock=clock)
    with TestClient(
        app,
        headers={**AUTH, **(headers or {})},
        base_url=BASE_URL,
        raise_server_exceptions=raise_server_exceptions,
    ) as client:
        yield Fake(app, app.backend, clock, client)


def assert_error(
    response: httpx2.Response, status: int, field: str | None = None, *, code: int | None = None
) -> dict[str, Any]:
    """A JSON error answer in the fake's own shape (a non-empty title and detail); ``field``
    must be named in the detail, ``code`` is the expected ``error_code``."""
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, (
        f"{where}: expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"] == "application/json", (where, response.headers)
    error = dict(response.json())
    assert {"error_code", "title", "detail"} <= error.keys(), (
        f"{where}: not the fake's error shape: {response.text}"
    )
    for text in ("title", "detail"):
        assert isinstance(error[text], str), f"{where}: {text} is not a string: {error}"
        assert error[text], f"{where}: empty {text}: {error}"
    if code is not None:
        assert error["error_code"] == code, f"{where}: expected error_code {code}: {error}"
    if field is not None:
        assert field in error["detail"], f"{where}: the detail does not name {field!r}: {error}"
    return error


def task_path(task_id: str) -> str:
    return f"{CREATE_PATH}/{task_id}"


def create_task(client: TestClient, **fields: Any) -> dict[str, Any]:
    """Creates a task that must be accepted; returns its ``task_info``."""
    response = client.post(CREATE_PATH, json=body(**fields))
    assert response.status_code == 202, response.text
    return dict(response.json()["task_info"])


def poll_task(client: TestClient, task_id: str) -> dict[str, Any]:
    """Polls a task that must be found; returns the whole envelope."""
    response = client.get(task_path(task_id))
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- validation answers ------------------------------------------------------------------------

MISSING = object()  # with_field: leave the field out


def make_client(settings: Settings) -> TestClient:
    """A client of a fake built from ``settings`` (no lifespan: for one-off requests)."""
    return TestClient(create_app(settings), headers=AUTH, base_url=BASE_URL)


DOCUMENTED_ERROR_KEYS = {"error_code", "title", "detail"}


def assert_invalid(response: httpx2.Response, field: str, rule: str) -> dict[str, Any]:
    """A 400 in the documented shape whose detail names ``field`` first; with
    ``explain_errors`` on, its first violation is ``field``/``rule``, else it has exactly
    the documented keys."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["error_code"] == 2001
    assert error["title"] == "Invalid Request"
    assert isinstance(error["detail"], str)
    assert field in error["detail"], error
    if "errors" not in error:
        assert set(error) == DOCUMENTED_ERROR_KEYS, error
        return dict(error)
    assert (error["field"], error["rule"]) == (field, rule), error
    assert error["errors"][0]["detail"] in error["detail"]
    assert error["errors"][0] == {
        "field": field,
        "rule": rule,
        "detail": error["errors"][0]["detail"],
    }
    for entry in error["errors"]:
        assert set(entry) == {"field", "rule", "detail"}
        assert entry["field"] in entry["detail"]
        assert entry["detail"] in error["detail"] or len(error["errors"]) > 10
    return dict(error)


def assert_created(response: httpx2.Response) -> None:
    assert response.status_code == 202, response.text
    assert response.json()["task_info"]["status"] == "pending"


def with_field(name: str, value: object) -> dict[str, Any]:
    """A valid body with ``name`` set to ``value``, or left out when it is ``MISSING``."""
    payload = body()
    if value is MISSING:
        payload.pop(name, None)
    else:
        payload[name] = value
    return payload


# --- scenarios ----------------------------------------------------------------------------------

Via = Literal["header", "prompt"]
VIAS: tuple[Via, ...] = ("header", "prompt")


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@dataclass
class ScenarioFake:
    """A fake driven by scenario tokens: each create carries its token by header or prompt, and
    answers are returned whole so tests can look at refusals."""

    fake: Fake

    @property
    def client(self) -> TestClient:
        return self.fake.client

    @property
    def clock(self) -> MockClock:
        return self.fake.clock

    def create(
        self,
        token: str | None = None,
        via: Via = "header",
        *,
        key: str | None = None,
        **fields: Any,
    ) -> httpx2.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        if token is not None and via == "header":
            headers[SCENARIO_HEADER] = token
        if token is not None and via == "prompt":
            fields["prompt"] = f"A lighthouse at dusk [wan-mock:{token}] slow pan"
        return self.client.post(CREATE_PATH, json=body(**fields), headers=headers)

    def create_id(self, token: str | None = None, via: Via = "header", **fields: Any) -> str:
        response = self.create(token, via, **fields)
        assert response.status_code == 202, response.text
        task_id: str = response.json()["task_info"]["id"]
        return task_id

    def poll(self, task_id: str, key: str | None = None) -> httpx2.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.client.get(f"{CREATE_PATH}/{task_id}", headers=headers)

    def info(self, task_id: str) -> dict[str, Any]:
        response = self.poll(task_id)
        assert response.status_code == 200, response.text
        info: dict[str, Any] = response.json()["task_info"]
        return info

    def task(self, task_id: str) -> dict[str, Any]:
        return self.fake.detail(task_id)

    def duration(self, task_id: str) -> float:
        """Seconds from creation to the last planned step, read from the control plane."""
        steps = self.task(task_id)["plan"]["steps"]
        return seconds(steps[-1]["at"]) - seconds(steps[0]["at"])

    def count(self) -> int:
        return self.fake.count()

    def queue(self) -> list[dict[str, Any]]:
        queue: list[dict[str, Any]] = self.fake.ok("GET", "/_mock/scenarios")["queue"]
        return queue


Make = Callable[..., ScenarioFake]  # the ``make`` fixture: Settings overrides in, a fake out


# --- time ---------------------------------------------------------------------------------------


class FakeTime:
    """Wall and monotonic clocks a test moves by hand."""

    def __init__(self, wall: float = 1_800_000_000.0, mono: float = 500.0) -> None:
        self.wall = wall
        self.mono = mono

    def clock(self, mode: str = "real", speed: float = 1.0, **kwargs: Any) -> MockClock:
        """A MockClock reading this time."""
        return MockClock(
            mode, speed=speed, wall=lambda: self.wall, monotonic=lambda: self.mono, **kwargs
        )


# --- stored state -------------------------------------------------------------------------------

DONE = Plan((Status.PENDING, Status.RUNNING, Status.SUCCEEDED), (0.0, 1.0, 3.0))
SHARED_SETTINGS = Settings(clock="virtual", seed=7)


def task(n: int, *, at: float = START, plan: Plan = DONE, decision: object = None) -> Task:
    """The ``n``-th task of a store test: a fixed id and prompt, owned by ``key``."""
    request = GenerationRequest(f"prompt {n}", ImageRef("url", url="https://example.com/a.png"))
    return Task(f"00000000-0000-4000-8000-{n:012d}", "key", at, request, plan, decision)


def open_backend(path: Path, settings: Settings = SHARED_SETTINGS) -> Backend:
    """A backend on the state file at ``path``, as one ``--workers`` process opens it."""
    conn = open_database(path)
    clock = MockClock(settings.clock, speed=settings.speed, virtual_start=settings.virtual_start)
    return Backend(settings, clock, store=SQLiteStore(conn), shared=SharedState(conn))


def open_redis_backend(url: str, prefix: str, settings: Settings = SHARED_SETTINGS) -> Backend:
    """A backend on Redis at ``url`` under ``prefix``, as one replica opens it."""
    link = connect(url)
    clock = MockClock(settings.clock, speed=settings.speed, virtual_start=settings.virtual_start)
    store, shared = RedisStore(link, prefix), RedisShared(link, prefix)
    return Backend(settings, clock, store=store, shared=shared)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (generous: the
    machine may be loaded, and a test waits only as long as it must)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout} s: {condition}"
        time.sleep(0.01)


def failure_of(fake: Fake, task_id: str, after: float = 3600.0) -> dict[str, Any] | None:
    """A task's error once its plan has run out (``after`` seconds on its ManualClock)."""
    fake.backend.clock.advance(after)
    error = fake.poll(task_id)["task_info"].get("error")
    return None if error is None else dict(error)
