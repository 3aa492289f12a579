"""The hostile set, continued: a web page or a neighbour against the control plane, the result
links and the state file (issue 12); every answer refuses, never acts, and never 500s."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.shared import SharedState
from mockserver.domain.sqlite_store import SQLiteStore, open_database
from mockserver.domain.tasks import Task
from mockserver.media.shape import video_spec
from mockserver.server.app import MockApp
from tests.fuzz_driver import (
    CREATE,
    Driver,
    Headers,
    check,
    create_headers,
    encode,
    succeeded_task,
)
from tests.helpers import AUTH, BASE_URL, CREATE_PATH, body, wait_for

# --- a web page or a neighbour against the control plane and the links (issue 12) ----------------

_TEXT = (b"content-type", b"text/plain")
_FOREIGN = (b"origin", b"http://attacker.example")
# name: (method, target, headers, body, acceptable statuses). The fuzz driver's Host is
# wan-mock.test, the name its in-process server has; each answer must refuse, never act.
CONTROL_HOSTILE: dict[str, tuple[str, bytes, Headers, bytes, set[int]]] = {
    "cross-site text/plain queue": (
        "POST",
        b"/_mock/scenarios",
        [(b"host", b"wan-mock.test"), _TEXT, _FOREIGN, (b"sec-fetch-site", b"cross-site")],
        b'{"scenario": "fail:3002", "count": 1000000}',
        {403},
    ),
    "text/plain reset, no origin": (
        "POST",
        b"/_mock/reset",
        [(b"host", b"wan-mock.test"), _TEXT],
        b"",
        {415},
    ),
    "form clock move": (
        "POST",
        b"/_mock/clock/advance",
        [(b"host", b"wan-mock.test"), (b"content-type", b"application/x-www-form-urlencoded")],
        b"seconds=86400",
        {415},
    ),
    "json from a foreign origin": (
        "PATCH",
        b"/_mock/settings",
        [(b"host", b"wan-mock.test"), (b"content-type", b"application/json"), _FOREIGN],
        b'{"failure_rate": 1}',
        {403},
    ),
    "null origin": (
        "POST",
        b"/_mock/reset",
        [(b"host", b"wan-mock.test"), (b"content-type", b"application/json"), (b"origin", b"null")],
        b"{}",
        {403},
    ),
    "rebinding host reads settings": (
        "GET",
        b"/_mock/settings",
        [(b"host", b"attacker.example:8000")],
        b"",
        {403},
    ),
    "rebinding host reads the journal": (
        "GET",
        b"/_mock/journal",
        [(b"host", b"127.0.0.1.attacker.example")],
        b"",
        {403},
    ),
    "same-site fetch": (
        "GET",
        b"/_mock/tasks",
        [(b"host", b"wan-mock.test"), (b"sec-fetch-site", b"same-site")],
        b"",
        {403},
    ),
}


def _control_state(driver: Driver) -> tuple[float, int, object]:
    """(clock, number of tasks, queue) of the driver's fake, read through the control plane."""
    host = [(b"host", b"wan-mock.test")]
    clock = json.loads(driver.send("setup", "GET", b"/_mock/clock", host).body)["clock"]["unix"]
    tasks = json.loads(driver.send("setup", "GET", b"/_mock/health", host).body)["tasks"]
    queue = json.loads(driver.send("setup", "GET", b"/_mock/scenarios", host).body)["queue"]
    return clock, tasks, queue


@pytest.mark.parametrize("name", list(CONTROL_HOSTILE))
def test_hostile_control_calls_are_refused(driver: Driver, name: str) -> None:
    method, target, headers, content, statuses = CONTROL_HOSTILE[name]
    driver.send("setup", "POST", CREATE, create_headers(), [encode(body())])  # one to reset
    clock, tasks, queue = _control_state(driver)
    reply = driver.send("hostile", method, target, headers, [content])
    payload = check(reply, name)
    assert reply.status in statuses, (name, reply.status, reply.body[:300])
    assert payload is not None
    assert payload["error_code"] == reply.status
    now, tasks_after, queue_after = _control_state(driver)
    assert now - clock < 3600, "a refused call moved the clock"
    assert (tasks_after, queue_after) == (tasks, queue), "a refused call reset or queued"


def test_guessed_links_are_404(driver: Driver, download: bytes) -> None:
    """With the seed known (the driver's fake has seed 1), the task id is known too; the link's
    token is not: every guess at it is a 404, as an unknown task is."""
    _, task_id, token, name = download.decode().strip("/").split("/")
    replica = create_app(Settings(seed=1)).backend.links  # the attacker's own fake, same seed
    guesses = [
        f"/files/{task_id}/{name}",
        f"/files/{task_id}/{'0' * 32}/{name}",
        replica.path(task_id),
        f"/files/{task_id}/{token[:-1]}/{name}",
    ]
    for guess in guesses:
        reply = driver.send("hostile", "GET", guess.encode(), [(b"host", b"wan-mock.test")])
        check(reply, guess)
        assert reply.status == 404, (guess, reply.status, reply.body[:300])
    real = driver.send("hostile", "HEAD", download, [(b"host", b"wan-mock.test")])
    assert real.status == 200, real


