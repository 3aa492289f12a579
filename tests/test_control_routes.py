"""The control plane's surface: health, the request journal, JSON 404s and 405s, errors in
its own shape under any dialect, and its absence from the served contract."""

from __future__ import annotations

import pytest

from mockserver import Settings, __version__
from mockserver.domain.journal import fingerprint
from mockserver.server.faults import ConnectionDropped
from mockserver.server.wire import timestamp
from tests.helpers import (
    CREATE_PATH,
    KEY,
    OTHER,
    OTHER_KEY,
    START,
    UNKNOWN_ID,
    Fake,
    assert_error,
    body,
    fake_app,
)

# --- health -------------------------------------------------------------------------------------


def test_health_reports_ok_version_and_task_count(fake: Fake) -> None:
    assert fake.ok("GET", "/_mock/health") == {"status": "ok", "version": __version__, "tasks": 0}
    fake.create()
    fake.create(headers=OTHER)
    assert fake.ok("GET", "/_mock/health")["tasks"] == 2
    head = fake.client.head("/_mock/health")
    assert head.status_code == 200
    assert head.content == b""


# --- journal ------------------------------------------------------------------------------------


def test_journal_is_bounded_by_journal_size_newest_last() -> None:
    with fake_app(Settings(seed=1, journal_size=3)) as fake:
        paths = [f"/step-{n}" for n in range(5)]
        for path in paths:
            fake.client.get(path)
        journal = fake.ok("GET", "/_mock/journal")
        assert journal["count"] == 3
        assert [e["path"] for e in journal["entries"]] == paths[2:]


def test_journal_limit(fake: Fake) -> None:
    for n in range(4):
        fake.client.get(f"/n{n}")
    assert [e["path"] for e in fake.ok("GET", "/_mock/journal?limit=2")["entries"]] == [
        "/n2",
        "/n3",
    ]
    assert fake.ok("GET", "/_mock/journal?limit=0") == {"count": 0, "entries": []}
    assert fake.ok("GET", "/_mock/journal?limit=99")["count"] == 4
    for bad in ("-1", "x", "2.0"):
        assert_error(fake.client.get(f"/_mock/journal?limit={bad}"), 400, "limit")


