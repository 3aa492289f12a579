"""Hypothesis mutations, in process: real valid bodies mutated byte by byte, mutated paths,
methods and headers, and Range headers on a real download; each answer keeps the invariants of
:func:`tests.fuzz_driver.check`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mockserver.testing.strategies import valid_requests
from tests.fuzz_driver import (
    CREATE,
    FUZZ,
    Driver,
    Headers,
    Mutation,
    check,
    create_headers,
    encode,
    mutate,
    mutations,
)
from tests.helpers import CREATE_PATH, body

# --- hypothesis: real valid bodies, mutated -----------------------------------------------


@given(payload=valid_requests(), changes=mutations)
@settings(FUZZ, max_examples=500)
def mutated_valid_bodies(driver: Driver, payload: dict[str, Any], changes: list[Mutation]) -> None:
    raw = encode(payload)
    accepted = driver.send("hypothesis-bodies", "POST", CREATE, create_headers(), [raw])
    check(accepted, payload)
    assert accepted.status == 202, accepted
    broken = mutate(raw, changes)
    # Once in one message, once a few bytes at a time (as a slow client would).
    check(driver.send("hypothesis-bodies", "POST", CREATE, create_headers(), [broken]), changes)
    pieces = [broken[i : i + 4096] for i in range(0, len(broken), 4096)] or [b""]
    check(driver.send("hypothesis-bodies", "POST", CREATE, create_headers(), pieces), changes)


def test_mutated_valid_bodies_get_a_documented_answer(driver: Driver) -> None:
    with driver.counting("hypothesis-bodies"):
        mutated_valid_bodies(driver)


# --- hypothesis: paths, methods and headers -----------------------------------------------

_segments = st.one_of(
    st.sampled_from(["..", ".", "", "%2e%2e", "%2F", "%00", "%ff", "%", "%zz", "generation", "~"]),
    st.binary(max_size=24).map(lambda b: quote_from_bytes(b, safe="")),
    st.text(max_size=12).map(lambda t: quote_from_bytes(t.encode("utf-8", "surrogatepass"))),
    st.integers(1, 20_000).map("a".__mul__),  # very long segments
)
_bases = st.sampled_from(
    [
        CREATE_PATH,
        CREATE_PATH + "/",
        "/files",
        "/openapi.json",
        "/vendors/alibaba/v1",
        "/_mock/health",
        "/_mock/tasks",
        "",
    ]
)
paths = st.builds(
    lambda base, segments, query: (base + "".join("/" + s for s in segments) + query).encode(),
    _bases,
    st.lists(_segments, max_size=4),
    st.one_of(st.just(""), st.binary(max_size=16).map(lambda b: "?" + quote_from_bytes(b))),
)
methods = st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
_header_values = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(1, 100_000).map(b"x".__mul__),
)
authorizations = st.one_of(
    st.sampled_from(
        [
            b"Bearer test-key",
            b"bearer test-key",
            b"BEARER   test-key  ",
            b"Bearer",
            b"Bearer ",
            b"Bearer \x00",
            b"Bearer \xff\xfe",
            b"Basic dGVzdDp0ZXN0",
            b"Token test-key",
            b"",
            b" ",
            b"Bearer a b c",
            b"Bearer test-key, Bearer other",
        ]
    ),
    _header_values.map(b"Bearer ".__add__),
    _header_values,
)
content_types = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"APPLICATION/JSON; charset=utf-8",
            b"application/vnd.api+json",
            b"application/json; charset=latin-1",
            b"text/plain",
            b"multipart/form-data; boundary=x",
            b"application/x-www-form-urlencoded",
            b"application/",
            b";",
            b"",
        ]
    ),
    _header_values,
)
_names = st.one_of(
    st.sampled_from([b"x-wan-mock-scenario", b"range", b"host", b"accept", b"traceparent"]),
    st.binary(min_size=1, max_size=20),
)
extra_headers = st.lists(st.tuples(_names, _header_values), max_size=4)


@given(
    method=methods,
    target=paths,
    auth=st.one_of(st.none(), authorizations),
    content_type=st.one_of(st.none(), content_types),
    extra=extra_headers,
)
@example(method="GET", target=b"/files/../openapi.json", auth=None, content_type=None, extra=[])
@example(method="POST", target=CREATE + b"/%2e%2e", auth=None, content_type=None, extra=[])
@example(method="GET", target=b"/" + b"a/" * 50_000, auth=None, content_type=None, extra=[])
@settings(FUZZ, max_examples=700)
def mutated_paths_methods_and_headers(
    driver: Driver,
    method: str,
    target: bytes,
    auth: bytes | None,
    content_type: bytes | None,
    extra: Headers,
) -> None:
    headers: Headers = [(b"host", b"wan-mock.test")]
    headers += [(b"authorization", auth)] if auth is not None else []
    headers += [(b"content-type", content_type)] if content_type is not None else []
    headers += [(name, value) for name, value in extra if name.lower() != b"content-length"]
    reply = driver.send("hypothesis-paths", method, target, headers, [encode(body())])
    check(reply, headers)


def test_mutated_paths_methods_and_headers_get_a_documented_answer(driver: Driver) -> None:
    with driver.counting("hypothesis-paths"):
        mutated_paths_methods_and_headers(driver)


# --- hypothesis: Range on a real download -------------------------------------------------

_offsets = st.one_of(
    st.integers(0, 2**70).map(str), st.just(""), st.text("0123456789-+ ", max_size=6)
)
ranges = st.one_of(
    st.builds(
        lambda unit, specs: f"{unit}={','.join(specs)}".encode("utf-8", "surrogatepass"),
        st.sampled_from(["bytes", "BYTES", " bytes ", "items", ""]),
        # Sets of several, some unsatisfiable, each answered in JSON.
        st.lists(st.builds("{}-{}".format, _offsets, _offsets), max_size=4),
    ),
    _header_values,
    st.sampled_from(
        [b"bytes=\xb2-\xb3", b"bytes=-0", b"bytes=0-0", b"bytes=0-1,2-3", b"bytes=0-" + b"9" * 5000]
    ),
)


@given(
    method=st.sampled_from(["GET", "HEAD"]), value=ranges, auth=st.one_of(st.none(), authorizations)
)
@settings(FUZZ, max_examples=400)
def range_headers(
    driver: Driver, download: bytes, method: str, value: bytes, auth: bytes | None
) -> None:
    headers: Headers = [(b"host", b"wan-mock.test"), (b"range", value)]
    headers += [(b"authorization", auth)] if auth is not None else []
    reply = driver.send("hypothesis-range", method, download, headers)
    payload = check(reply, value)
    assert reply.status in (200, 206, 400, 416), reply
    if reply.status == 206 and "multipart/byteranges" not in reply.headers["content-type"]:
        assert reply.headers["content-range"].startswith("bytes "), reply.headers
    if payload is not None and reply.status == 400:
        assert payload["detail"].startswith("Range: "), payload


def test_range_headers_on_downloads(driver: Driver, download: bytes) -> None:
    with driver.counting("hypothesis-range"):
        range_headers(driver, download)


@pytest.mark.parametrize(
    "value",
    [b"bytes=0-" + b"9" * 5000, b"bytes=0-1,-0", b"bytes=0-1,999999999-"],
)
def test_range_edge_cases_are_json(driver: Driver, download: bytes, value: bytes) -> None:
    """A 5000-digit offset, and sets of ranges of which only some are satisfiable, get the
    fake's JSON answer like any other Range."""
    reply = driver.send("hypothesis-range", "GET", download, [(b"range", value)])
    check(reply, value)
