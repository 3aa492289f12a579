"""The render queue: bounded (503 with Retry-After past it), fair between API keys, and rid of
renders no client waits for any more, down to the encoder stopping mid-video."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from mockserver import Settings, create_app
from mockserver.domain.errors import RenderQueueFull
from mockserver.media import encode
from mockserver.media.renders import RenderCancelled, RenderQueue
from mockserver.media.shape import VideoSpec
from mockserver.testing.server import ServerThread
from tests.helpers import AUTH, CREATE_PATH, OTHER, body, wait_for

GATE_S = 30.0  # the longest a test's stand-in render waits for its gate


class Gate:
    """Work for a render queue that blocks until let through (or cancelled), recording the
    order in which jobs started and which of them were stopped."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started: list[str] = []
        self.stopped: list[str] = []

    def work(self, name: str) -> Callable[[threading.Event], str]:
        def run(cancelled: threading.Event) -> str:
            self.started.append(name)
            deadline = time.monotonic() + GATE_S
            while not self.open.wait(0.01):
                if cancelled.is_set():
                    self.stopped.append(name)
                    raise RenderCancelled(name)
                assert time.monotonic() < deadline, f"{name}: never let through"
            return name

        return run


def test_past_its_bound_the_queue_refuses_with_a_time_to_retry() -> None:
    gate, queue = Gate(), RenderQueue[str](workers=1, limit=2, per_owner=10)
    running = queue.join("k0", "a", gate.work("k0"))
    wait_for(lambda: gate.started == ["k0"])  # on the render thread: no longer queued
    waiting = [queue.join(f"k{n}", f"owner{n}", gate.work(f"k{n}")) for n in (1, 2)]
    with pytest.raises(RenderQueueFull) as refused:
        queue.join("k3", "owner3", gate.work("k3"))
    assert refused.value.retry_after >= 1
    assert "render_queue" in refused.value.detail
    again = queue.join("k1", "owner1", gate.work("k1"))  # joining a queued render adds no work
    assert again is waiting[0]
    gate.open.set()
    assert [job.future.result(GATE_S) for job in (running, *waiting)] == ["k0", "k1", "k2"]
    for job in (running, *waiting, again):
        queue.leave(job)


def test_one_key_cannot_fill_the_queue() -> None:
    gate, queue = Gate(), RenderQueue[str](workers=1, limit=10, per_owner=2)
    jobs = [queue.join("busy", "a", gate.work("busy"))]
    wait_for(lambda: gate.started == ["busy"])
    jobs += [queue.join(f"a{n}", "a", gate.work(f"a{n}")) for n in (1, 2)]
    with pytest.raises(RenderQueueFull) as refused:
        queue.join("a3", "a", gate.work("a3"))
    assert "render_queue_per_key" in refused.value.detail
    jobs.append(queue.join("b1", "b", gate.work("b1")))  # another key still gets in
    gate.open.set()
    for job in jobs:
        job.future.result(GATE_S)
        queue.leave(job)


def test_keys_take_turns() -> None:
    """Key a queued four videos before key b asked for one: b's comes right after the one
    under way, not after all of a's."""
    gate, queue = Gate(), RenderQueue[str](workers=1, limit=10, per_owner=10)
    jobs = [queue.join("a0", "a", gate.work("a0"))]
    wait_for(lambda: gate.started == ["a0"])
    jobs += [queue.join(f"a{n}", "a", gate.work(f"a{n}")) for n in range(1, 5)]
    jobs += [queue.join("b1", "b", gate.work("b1")), queue.join("c1", "c", gate.work("c1"))]
    gate.open.set()
    for job in jobs:
        job.future.result(GATE_S)
        queue.leave(job)
    assert gate.started == ["a0", "a1", "b1", "c1", "a2", "a3", "a4"]


def test_a_render_nobody_waits_for_is_dropped_or_stopped() -> None:
    gate, queue = Gate(), RenderQueue[str](workers=1, limit=10, per_owner=10)
    running = queue.join("run", "a", gate.work("run"))
    wait_for(lambda: gate.started == ["run"])
    queued = queue.join("queued", "a", gate.work("queued"))
    shared = queue.join("queued", "b", gate.work("queued"))  # a second client of that video
    queue.leave(queued)
    assert queue.queued == 1  # one client still waits for it
    queue.leave(shared)
    assert queue.queued == 0
    assert shared.future.cancelled()
    queue.leave(running)  # the render under way is told to stop
    with pytest.raises(RenderCancelled):
        running.future.result(GATE_S)
    assert gate.stopped == ["run"]
    assert gate.started == ["run"]  # the dropped one never ran
    assert queue.dropped == 2
    later = queue.join("run", "a", gate.work("run"))  # asked again: rendered afresh
    gate.open.set()
    assert later.future.result(GATE_S) == "run"
    queue.leave(later)