# --- a damaged row in the state file ------------------------------------------------------


def test_an_undecodable_task_row_is_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row someone overwrote used to make its poll, its download and the whole listing
    answer 500. Now that task is absent (404: with its owner unreadable, no key may be told it
    exists), the listing answers the others with a count of skipped rows, and the server log
    names the row once."""
    conn = open_database(tmp_path / "state.db")
    app = create_app(
        Settings(seed=1), clock=ManualClock(), store=SQLiteStore(conn), shared=SharedState(conn)
    )
    with TestClient(app, base_url=BASE_URL, headers=AUTH) as client:
        ids = [client.post(CREATE_PATH, json=body()).json()["task_info"]["id"] for _ in range(3)]
        damaged = ids[1]
        client.post(f"/_mock/tasks/{damaged}/succeed", json={}).raise_for_status()
        video = client.get(f"{CREATE_PATH}/{damaged}").json()["videos"][0]
        conn.execute("UPDATE tasks SET data = x'c1ff' WHERE id = ?", (damaged,))
        answers = [
            client.get(f"{CREATE_PATH}/{damaged}"),
            client.get(f"{CREATE_PATH}/{damaged}"),
            client.get(video),
            client.get(f"/_mock/tasks/{damaged}"),
            client.post(f"/_mock/tasks/{damaged}/succeed", json={}),
        ]
        assert [a.status_code for a in answers] == [404] * 5, [a.text for a in answers]
        assert all(a.json()["detail"] for a in answers)
        listing = client.get("/_mock/tasks")
        assert listing.status_code == 200, listing.text
        assert [t["id"] for t in listing.json()["tasks"]] == [ids[0], ids[2]]
        assert (listing.json()["count"], listing.json()["skipped"]) == (2, 1)
        assert client.get(f"{CREATE_PATH}/{ids[2]}").status_code == 200
    logged = [r.getMessage() for r in caplog.records if damaged in r.getMessage()]
    assert len(logged) == 1, logged
    assert "cannot be read" in logged[0], logged


# --- hostile downloads (issue 12: renders and the render cache) ----------------------------


def _task_of(driver: Driver, path: bytes) -> Task:
    _, _, task_id, token, _ = path.decode().split("/")
    app: MockApp = driver.app  # type: ignore[assignment]
    return app.backend.result(task_id, token)[0]


def test_an_abandoned_first_download_leaves_no_render(driver: Driver) -> None:
    """A client that hangs up before the first byte of a fresh video: its render is stopped
    and nothing is kept of it."""
    app: MockApp = driver.app  # type: ignore[assignment]
    path = succeeded_task(driver, prompt="a video nobody asked for before: abandoned").encode()
    renders, dropped = app.videos.renders, app.videos.queue.dropped
    reply = driver.send("hostile", "GET", path, create_headers(), abandon=True)
    check(reply, "abandoned download")
    assert reply.status == 400  # answered, though nobody reads it
    assert app.videos.queue.dropped == dropped + 1
    assert app.videos.queue.queued == 0

    def rendering() -> bool:
        return any(t.name.startswith("wan-mock-render") for t in threading.enumerate())

    wait_for(lambda: not rendering(), timeout=60)  # the encoder stopped (or finished)
    assert app.videos.renders == renders
    assert app.videos.cache.video(video_spec(_task_of(driver, path)).key) is None


def test_a_link_under_a_video_name_is_not_served(driver: Driver, tmp_path: Path) -> None:
    """A symbolic link planted under a video's cache name (to a file only root may read) is
    refused: the video is rendered again and served, never the file behind the link."""
    app: MockApp = driver.app  # type: ignore[assignment]
    path = succeeded_task(driver, prompt="a video nobody asked for before: linked").encode()
    secret = tmp_path / "secret"
    secret.write_bytes(b"root-only")
    secret.chmod(0o600)
    key = video_spec(_task_of(driver, path)).key
    (app.videos.cache.root / f"{key}.mp4").symlink_to(secret)
    reply = driver.send("hostile", "GET", path, create_headers())
    check(reply, "linked video")
    assert reply.status == 200
    assert reply.body[4:8] == b"ftyp"
    assert b"root-only" not in reply.body
    assert not (app.videos.cache.root / f"{key}.mp4").is_symlink()
