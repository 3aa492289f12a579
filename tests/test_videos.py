"""Result videos, end to end: created through the API, downloaded, checked by ffprobe/ffmpeg."""

from __future__ import annotations

import asyncio
import io
import threading
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.media.cache import SUBDIRECTORY
from mockserver.media.stamp import PLACEHOLDER, stamp_text
from mockserver.media.videos import Videos
from tests.helpers import AUTH, CREATE_PATH, b64, body, picture
from tests.media_probe import frame, mean_volume, probe, streams


def fetch_video(client: TestClient, clock: ManualClock, **fields: Any) -> tuple[str, bytes]:
    created = client.post(CREATE_PATH, json=body(**fields))
    assert created.status_code == 202, created.text
    task_id = created.json()["task_info"]["id"]
    clock.advance(600)
    task = client.get(f"{CREATE_PATH}/{task_id}").json()
    assert task["task_info"]["status"] == "succeeded"
    video = client.get(task["videos"][0])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    return task["videos"][0], video.content


def save(tmp_path: Path, data: bytes, name: str = "video.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("fields", "size", "seconds", "sound"),
    [
        pytest.param({}, (1280, 720), 5, True, id="url-720P-defaults"),
        pytest.param(
            {"image": b64(picture(750, 1000)), "audio": False},
            (816, 1104), 5, False, id="portrait-silent",
        ),
        pytest.param(
            {"image": b64(picture(600, 600)), "resolution": "1080P"},
            (1440, 1440), 5, True, id="square-1080P",
        ),
        pytest.param(
            {"duration": 10, "audio": False, "audio_url": "https://e.com/song.mp3"},
            (1280, 720), 10, True, id="audio_url-overrides-audio",
        ),
        pytest.param(
            {"image": b64(picture(640, 480)), "duration": 15, "audio": False},
            (1104, 816), 15, False, id="4:3-15s",
        ),
    ],
)  # fmt: skip
def test_the_video_matches_the_request(
    client: TestClient,
    clock: ManualClock,
    tmp_path: Path,
    fields: dict[str, Any],
    size: tuple[int, int],
    seconds: int,
    sound: bool,
) -> None:
    _, data = fetch_video(client, clock, **fields)
    info = probe(save(tmp_path, data))
    (video,) = streams(info, "video")
    assert video["codec_name"] == "h264"
    assert (video["width"], video["height"]) == size
    assert video["avg_frame_rate"] == "30/1"
    assert int(video["nb_read_frames"]) == seconds * 30  # exactly the duration, to the frame
    assert float(video["duration"]) == pytest.approx(seconds, abs=1 / 60)
    assert float(info["format"]["duration"]) == pytest.approx(seconds, abs=0.05)
    audio = streams(info, "audio")
    assert len(audio) == int(sound)
    if sound:
        assert audio[0]["codec_name"] == "aac"
        assert float(audio[0]["duration"]) == pytest.approx(seconds, abs=0.05)


def test_the_sound_is_audible(client: TestClient, clock: ManualClock, tmp_path: Path) -> None:
    _, data = fetch_video(client, clock)
    assert mean_volume(save(tmp_path, data)) > -30