def test_the_encoder_stops_mid_video_and_leaves_no_thread(tmp_path: Path) -> None:
    spec = VideoSpec(1920, 1072, 15, True, None, None, "a cat", 3)
    frames = 0

    class AfterTenFrames(threading.Event):
        def is_set(self) -> bool:
            nonlocal frames
            frames += 1
            return frames > 10

    threads = threading.active_count()
    with pytest.raises(RenderCancelled):
        encode.render(spec, None, None, tmp_path / "v.mp4", AfterTenFrames())
    # Stopped at once: a whole render checks at each of its 30 frames, and once more.
    assert frames < 25
    wait_for(lambda: threading.active_count() == threads)  # frame maker and sound ended


def _stand_in(monkeypatch: pytest.MonkeyPatch) -> Gate:
    """Renders through the app replaced by a gate: started, held, stopped on cancel."""
    gate = Gate()

    def render(spec: Any, first: Any, last: Any, path: Path, cancelled: threading.Event) -> None:
        gate.work(spec.prompt)(cancelled)
        path.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(100))

    monkeypatch.setattr(encode, "render", render)
    return gate


async def _succeeded(
    http: httpx.AsyncClient, headers: dict[str, str], prompt: str
) -> tuple[str, str]:
    """A task forced to succeed (its prompt makes its video its own): its id, and the path of
    its video."""
    created = await http.post(CREATE_PATH, json=body(prompt=prompt), headers=headers)
    task_id: str = created.json()["task_info"]["id"]
    assert (await http.post(f"/_mock/tasks/{task_id}/succeed", json={})).status_code == 200
    task = (await http.get(f"{CREATE_PATH}/{task_id}", headers=headers)).json()
    return task_id, urlsplit(task["videos"][0]).path


def test_a_full_queue_answers_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = _stand_in(monkeypatch)
    app = create_app(Settings(render_queue=2, render_queue_per_key=2))

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wan.test") as http:
            urls = [(await _succeeded(http, AUTH, f"video {n}"))[1] for n in range(4)]
            downloads = [asyncio.ensure_future(http.get(urls[0]))]
            await until(lambda: len(gate.started) == 1)  # rendering: no longer queued
            downloads += [asyncio.ensure_future(http.get(url)) for url in urls[1:3]]
            await until(lambda: app.videos.queue.queued == 2)
            refused = await http.get(urls[3])
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error_code"] == 503
            assert "render_queue" in refused.json()["detail"]
            gate.open.set()
            assert [(await d).status_code for d in downloads] == [200, 200, 200]
            assert (await http.get(urls[3])).status_code == 200  # room again

    asyncio.run(scenario())


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GATE_S):
        while not condition():
            await asyncio.sleep(0.01)


def _abandon(base_url: str, path: str) -> None:
    """Ask for ``path`` over a real socket and hang up before the answer."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())


def test_abandoned_first_downloads_do_not_delay_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's reproduction, over TCP: 12 clients ask for 12 fresh videos and hang up.
    Their renders are dropped (one under way is stopped), so another key's video is the next
    render, not the 13th."""
    gate = _stand_in(monkeypatch)
    with ServerThread(Settings(render_queue=16, render_queue_per_key=16)) as server:
        videos = server.app.videos
        with httpx.Client(base_url=server.base_url, timeout=10) as http:

            async def tasks() -> list[tuple[str, str]]:
                async with httpx.AsyncClient(base_url=server.base_url) as client:
                    mine = [await _succeeded(client, AUTH, f"video {n}") for n in range(12)]
                    return [*mine, await _succeeded(client, OTHER, "wanted")]

            *left, (_, wanted) = asyncio.run(tasks())
            abandoned = [path for _, path in left]
            for path in abandoned:
                _abandon(server.base_url, path)

            def answered() -> int:  # the abandoned downloads the fake has finished with
                return sum(e.path in abandoned for e in server.control.journal())

            wait_for(lambda: answered() == 12, timeout=GATE_S)
            assert videos.queue.queued == 0
            # A download that came in while no render ran began one: each was stopped.
            wait_for(lambda: sorted(gate.stopped) == sorted(gate.started))
            stopped = len(gate.started)
            gate.open.set()
            answer = http.get(wanted)
            assert answer.status_code == 200
            assert gate.started[stopped:] == ["wanted"]  # the next render, not the 13th
            assert videos.renders == 1
        assert server.take_errors() == []
