"""What the fuzz tests share: a raw ASGI driver, the invariants every answer must keep, and
byte mutations.

Every answer is checked the same way (:func:`check`): no 5xx, no hang (a per-request deadline),
and every non-2xx carries a JSON body with a non-empty ``detail``; a 400 also names ``field`` and
``rule``, a 401 asks for a bearer token, a 405 lists the allowed methods, a 413 names the limit.

The driver calls the app directly (header names, values and paths as bytes, bodies in any number
of messages, clients that vanish mid-body) and counts what it sends, per part; each part's test
asserts it sent at least its share of :data:`FLOORS`."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Message

from mockserver import Settings
from tests.helpers import AUTH, CREATE_PATH, body

MIN_TOTAL = 20_000
BULK = 17_500  # the seeded in-process run: most of the volume
# The fewest requests each part sends: hypothesis max_examples x requests per example, and the
# bulk loop's length.
FLOORS = {
    "hypothesis-bodies": 500 * 3,
    "hypothesis-paths": 700,
    "hypothesis-range": 400,
    "bulk": BULK,
}
TIMEOUT = 5.0  # seconds for any one request, in process or over a socket
LIMIT = Settings().max_body_bytes


FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same inputs every run: a CI failure reproduces locally
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)

Headers = list[tuple[bytes, bytes]]
CREATE = CREATE_PATH.encode()
JSON_HEADERS: Headers = [
    (b"host", b"wan-mock.test"),
    (b"authorization", AUTH["Authorization"].encode()),
    (b"content-type", b"application/json"),
]


# --- the in-process driver -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    method: str
    target: bytes
    status: int
    headers: dict[str, str]
    body: bytes
    error: str | None = None


class Driver:
    """Calls the ASGI app directly, with raw bytes everywhere, on one private event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.runner = asyncio.Runner()
        self.sent: Counter[str] = Counter()  # requests sent, per part

    def close(self) -> None:
        self.runner.close()

    @contextmanager
    def counting(self, part: str) -> Iterator[None]:
        """Asserts that the block sends at least ``FLOORS[part]`` requests of ``part``."""
        before = self.sent[part]
        yield
        sent = self.sent[part] - before
        assert sent >= FLOORS[part], f"{part}: {sent} requests sent, under its floor {FLOORS[part]}"

    def send(
        self,
        part: str,
        method: str,
        target: bytes,
        headers: Headers,
        chunks: Sequence[bytes] = (b"",),
        *,
        abandon: bool = False,
    ) -> Reply:
        self.sent[part] += 1
        return self.runner.run(self._send(method, target, headers, chunks, abandon))

    async def _send(
        self, method: str, target: bytes, headers: Headers, chunks: Sequence[bytes], abandon: bool
    ) -> Reply:
        raw_path, _, query = target.partition(b"?")
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            # What uvicorn does: the raw target is ASCII, the path is its percent-decoding.
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("wan-mock.test", 80),
        }
        last = len(chunks) - 1
        inbox: deque[Message] = deque(
            {"type": "http.request", "body": chunk, "more_body": abandon or i < last}
            for i, chunk in enumerate(chunks or (b"",))
        )
        if abandon:
            inbox.append({"type": "http.disconnect"})
        finished = asyncio.Event()
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def receive() -> Message:
            if inbox:
                return inbox.popleft()
            await finished.wait()  # like a server: nothing more until the client goes
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        error = None
        try:
            await asyncio.wait_for(self.app(scope, receive, send), TIMEOUT)
        except TimeoutError:
            error = f"no answer in {TIMEOUT} s (hang)"
        except Exception as exc:  # the app raised past its own error handling
            error = f"app raised {exc!r}"
        finally:
            finished.set()
        status = int(start.get("status", 500 if error else 0))
        names = {k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])}
        return Reply(method, target, status, names, b"".join(parts), error)


