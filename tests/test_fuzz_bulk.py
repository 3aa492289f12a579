"""The volume of the fuzzing, in process: schemathesis negative data from the contract, and a
seeded bulk run of body, header, path and method mutations with the process's memory watched.
The parts' floors add up to at least twenty thousand requests."""

from __future__ import annotations

import base64
import gc
import os
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_from_bytes

import schemathesis
from hypothesis import HealthCheck, settings

from mockserver import Settings, create_app
from mockserver.testing.strategies import audio_urls, image_refs
from tests.fuzz_driver import (
    BULK,
    CREATE,
    FLOORS,
    MIN_TOTAL,
    Driver,
    Headers,
    Reply,
    check,
    create_headers,
    encode,
    mutate,
    random_mutations,
    rss,
)
from tests.helpers import body, image_bytes

CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "openapi.yaml"


# --- schemathesis negative data -----------------------------------------------------------

schemathesis.openapi.format("image-ref", image_refs())
schemathesis.openapi.format("audio-ref", audio_urls())
_negative = schemathesis.openapi.from_path(
    CONTRACT,
    config=schemathesis.Config.from_dict(
        {
            "seed": 4242,
            "generation": {"mode": "negative", "max-examples": 150},
            "auth": {"openapi": {"bearerAuth": {"bearer": "fuzz-key"}}},
        }
    ),
)
_negative.app = create_app(Settings(seed=3))


def _parametrize(schema: Any) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """``schema.parametrize()``, typed (the decorator keeps the test's signature)."""
    return cast("Callable[[Callable[[Any], None]], Callable[[Any], None]]", schema.parametrize())


@_parametrize(_negative)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_negative_data(case: Any) -> None:
    response = case.call()
    headers = {k.lower(): v[0] for k, v in response.headers.items() if v}
    reply = Reply(
        case.method.upper(),
        case.formatted_path.encode(),
        response.status_code,
        headers,
        response.content,
    )
    check(reply, case.body if case.body is not None else case.path_parameters)


# --- seeded bulk: most of the volume, memory watched ---------------------------------------


def _bulk_bodies() -> list[bytes]:
    png = base64.b64encode(image_bytes("PNG", (400, 400))).decode()
    return [
        encode(body()),
        encode(body(image=png)),
        encode(body(image="data:image/png;base64," + png, last_frame=png)),
        encode(
            body(
                negative_prompt="blurry",
                resolution="1080P",
                duration=10,
                prompt_extend=False,
                shot_type="multi",
                audio=True,
                audio_url="https://example.com/a.mp3",
                seed=42,
                safety_filter=False,
                last_frame="https://example.com/last.png",
            )
        ),
    ]


_BULK_PATHS = [
    CREATE,
    CREATE + b"/",
    CREATE + b"/abc",
    b"/files/abc/result_000.mp4",
    b"/openapi.json",
    b"/_mock/health",
    b"/_mock/tasks",
    b"/_mock/journal?limit=5",
    b"/",
]
_METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get"]
_VALUES = [b"", b" ", b"\x00", b"\xff\xfe", b"Bearer", b"application/json", b"bytes=0-1", b"%"]


def _bulk_request(
    rng: random.Random, bodies: list[bytes], download: bytes
) -> tuple[str, bytes, Headers, list[bytes]]:
    raw = rng.choice(bodies)
    roll = rng.random()
    if roll < 0.5:  # a mutated body
        broken = mutate(raw, random_mutations(rng))
        # Most in one message; some split (into at most a few hundred messages).
        size = rng.choice([len(broken) or 1, max(7, len(broken) // 200), 512])
        pieces = [broken[i : i + size] for i in range(0, len(broken), size)]
        return "POST", CREATE, create_headers(), pieces or [b""]
    if roll < 0.75:  # mutated header names and values on a valid body
        headers = create_headers()
        for _ in range(rng.randint(1, 3)):
            name, value = (
                headers[rng.randrange(len(headers))]
                if rng.random() < 0.6
                else (
                    rng.choice(
                        [b"x-wan-mock-scenario", b"accept", rng.randbytes(rng.randint(1, 8))]
                    ),
                    rng.choice(_VALUES),
                )
            )
            value = mutate(value + rng.choice(_VALUES), random_mutations(rng))
            if name != b"content-length":
                headers = [h for h in headers if h[0] != name] + [(name, value)]
        return "POST", CREATE, headers, [raw]
    if roll < 0.92:  # mutated paths and methods
        target = mutate(rng.choice(_BULK_PATHS), random_mutations(rng))
        target = quote_from_bytes(target, safe="/%?=&.~-_").encode()
        return rng.choice(_METHODS), target or b"/", create_headers(), [raw]
    value = mutate(b"bytes=" + str(rng.randrange(10**6)).encode() + b"-", random_mutations(rng))
    return rng.choice(["GET", "HEAD"]), download, create_headers([(b"range", value)]), []


def test_seeded_bulk_mutation_with_bounded_memory(driver: Driver, download: bytes) -> None:
    rng = random.Random(2026)
    bodies = _bulk_bodies()
    statuses: Counter[int] = Counter()
    for _ in range(50):  # warm caches before measuring
        check(driver.send("bulk", *_bulk_request(rng, bodies, download)))
    # Memory: the resident set of this process (tracemalloc would make the run 5x slower).
    # Created tasks are kept by design (about 6,000 of them here), the rest must not pile up.
    gc.collect()
    before = rss(os.getpid())
    for _ in range(BULK):
        method, target, headers, chunks = _bulk_request(rng, bodies, download)
        reply = driver.send("bulk", method, target, headers, chunks)
        check(reply, (headers, chunks[:1]))
        statuses[reply.status] += 1
    gc.collect()
    growth = rss(os.getpid()) - before
    print(f"\nbulk: {dict(statuses)}; RSS growth {growth / 2**20:.1f} MiB")
    assert growth < 100 * 2**20, growth
    # The run explored: successes, refusals of every kind.
    assert {202, 400, 404, 405} <= set(statuses), statuses


# --- the count -------------------------------------------------------------------------------


def test_at_least_twenty_thousand_requests_are_sent() -> None:
    """The volume: the bulk loop sends BULK requests, and each hypothesis test asserts it sent
    at least its floor (Driver.counting), so whatever the order, the parts add up."""
    assert sum(FLOORS.values()) >= MIN_TOTAL, FLOORS
