"""One behaviour suite, run against both fixtures: ``wan_mock`` (in-process, reached at the real
base URL) and ``wan_server`` (a real server on a loopback port).

For one seed, the same script of requests and control calls must give the same statuses, the
same JSON bodies (only the host of video URLs differs), the same task views and the same
journal, whichever fixture answered, and the same as a plain app built without the plugin.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest

from mockserver import Control, Settings, create_app
from mockserver.testing.api import WanMock
from mockserver.testing.bridge import AppTransport
from tests.helpers import without_link_tokens

SEED = 11
REAL_BASE_URL = "https://api.mulerouter.ai"
PATH = "/vendors/alibaba/v1/wan2.6-i2v/generation"
AUTH = {"Authorization": "Bearer parity-key"}
OTHER_AUTH = {"Authorization": "Bearer another-key"}
BODY = {"prompt": "A black cat looks at the sky", "image": "https://example.com/cat.jpg"}
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "content-range",
    "accept-ranges",
    "etag",
    "allow",
    "retry-after",
    "www-authenticate",
    "x-wan-mock-injected",
)

pytestmark = pytest.mark.wan_mock(seed=SEED)

Transcript = list[tuple[str, Any]]


@pytest.fixture(params=["wan_mock", "wan_server"])
def plugin_fake(request: pytest.FixtureRequest) -> WanMock:
    """Either fixture of the plugin: the in-process ``wan_mock`` or the served ``wan_server``."""
    mock = request.getfixturevalue(request.param)
    assert isinstance(mock, WanMock)
    return mock


def api_base_url(plugin_fake: WanMock, request: pytest.FixtureRequest) -> str:
    """Where a client of this fixture points: the real API for ``wan_mock``, else the server."""
    if "wan_mock" in request.fixturenames:
        return REAL_BASE_URL
    assert plugin_fake.base_url.startswith("http://127.0.0.1:")
    return plugin_fake.base_url


def normalise_video(url: str) -> str:
    """A video URL with its scheme and host replaced, and its token (a secret of each run)."""
    parts = urlsplit(url)
    assert parts.path.startswith("/files/"), url
    path = without_link_tokens(parts.path)
    return "<host>" + path + (f"?{parts.query}" if parts.query else "")


def normalise(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("videos"), list):
        return {**body, "videos": [normalise_video(url) for url in body["videos"]]}
    return body


def view(response: httpx.Response) -> dict[str, Any]:
    """Everything of an answer that must not depend on the fixture."""
    kind = response.headers.get("content-type", "")
    body: Any
    if kind.startswith("application/json"):
        body = normalise(response.json())
    else:
        body = {
            "bytes": len(response.content),
            "sha256": hashlib.sha256(response.content).hexdigest(),
        }
    kept: tuple[str, ...] = KEPT_HEADERS
    if kind.startswith("application/json"):  # its length follows the host in video URLs
        kept = tuple(name for name in KEPT_HEADERS if name != "content-length")
    headers = {name: response.headers.get_list(name) for name in kept}
    return {
        "status": response.status_code,
        "headers": {k: v for k, v in headers.items() if v},
        "body": body,
    }


def task_id(response: httpx.Response) -> str:
    found = response.json()["task_info"]["id"]
    assert isinstance(found, str)
    return found


def run_script(
    plugin_fake: WanMock, base_url: str, transport: httpx.BaseTransport | None = None
) -> Transcript:
    """The shared behaviour: every step's answer, in order."""
    out: Transcript = []

    def record(label: str, response: httpx.Response) -> httpx.Response:
        out.append((label, view(response)))
        return response

    with (
        httpx.Client(base_url=base_url, headers=AUTH, timeout=10, transport=transport) as api,
        httpx.Client(base_url=base_url, timeout=10, transport=transport) as anonymous,
    ):
        # create, advance, poll until succeeded
        first = task_id(record("create", api.post(PATH, json=BODY)))
        record("poll at once", api.get(f"{PATH}/{first}"))
        out.append(("advance 0.5", msgspec.to_builtins(plugin_fake.advance(0.5))))
        record("poll at 0.5 s", api.get(f"{PATH}/{first}"))
        out.append(("advance 60", msgspec.to_builtins(plugin_fake.advance(60))))
        done = record("poll done", api.get(f"{PATH}/{first}"))
        video = done.json()["videos"][0]
        assert done.json()["task_info"]["status"] == "succeeded"

        # the result video: HEAD, GET and a range
        record("head video", api.head(video))
        record("get video", api.get(video))
        record("range video", api.get(video, headers={"Range": "bytes=10-29"}))

        # failures: a scenario header, then the queue (two tasks), then forced outcomes
        header_fail = task_id(
            record(
                "create fail:3004",
                api.post(PATH, json=BODY, headers={"X-Wan-Mock-Scenario": "fail:3004"}),
            )
        )
        plugin_fake.queue("fail:3002", count=2)
        queued = [task_id(record(f"create queued {n}", api.post(PATH, json=BODY))) for n in (1, 2)]
        forced_ok = task_id(record("create to succeed", api.post(PATH, json={**BODY, "seed": 7})))
        forced_fail = task_id(record("create to fail", api.post(PATH, json=BODY)))
        out.append(("force succeed", plugin_fake.succeed(forced_ok)))
        out.append(("force fail", plugin_fake.fail(forced_fail, 3003)))
        out.append(("advance 120", msgspec.to_builtins(plugin_fake.advance(120))))
        for name, tid in [("header fail", header_fail), ("queued 1", queued[0])]:
            record(f"poll {name}", api.get(f"{PATH}/{tid}"))
        record("poll queued 2", api.get(f"{PATH}/{queued[1]}"))
        record("poll forced succeed", api.get(f"{PATH}/{forced_ok}"))
        record("poll forced fail", api.get(f"{PATH}/{forced_fail}"))

        # errors: 400 validation, 401, 404 (unknown id and another key's task), 405
        record(
            "400 validation",
            api.post(PATH, json={"prompt": "", "image": "not a url", "duration": 7}),
        )
        record("400 malformed json", api.post(PATH, content=b"{", headers=_json_type()))
        record("401 no key", anonymous.post(PATH, json=BODY))
        record("401 no bearer key", api.post(PATH, json=BODY, headers={"Authorization": "Bearer"}))
        record("401 wrong scheme", api.get(f"{PATH}/{first}", headers={"Authorization": "Basic x"}))
        record("404 unknown", api.get(f"{PATH}/00000000-0000-4000-8000-000000000000"))
        record("404 another key", api.get(f"{PATH}/{first}", headers=OTHER_AUTH))
        record("405 method", api.delete(PATH))

    out.append(("now", msgspec.to_builtins(plugin_fake.now())))
    return out