def check(reply: Reply, context: object = "") -> dict[str, Any] | None:
    """The invariants of every answer; returns the error body of a non-2xx (None otherwise)."""
    where = (
        f"{reply.method} {reply.target[:150]!r} -> {reply.status} {reply.body[:400]!r}"
        f" [{context!r:.300}]"
    )
    assert reply.error is None, f"{reply.error}: {where}"
    assert 200 <= reply.status < 500, f"server error: {where}"
    if reply.status < 300 or reply.method == "HEAD":
        return None
    assert reply.headers.get("content-type", "").startswith("application/json"), where
    try:
        payload = json.loads(reply.body)
    except ValueError:
        raise AssertionError(f"error answer without a JSON body: {where}") from None
    assert isinstance(payload, dict), where
    detail = payload.get("detail")
    assert isinstance(detail, str), where
    assert detail.strip(), where
    assert "error_code" in payload, where
    if reply.target.startswith(b"/_mock"):  # the fake's own: its errors always explain
        assert set(payload) <= {"error_code", "title", "detail", "field", "rule", "errors"}
        if reply.status == 400:
            assert payload.get("field"), where
    else:  # the API: the documented keys only (no driver sets explain_errors)
        assert set(payload) == {"error_code", "title", "detail"}, where
    if reply.status == 400 and payload.get("title") != "Client Disconnected":
        assert ": " in detail, where  # "<field>: <what is wrong>"
    if reply.status == 401:
        assert reply.headers.get("www-authenticate") == "Bearer", where
    if reply.status == 405:
        assert reply.headers.get("allow"), where
    if reply.status == 413:
        assert str(LIMIT) in detail, where
    if reply.status == 416:
        assert reply.headers.get("content-range", "").startswith("bytes */"), where
    return payload


def create_headers(extra: Sequence[tuple[bytes, bytes]] = ()) -> Headers:
    names = {name for name, _ in extra}
    return [h for h in JSON_HEADERS if h[0] not in names] + list(extra)


def encode(payload: object) -> bytes:
    return json.dumps(payload).encode()


def succeeded_task(drv: Driver, **fields: Any) -> str:
    """A task forced to succeeded through the control plane (its request ``body(**fields)``;
    equal requests share one video): its download path."""
    created = drv.send("setup", "POST", CREATE, create_headers(), [encode(body(**fields))])
    assert created.status == 202, created
    task_id = json.loads(created.body)["task_info"]["id"]
    json_type = [(b"host", b"wan-mock.test"), (b"content-type", b"application/json")]
    forced = drv.send("setup", "POST", f"/_mock/tasks/{task_id}/succeed".encode(), json_type)
    assert forced.status == 200, forced
    polled = drv.send("setup", "GET", CREATE + b"/" + task_id.encode(), create_headers())
    info = json.loads(polled.body)
    assert info["task_info"]["status"] == "succeeded", polled
    return str(urlsplit(info["videos"][0]).path)


# --- mutations of bytes ----------------------------------------------------------------------

Mutation = tuple[str, int, int, bytes]


def mutate(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    """Bit flips, truncations, duplicated, removed, inserted and replaced bytes."""
    out = bytearray(data)
    for kind, position, size, extra in mutations:
        at = position % (len(out) + 1)
        if kind == "flip" and at < len(out):
            out[at] ^= 1 << (size % 8)
        elif kind == "truncate":
            del out[at:]
        elif kind == "duplicate":
            out[at:at] = out[at : at + size]
        elif kind == "delete":
            del out[at : at + size]
        elif kind == "insert":
            out[at:at] = extra
        elif kind == "replace":
            out[at : at + len(extra)] = extra
    return bytes(out)


_positions = st.integers(0, 2**20)
mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "duplicate", "delete", "insert", "replace"]),
        _positions,
        st.integers(0, 64),
        st.binary(min_size=1, max_size=16),
    ),
    min_size=1,
    max_size=6,
)


def random_mutations(rng: random.Random) -> list[Mutation]:
    kinds = ["flip", "flip", "flip", "truncate", "duplicate", "delete", "insert", "replace"]
    return [
        (
            rng.choice(kinds),
            rng.randrange(2**20),
            rng.randrange(65),
            rng.randbytes(rng.randint(1, 16)),
        )
        for _ in range(rng.randint(1, 4))
    ]


def rss(pid: int, field: str = "VmRSS") -> int:
    """The resident set size of process ``pid`` in bytes (``VmHWM``: its peak so far)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(field + r":\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) * 1024
