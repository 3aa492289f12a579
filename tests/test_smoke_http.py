from __future__ import annotations

from starlette.testclient import TestClient

from mockserver import ManualClock
from tests.helpers import CREATE_PATH, body


def test_create_then_poll_to_success(client: TestClient, clock: ManualClock) -> None:
    created = client.post(CREATE_PATH, json=body())
    assert created.status_code == 202
    task_id = created.json()["task_info"]["id"]
    clock.advance(60)
    polled = client.get(f"{CREATE_PATH}/{task_id}")
    assert polled.status_code == 200
    assert polled.json()["task_info"]["status"] == "succeeded"
    video = client.get(polled.json()["videos"][0])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