def _json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def control_views(plugin_fake: WanMock) -> dict[str, Any]:
    """``tasks()`` as they are, and ``calls`` without their wall-clock durations. The calls are
    compared as a sorted list: that each one is journalled in order, by the time its client has
    the answer, is the business of ``test_calls_hold_each_download_once_it_is_answered``."""
    calls = sorted(
        (c.at, c.method, without_link_tokens(c.path), c.status, c.owner) for c in plugin_fake.calls
    )
    return {"tasks": msgspec.to_builtins(plugin_fake.tasks()), "calls": calls}


@pytest.fixture(scope="module")
def reference() -> tuple[Transcript, dict[str, Any]]:
    """The script against a plain app with the same seed, built without the plugin."""
    transport = AppTransport(create_app(Settings(seed=SEED, clock="virtual")))
    with Control("http://reference.test", transport=transport) as control:
        mock = WanMock("http://reference.test", control)
        transcript = run_script(mock, mock.base_url, transport)
        views = control_views(mock)
    transport.close()
    return transcript, views


def test_the_script_answers_as_the_plain_app_does(
    plugin_fake: WanMock,
    request: pytest.FixtureRequest,
    reference: tuple[Transcript, dict[str, Any]],
) -> None:
    transcript = run_script(plugin_fake, api_base_url(plugin_fake, request))
    expected, expected_views = reference
    assert [label for label, _ in transcript] == [label for label, _ in expected]
    for (label, got), (_, wanted) in zip(transcript, expected, strict=True):
        assert got == wanted, f"step {label!r} differs"
    assert control_views(plugin_fake) == expected_views


def test_the_script_covers_what_it_claims(reference: tuple[Transcript, dict[str, Any]]) -> None:
    """Guards the script itself: each step reached the state it is named after."""
    steps = dict(reference[0])
    assert steps["create"]["status"] == 202
    assert steps["poll at once"]["body"]["task_info"]["status"] == "pending"
    assert steps["poll done"]["body"]["videos"][0].startswith("<host>/files/")
    assert steps["head video"]["status"] == 200
    assert steps["head video"]["headers"]["content-type"] == ["video/mp4"]
    assert steps["range video"]["status"] == 206
    assert steps["poll header fail"]["body"]["task_info"]["error"]["code"] == 3004
    assert steps["poll queued 1"]["body"]["task_info"]["error"]["code"] == 3002
    assert steps["poll queued 2"]["body"]["task_info"]["error"]["code"] == 3002
    assert steps["poll forced succeed"]["body"]["task_info"]["status"] == "succeeded"
    assert steps["poll forced fail"]["body"]["task_info"]["error"]["code"] == 3003
    assert steps["400 validation"]["status"] == 400
    detail = steps["400 validation"]["body"]["detail"]
    assert "prompt: " in detail
    assert "duration: " in detail
    assert steps["401 no key"]["status"] == 401
    assert steps["401 no key"]["headers"]["www-authenticate"] == ["Bearer"]
    assert steps["404 unknown"]["status"] == steps["404 another key"]["status"] == 404
    assert steps["404 another key"]["body"]["error_code"] == 2005
    assert steps["405 method"]["status"] == 405
    requests = [step for step in reference[0] if isinstance(step[1], dict) and "status" in step[1]]
    assert len(reference[1]["calls"]) == len(requests)  # every API request is journalled


def test_both_fixtures_side_by_side_answer_identically(
    wan_mock: WanMock, wan_server: WanMock
) -> None:
    in_process = run_script(wan_mock, REAL_BASE_URL)
    served = run_script(wan_server, wan_server.base_url)
    assert in_process == served
    assert control_views(wan_mock) == control_views(wan_server)


def test_calls_hold_each_download_once_it_is_answered(
    plugin_fake: WanMock, request: pytest.FixtureRequest
) -> None:
    """A client that has its answer finds the request as the last entry of ``calls``: a test
    may download the video and ``assert_called("GET", "/files/")`` straight away."""
    with httpx.Client(base_url=api_base_url(plugin_fake, request), headers=AUTH, timeout=10) as api:
        first = task_id(api.post(PATH, json=BODY))
        plugin_fake.succeed(first)
        video = api.get(f"{PATH}/{first}").json()["videos"][0]
        path = urlsplit(video).path
        late: list[str] = []
        for _ in range(20):
            for method, headers in (("GET", {}), ("GET", {"Range": "bytes=0-9"}), ("HEAD", {})):
                answer = api.request(method, video, headers=headers)
                last = plugin_fake.calls[-1]
                seen = (last.method, last.path, last.status)
                if seen != (method, path, answer.status_code):
                    late.append(f"{method} {headers} -> {answer.status_code}, calls[-1] was {seen}")
    assert not late, f"{len(late)} of 60 downloads were not yet in calls: {late[:3]}"
