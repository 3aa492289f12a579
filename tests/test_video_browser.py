"""A real browser plays a result video: headless Chromium, a <video> element, the fake served by
uvicorn. The page reports what the element saw to a tiny loopback server of the test's own."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver import Settings
from mockserver.testing.server import ServerThread
from tests.helpers import AUTH, CREATE_PATH, b64, body, picture
from tests.media_probe import require

PAGE = """<!doctype html>
<video id="v" muted autoplay playsinline preload="auto" src="{video}"></video>
<script>
const v = document.getElementById("v");
const seen = {{}};
function report(kind) {{
  seen.kind = kind;
  fetch("/report", {{method: "POST", body: JSON.stringify(seen)}});
}}
v.addEventListener("loadedmetadata", () => {{
  seen.duration = v.duration; seen.width = v.videoWidth; seen.height = v.videoHeight;
}});
v.addEventListener("timeupdate", () => {{
  if (seen.played === undefined && v.currentTime > 0.3) {{
    seen.played = v.currentTime;
    v.currentTime = {seek};  // a seek: the browser asks for a byte range
  }}
}});
v.addEventListener("seeked", () => {{ seen.seeked = v.currentTime; report("done"); }});
v.addEventListener("error", () => {{ seen.error = v.error && v.error.code; report("error"); }});
</script>
"""


class Reports(ThreadingHTTPServer):
    def __init__(self, page: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.page = page.encode()
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()


class Handler(BaseHTTPRequestHandler):
    server: Reports

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.server.page)))
        self.end_headers()
        self.wfile.write(self.server.page)

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.received.put(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(Settings(seed=11, clock="virtual", access_log=False)) as server:
        yield server


def finished_video(server: ServerThread, **fields: Any) -> str:
    api = server.base_url + CREATE_PATH
    task_id = httpx.post(api, json=body(**fields), headers=AUTH).json()["task_info"]["id"]
    server.control.advance(600)
    url: str = httpx.get(f"{api}/{task_id}", headers=AUTH).json()["videos"][0]
    # Rendered before the browser asks, so its time limit measures playing, not rendering.
    assert httpx.head(url, timeout=60).status_code == 200
    return url


def play(video: str, seek: float, tmp_path: Path) -> dict[str, Any]:
    chromium = require("chromium")
    reports = Reports(PAGE.format(video=video, seek=seek))
    threading.Thread(target=reports.serve_forever, daemon=True).start()
    command = [
        chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
        "--no-first-run", "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"http://127.0.0.1:{reports.server_address[1]}/page.html",
    ]  # fmt: skip
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return reports.received.get(timeout=45)
    except queue.Empty:
        pytest.fail("Chromium reported nothing in 45 s")
    finally:
        browser.kill()
        browser.wait(timeout=10)
        reports.shutdown()
        reports.server_close()


@pytest.mark.parametrize(
    ("fields", "size", "seconds"),
    [
        pytest.param({}, (1280, 720), 5, id="card-with-sound"),
        pytest.param(
            {"image": b64(picture(750, 1000)), "duration": 10, "audio": False},
            (816, 1104), 10, id="portrait-silent-10s",
        ),
    ],
)  # fmt: skip
def test_the_video_plays_in_chromium(
    server: ServerThread,
    tmp_path: Path,
    fields: dict[str, Any],
    size: tuple[int, int],
    seconds: int,
) -> None:
    seen = play(finished_video(server, **fields), seconds - 1.5, tmp_path)
    assert seen["kind"] == "done", seen
    assert seen["duration"] == pytest.approx(seconds, abs=0.05)
    assert (seen["width"], seen["height"]) == size
    assert seen["played"] > 0.3
    assert seen["seeked"] == pytest.approx(seconds - 1.5, abs=0.1)