def test_the_input_image_opens_the_video_and_last_frame_closes_it(
    client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    first, last = picture(960, 540), picture(960, 540, flip=True)
    _, data = fetch_video(client, clock, image=b64(first), last_frame=b64(last), audio=False)
    path = save(tmp_path, data)
    expected_first = np.asarray(Image.open(io.BytesIO(first)).resize((1280, 720)), np.int16)
    expected_last = np.asarray(Image.open(io.BytesIO(last)).resize((1280, 720)), np.int16)
    opening, closing = frame(path, 0, 1280, 720), frame(path, 149, 1280, 720)
    middle = frame(path, 75, 1280, 720)

    def difference(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
        top = slice(0, 600)  # the mock label sits in the bottom right corner
        return float(np.abs(a[top].astype(np.int16) - b[top]).mean())

    assert difference(opening, expected_first) < 6
    assert difference(closing, expected_last) < 6
    assert difference(opening, expected_last) > 30
    assert difference(middle, expected_first) > 6  # the camera moved


def test_same_seed_and_request_give_the_same_bytes() -> None:
    def render(seed: int) -> bytes:
        clock = ManualClock()
        with TestClient(create_app(Settings(seed=seed), clock=clock), headers=AUTH) as client:
            return fetch_video(client, clock, image=b64(picture(800, 600)))[1]

    once = render(3)
    assert render(3) == once
    assert render(4) != once


def test_downloads_are_served_like_a_cdn(client: TestClient, clock: ManualClock) -> None:
    url, data = fetch_video(client, clock)
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "video/mp4"
    assert int(head.headers["content-length"]) == len(data)
    assert head.headers["accept-ranges"] == "bytes"
    etag = head.headers["etag"]
    # When the task succeeded on the fake's clock (within the 600 s it was advanced).
    modified = parsedate_to_datetime(head.headers["last-modified"]).timestamp()
    assert clock.now() - 600 <= modified <= clock.now()
    assert etag.startswith('"')
    assert etag.endswith('"')

    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.content == data[-50:]
    beyond = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.json()["error_code"] == 416

    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).content == data
    # If-Range with a stale tag: the whole file, not a part of a changed one.
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == data


def test_concurrent_first_downloads_render_once(client: TestClient, clock: ManualClock) -> None:
    created = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    clock.advance(600)
    url = client.get(f"{CREATE_PATH}/{created}").json()["videos"][0]
    app = client.app
    videos: Videos = app.state.videos  # type: ignore[attr-defined]

    async def download_all() -> list[bytes]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wan.test") as http:
            answers = await asyncio.gather(*(http.get(url) for _ in range(24)))
        return [answer.content for answer in answers]

    bodies = asyncio.run(download_all())
    assert videos.renders == 1
    assert len(set(bodies)) == 1
    assert bodies[0][4:8] == b"ftyp"


def test_an_evicted_video_is_rendered_again_identically(
    client: TestClient, clock: ManualClock
) -> None:
    videos: Videos = client.app.state.videos  # type: ignore[attr-defined]
    url, first = fetch_video(client, clock, image=b64(picture(640, 640)))
    etag = client.head(url).headers["etag"]
    (video,) = videos.cache.root.glob("*.mp4")
    video.unlink()  # as if evicted (or removed by hand)
    again = client.get(url)
    assert videos.renders == 2
    assert again.headers["etag"] == etag
    assert again.content == first


def test_a_video_whose_image_was_evicted_gets_the_card_and_a_new_tag(
    client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    videos: Videos = client.app.state.videos  # type: ignore[attr-defined]
    videos.cache.max_bytes = 1  # each new file evicts every other one, images last
    url, first = fetch_video(client, clock, image=b64(picture(640, 640)))
    assert list(videos.cache.root.glob("*.img")) == []  # evicted by the video made from it...
    etag = client.head(url).headers["etag"]  # ...which is still served as it was
    assert client.get(url).content == first
    fetch_video(client, clock)  # a second video evicts the first
    again = client.get(url)
    assert videos.renders == 3
    assert again.headers["etag"] != etag  # other bytes, so another tag
    assert again.content != first
    info = probe(save(tmp_path, again.content))
    (stream,) = streams(info, "video")
    assert (stream["width"], stream["height"]) == (960, 960)  # still the task's shape


def test_the_cache_directory_is_a_setting(tmp_path: Path) -> None:
    clock = ManualClock()
    settings = Settings(seed=1, render_cache_dir=str(tmp_path / "media"))
    with TestClient(create_app(settings, clock=clock), headers=AUTH) as client:
        url, data = fetch_video(client, clock, image=b64(picture(500, 500)))
    root = tmp_path / "media" / SUBDIRECTORY  # the cache's own, inside the directory given
    assert [p.name for p in (tmp_path / "media").iterdir()] == [SUBDIRECTORY]
    files = sorted(p.suffix for p in root.glob("[!.]*"))
    assert files == [".img", ".mp4"]
    (video,) = root.glob("*.mp4")
    # The download is the cached file with the task's id in place of the placeholder.
    task_id = url.split("/files/")[1].split("/")[0]
    stamped = video.read_bytes().replace(PLACEHOLDER.encode(), stamp_text(task_id).encode())
    assert stamped == data


def test_rendering_runs_off_the_event_loop(
    client: TestClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.media import encode

    threads: list[str] = []
    real = encode.render

    def spy(*args: Any) -> None:
        threads.append(threading.current_thread().name)
        real(*args)

    monkeypatch.setattr(encode, "render", spy)
    fetch_video(client, clock)
    (name,) = threads
    assert name.startswith("wan-mock-render")
