"""One encode per request, not per task: tasks that ask for the same pictures and sound share a
file, each download carrying its own task's id in the metadata; and how that file is built
(a repeated closed group of pictures, repeated sound packets) still decodes cleanly."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import ManualClock
from mockserver.media.stamp import PLACEHOLDER, stamp_text
from mockserver.media.videos import Videos
from tests.helpers import CREATE_PATH, b64, body, picture
from tests.media_probe import probe, require, streams


def task_video(client: TestClient, clock: ManualClock, **fields: Any) -> tuple[str, str]:
    """A new task, succeeded: its id and video URL."""
    created = client.post(CREATE_PATH, json=body(**fields))
    assert created.status_code == 202, created.text
    task_id: str = created.json()["task_info"]["id"]
    clock.advance(600)
    url: str = client.get(f"{CREATE_PATH}/{task_id}").json()["videos"][0]
    return task_id, url


def test_tasks_with_the_same_request_share_one_encode(
    client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    videos: Videos = client.app.state.videos  # type: ignore[attr-defined]
    image = b64(picture(800, 600))
    (one, one_url), (two, two_url) = (task_video(client, clock, image=image) for _ in "12")
    first, second = client.get(one_url), client.get(two_url)
    assert videos.renders == 1
    assert len(list(videos.cache.root.glob("*.mp4"))) == 1
    # The same file but for the id in the metadata: each download names its own task.
    assert first.content != second.content
    swapped = first.content.replace(stamp_text(one).encode(), stamp_text(two).encode())
    assert swapped == second.content
    assert PLACEHOLDER.encode() not in first.content
    for task_id, data in ((one, first.content), (two, second.content)):
        path = tmp_path / f"{task_id}.mp4"
        path.write_bytes(data)
        assert task_id in probe(path)["format"]["tags"]["comment"]
    # Other bytes, other tags; the same task's tag does not change.
    assert first.headers["etag"] != second.headers["etag"]
    assert client.head(one_url).headers["etag"] == first.headers["etag"]


def test_anything_that_changes_the_pictures_or_sound_gets_its_own_encode(
    client: TestClient, clock: ManualClock
) -> None:
    videos: Videos = client.app.state.videos  # type: ignore[attr-defined]
    variants: list[dict[str, Any]] = [{}, {"prompt": "a dog"}, {"audio": False}, {"seed": 7}]
    sizes = set()
    for fields in variants:
        _, url = task_video(client, clock, **fields)
        sizes.add(client.head(url).headers["content-length"])
    assert videos.renders == len(variants)
    assert len(list(videos.cache.root.glob("*.mp4"))) == len(variants)
    assert len(sizes) > 1  # a silent video at least is smaller


def boxes(data: bytes) -> list[str]:
    """The kinds of an MP4's top-level boxes, in order."""
    kinds, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        kinds.append(data[at + 4 : at + 8].decode("latin-1"))
        assert size >= 8
        at += size
    assert at == len(data)
    return kinds


def test_a_long_video_with_a_last_frame_decodes_cleanly_and_seeks_by_the_second(
    client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    """The most pieces at once: the loop repeated 14 times and cut short, the fade to the
    last frame, the sound's steady packet repeated: ffmpeg decodes every packet without a
    complaint, and a key frame opens every second, where a player seeks to."""
    fields = {
        "image": b64(picture(640, 480)),
        "last_frame": b64(picture(640, 480, flip=True)),
        "duration": 15,
        "resolution": "1080P",
    }
    _, url = task_video(client, clock, **fields)
    data = client.get(url).content
    assert boxes(data)[:2] == ["ftyp", "moov"]  # the index first
    assert boxes(data)[-1] == "mdat"
    path = tmp_path / "long.mp4"
    path.write_bytes(data)
    decoded = subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert decoded.stderr == ""
    info = probe(path)
    (video,) = streams(info, "video")
    (audio,) = streams(info, "audio")
    assert int(video["nb_read_frames"]) == 450
    assert float(video["duration"]) == pytest.approx(15, abs=1e-3)
    assert float(audio["duration"]) == pytest.approx(15, abs=1e-3)
    keys = subprocess.run(
        [require("ffprobe"), "-v", "error", "-select_streams", "v", "-show_entries",
         "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    key_frames = sorted(
        float(time) for time, flags in (line.split(",") for line in keys) if "K" in flags
    )
    # One key frame a second, and the fade's own half a second before the end.
    assert key_frames == [*map(float, range(15)), 14.5]


def test_several_ranges_come_back_as_multipart_byteranges(
    client: TestClient, clock: ManualClock
) -> None:
    _, url = task_video(client, clock)
    data = client.get(url).content
    # The first range covers the stamped metadata: every range reads the task's own copy.
    stamp_at = data.index(b"MOCK video made by wan-mock for task ")
    first, second = (stamp_at, stamp_at + 79), (len(data) - 10, len(data) - 1)
    answer = client.get(url, headers={"Range": f"bytes={first[0]}-{first[1]}, -10"})
    assert answer.status_code == 206
    kind, _, boundary = answer.headers["content-type"].partition("; boundary=")
    assert kind == "multipart/byteranges"
    assert int(answer.headers["content-length"]) == len(answer.content)
    parts = answer.content.split(f"--{boundary}".encode())
    assert parts[0] == b""
    assert parts[-1] == b"--"
    for part, (start, end) in zip(parts[1:-1], (first, second), strict=True):
        head, _, content = part.partition(b"\r\n\r\n")
        assert f"Content-Range: bytes {start}-{end}/{len(data)}".encode() in head
        assert content == data[start : end + 1] + b"\r\n"
    overlapping = client.get(url, headers={"Range": "bytes=0-9, 5-19"})
    assert overlapping.headers["content-range"] == f"bytes 0-19/{len(data)}"  # merged
    assert overlapping.content == data[:20]


def test_a_head_with_a_range_answers_its_headers_only(
    client: TestClient, clock: ManualClock
) -> None:
    _, url = task_video(client, clock)
    size = int(client.head(url).headers["content-length"])
    head = client.head(url, headers={"Range": "bytes=10-19"})
    assert head.status_code == 206
    assert head.headers["content-range"] == f"bytes 10-19/{size}"
    assert head.headers["content-length"] == "10"
    assert head.content == b""