def test_journal_records_api_calls_including_errors(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(30)
    fake.poll(task_id)
    fake.client.post(CREATE_PATH, json=body(duration=7))  # 400
    fake.client.get(f"{CREATE_PATH}/{UNKNOWN_ID}")  # 404
    fake.client.get(f"{CREATE_PATH}/{task_id}", headers={"Authorization": ""})  # 401
    fake.client.delete(CREATE_PATH)  # 405
    fake.client.get("/nowhere")  # 404, no route
    entries = fake.ok("GET", "/_mock/journal")["entries"]
    seen = [(e["method"], e["path"], e["status"]) for e in entries]
    assert seen == [
        ("POST", CREATE_PATH, 202),
        ("GET", f"{CREATE_PATH}/{task_id}", 200),
        ("POST", CREATE_PATH, 400),
        ("GET", f"{CREATE_PATH}/{UNKNOWN_ID}", 404),
        ("GET", f"{CREATE_PATH}/{task_id}", 401),
        ("DELETE", CREATE_PATH, 405),
        ("GET", "/nowhere", 404),
    ]
    assert entries[0]["at"] == timestamp(START)
    assert entries[1]["at"] == timestamp(START + 30)
    for entry in entries:
        assert set(entry) == {
            *("at", "method", "path", "status", "duration_ms", "owner", "headers"),
            *("request_body", "response_body"),
        }
        assert isinstance(entry["duration_ms"], float | int)
        assert entry["duration_ms"] >= 0


def test_journal_shows_key_fingerprints_only(fake: Fake) -> None:
    fake.create()
    fake.create(headers=OTHER)
    fake.client.get("/openapi.json", headers={"Authorization": ""})
    response = fake.client.get("/_mock/journal")
    owners = [e["owner"] for e in response.json()["entries"]]
    assert owners == [fingerprint(KEY), fingerprint(OTHER_KEY), None]
    assert KEY not in response.text
    assert OTHER_KEY not in response.text


def test_journal_leaves_out_control_plane_calls(fake: Fake) -> None:
    fake.ok("GET", "/_mock/health")
    fake.ok("GET", "/_mock/tasks")
    fake.ok("POST", "/_mock/clock/advance", json={"seconds": 1})
    fake.ok("PATCH", "/_mock/settings", json={})
    fake.client.get("/_mock/nothing-here")
    fake.client.post(f"/_mock/tasks/{UNKNOWN_ID}/succeed")
    assert fake.ok("GET", "/_mock/journal") == {"count": 0, "entries": []}


def test_journal_records_a_dropped_connection_as_status_0(fake: Fake) -> None:
    task_id = fake.create()
    fake.ok("PATCH", "/_mock/settings", json={"faults": [{"target": "poll", "drop": True}]})
    with pytest.raises(ConnectionDropped):  # a bare ASGI client sees the cause itself
        fake.client.get(f"{CREATE_PATH}/{task_id}")
    last = fake.ok("GET", "/_mock/journal")["entries"][-1]
    assert (last["method"], last["path"], last["status"]) == ("GET", f"{CREATE_PATH}/{task_id}", 0)


# --- routing and the contract -------------------------------------------------------------------


def test_the_control_plane_is_never_in_the_contract(fake: Fake) -> None:
    response = fake.client.get("/openapi.json")
    assert response.status_code == 200
    assert not [p for p in response.json()["paths"] if p.startswith("/_mock")]
    assert "_mock" not in response.text
    assert "x-wan-mock-admin-token" not in response.text.lower()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/_mock/health", "GET"),
        ("GET", "/_mock/reset", "POST"),
        ("POST", "/_mock/clock", "GET"),
        ("GET", "/_mock/clock/advance", "POST"),
        ("GET", "/_mock/clock/freeze", "POST"),
        ("DELETE", "/_mock/clock/resume", "POST"),
        ("DELETE", "/_mock/tasks", "GET"),
        ("POST", f"/_mock/tasks/{UNKNOWN_ID}", "GET"),
        ("GET", f"/_mock/tasks/{UNKNOWN_ID}/succeed", "POST"),
        ("PUT", f"/_mock/tasks/{UNKNOWN_ID}/fail", "POST"),
        ("PATCH", "/_mock/scenarios", "DELETE"),
        ("PUT", "/_mock/settings", "PATCH"),
        ("POST", "/_mock/journal", "GET"),
    ],
)
def test_wrong_methods_are_a_json_405(fake: Fake, method: str, path: str, allowed: str) -> None:
    # JSON, so the guard's content-type rule lets it through: the method is what is wrong.
    json: dict[str, object] | None = {} if method != "GET" else None
    response = fake.client.request(method, path, json=json)
    error = assert_error(response, 405, method)
    assert error["error_code"] == 405
    assert allowed in response.headers["allow"], response.headers


@pytest.mark.parametrize(
    "path", ["/_mock/x", "/_mock/", "/_mock", "/_mock/clock/rewind", "/_mock/tasks/a/b/c"]
)
def test_unknown_control_paths_are_a_json_404(fake: Fake, path: str) -> None:
    error = assert_error(fake.client.get(path), 404, path)
    assert error["error_code"] == 404


@pytest.mark.parametrize("error_body", ["envelope", "detail", "random"])
def test_control_plane_errors_keep_their_shape_under_any_dialect(
    fake: Fake, error_body: str
) -> None:
    # The dialect is how the fake imitates the *API*; the control plane is not the API, so its
    # errors keep their detail and field whatever error_body says.
    fake.ok("PATCH", "/_mock/settings", json={"dialect": {"error_body": error_body}})
    for _ in range(3):  # "random" draws a shape per answer
        response = fake.client.post("/_mock/clock/advance", json={"seconds": -1})
        error = assert_error(response, 400, "seconds")
        assert error.get("field") == "seconds", f"dialect error_body={error_body}: {error}"
