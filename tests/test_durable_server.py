"""``wan-mock serve --state`` and ``--workers`` as real processes: kill -9 loses no
acknowledged task, SIGTERM drains, workers share tasks, clock and control plane, and a large
state file opens without loading its tasks."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

import mockserver.domain.sqlite_store as sqlite_store
from mockserver.domain.sqlite_store import SQLiteStore, encode_task, open_database
from mockserver.domain.store import retired_at
from mockserver.domain.tasks import Task
from mockserver.media.cache import SUBDIRECTORY
from tests.helpers import b64, open_backend, picture, task
from tests.server_process import running_server

API = "/vendors/alibaba/v1/wan2.6-i2v/generation"
AUTH = {"Authorization": "Bearer durable"}
BODY = {"prompt": "a cat", "image": "https://example.com/cat.png"}


def create(client: httpx.Client) -> str:
    response = client.post(API, json=BODY, headers=AUTH)
    assert response.status_code in (200, 201, 202), response.text
    task_id: str = response.json()["task_info"]["id"]
    return task_id


def test_kill_9_loses_no_acknowledged_task(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    with running_server("--state", state, "--no-access-log") as server:
        with httpx.Client(base_url=server.base_url) as client:
            made = [create(client) for _ in range(200)]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(5)
    with (
        running_server("--state", state, "--no-access-log") as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        for task_id in made:
            assert client.get(f"{API}/{task_id}", headers=AUTH).status_code == 200
        assert client.get("/_mock/health").json()["tasks"] == 200


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_finishes_the_request_in_flight_and_flushes(tmp_path: Path, workers: str) -> None:
    state = tmp_path / "state.db"
    slow = json.dumps([{"target": "create", "latency": {"seconds": 1.0}}])
    answers: list[httpx.Response] = []
    with running_server(
        "--state",
        str(state),
        "--workers",
        workers,
        "--no-access-log",
        env={"WAN_MOCK_FAULTS": slow},
    ) as server:
        caller = threading.Thread(
            target=lambda: answers.append(
                httpx.post(server.base_url + API, json=BODY, headers=AUTH, timeout=10)
            )
        )
        caller.start()
        threading.Event().wait(0.4)  # the create is now waiting out its latency
        server.process.send_signal(signal.SIGTERM)
        caller.join(10)
        # uvicorn re-raises the SIGTERM once it has drained and shut down.
        assert server.process.wait(10) in (0, -signal.SIGTERM)
    assert answers, "the request in flight got no answer"
    assert answers[0].status_code in (200, 201, 202)
    # Flushed: the WAL was folded into the file when the server closed it.
    wal = Path(str(state) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    store = SQLiteStore(open_database(state))
    assert answers[0].json()["task_info"]["id"] in store
    store.close()


def test_two_workers_share_tasks_and_the_control_plane() -> None:
    with running_server("--workers", "2", "--clock", "virtual", "--no-access-log") as server:
        url = server.base_url
        task_id = create(httpx.Client(base_url=url))
        httpx.post(url + "/_mock/clock/advance", json={"seconds": 600}).raise_for_status()
        httpx.patch(url + "/_mock/settings", json={"failure_rate": 1.0}).raise_for_status()
        workers: set[str] = set()
        # New connection each time, so the kernel may hand it to either worker.
        for _ in range(400):
            poll = httpx.get(url + f"{API}/{task_id}", headers=AUTH)
            assert poll.json()["task_info"]["status"] == "succeeded"
            clock = httpx.get(url + "/_mock/clock").json()["clock"]
            assert clock["unix"] == 1_767_225_600 + 600
            settings = httpx.get(url + "/_mock/settings")
            assert settings.json()["failure_rate"] == 1.0
            workers |= {r.headers["x-wan-mock-worker"] for r in (poll, settings)}
            if len(workers) == 2:
                break
        assert len(workers) == 2, "every request went to one worker"
        httpx.post(url + "/_mock/reset", json={}).raise_for_status()
        for _ in range(20):
            assert httpx.get(url + f"{API}/{task_id}", headers=AUTH).status_code == 404
            assert httpx.get(url + "/_mock/settings").json()["failure_rate"] == 0.0


def test_a_large_state_file_opens_without_decoding_its_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = open_database(tmp_path / "db")
    tasks = [task(n, at=1_767_225_600.0) for n in range(5000)]
    with sqlite_store.transaction(conn):
        conn.executemany(
            "INSERT INTO tasks (id, retired_at, data) VALUES (?, ?, ?)",
            [(t.id, retired_at(t), encode_task(t)) for t in tasks],
        )
    conn.close()
    decoded: list[str] = []
    real = sqlite_store.decode_task

    def counting(task_id: str, data: bytes) -> Task:
        decoded.append(task_id)
        return real(task_id, data)

    monkeypatch.setattr(sqlite_store, "decode_task", counting)
    backend = open_backend(tmp_path / "db")
    assert decoded == []
    assert len(backend.store) == 5000
    assert backend.find(tasks[1234].id).request == tasks[1234].request
    assert decoded == [tasks[1234].id]
    backend.store.close()


def test_kill_9_of_a_worker_under_load_loses_no_acknowledged_task(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    acknowledged: list[str] = []
    workers: set[str] = set()
    refused: list[str] = []
    stop = threading.Event()
    with running_server("--workers", "2", "--state", state, "--no-access-log") as server:

        def client() -> None:
            with httpx.Client(base_url=server.base_url, timeout=5) as http:
                while not stop.is_set():
                    try:
                        # A new connection each time, so creates reach every worker (also
                        # one that started after the first answered).
                        answer = http.post(API, json=BODY, headers={**AUTH, "Connection": "close"})
                    except httpx.TransportError:
                        continue  # cut off by the kill: never acknowledged
                    if answer.status_code not in (200, 201, 202):
                        refused.append(f"{answer.status_code} {answer.text}")
                        continue
                    acknowledged.append(answer.json()["task_info"]["id"])
                    workers.add(answer.headers["x-wan-mock-worker"])

        clients = [threading.Thread(target=client) for _ in range(6)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 10
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(workers) == 2, "the load never reached both workers"
        before = len(acknowledged)
        os.kill(int(sorted(workers)[0]), signal.SIGKILL)
        time.sleep(1.5)  # the supervisor notices and starts a replacement meanwhile
        stop.set()
        for thread in clients:
            thread.join(10)
        assert len(acknowledged) > before, "no create was acknowledged after the kill"
        with httpx.Client(base_url=server.base_url) as http:
            missing = [
                task_id
                for task_id in acknowledged
                if http.get(f"{API}/{task_id}", headers=AUTH).status_code != 200
            ]
    assert refused == []
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged tasks lost"


def test_workers_without_state_share_a_temporary_file_removed_at_exit() -> None:
    with running_server("--workers", "2", "--no-access-log") as server:
        match = re.search(r"state (\S+), 2 worker\(s\)", "".join(server.output))
        assert match is not None, server.output
        state = Path(match.group(1))
        assert state.exists()
        task_id = create(httpx.Client(base_url=server.base_url))
        assert httpx.get(f"{server.base_url}{API}/{task_id}", headers=AUTH).status_code == 200
    assert not state.parent.exists()


def test_workers_render_from_the_kept_image_whichever_one_answers(tmp_path: Path) -> None:
    image = b64(picture(640, 480))
    state = tmp_path / "state.db"
    args = ("--state", str(state), "--workers", "2", "--clock", "virtual", "--no-access-log")
    with running_server(*args) as server:
        url = server.base_url
        created = httpx.post(url + API, json={**BODY, "image": image}, headers=AUTH)
        task_id = created.json()["task_info"]["id"]
        httpx.post(url + "/_mock/clock/advance", json={"seconds": 600}).raise_for_status()
        video = httpx.get(f"{url}{API}/{task_id}", headers=AUTH).json()["videos"][0]
        seen: dict[str, tuple[str, bytes]] = {}
        for _ in range(200):  # a new connection each time: either worker may answer
            answer = httpx.get(video, timeout=60)
            assert answer.status_code == 200
            seen[answer.headers["x-wan-mock-worker"]] = (answer.headers["etag"], answer.content)
            if len(seen) == 2:
                break
        assert len(seen) == 2, "every download went to one worker"
        # Both made it from the image the other worker kept: the same key, the same bytes.
        (one, two) = seen.values()
        assert one == two
    assert list((tmp_path / "state.db.media" / SUBDIRECTORY).glob("*.img"))
    with running_server("--state", str(state), "--clock", "virtual", "--no-access-log") as again:
        answer = httpx.get(video.replace(url, again.base_url), timeout=60)
        assert (answer.headers["etag"], answer.content) == one
