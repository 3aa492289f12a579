"""The render cache in a directory others may touch: made private, adopted only when safe,
never following a link, never counting or deleting a file it did not write, and keeping its
size bound when several processes share it."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.media.cache import SUBDIRECTORY, CacheDirectoryError, MediaCache
from mockserver.media.stamp import TaskVideo
from mockserver.server.downloads import VideoResponse
from tests.helpers import AUTH, CREATE_PATH, body

SECRET = b"root-only secret, not a video"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write(size: int):  # type: ignore[no-untyped-def]
    def run(path: Path) -> None:
        path.write_bytes(b"v" * size)

    return run


def test_a_new_directory_is_private(tmp_path: Path) -> None:
    old = os.umask(0)  # a umask of 0 must not make it public
    try:
        cache = MediaCache(tmp_path / "new" / "media", 10_000)
    finally:
        os.umask(old)
    assert mode(tmp_path / "new" / "media") == 0o700
    assert mode(cache.root) == 0o700
    made = cache.add_video("a", write(10))
    assert mode(made.path) == 0o600


@pytest.mark.parametrize("unsafe", [0o777, 0o775, 0o1777, 0o757])
def test_a_directory_others_may_write_is_refused(tmp_path: Path, unsafe: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(unsafe)
    with pytest.raises(CacheDirectoryError, match="render_cache_dir") as refused:
        MediaCache(shared, 10_000)
    assert f"{unsafe:04o}" in str(refused.value)
    assert "chmod go-w" in str(refused.value)
    assert list(shared.iterdir()) == []  # nothing was written into it


def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o755)
        os.chown(theirs, 65534, 65534)
    else:
        theirs = Path("/")  # root's
    with pytest.raises(CacheDirectoryError, match=r"render_cache_dir: .* another user"):
        MediaCache(theirs, 10_000)


def test_a_file_or_a_linked_subdirectory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CacheDirectoryError, match=r"render_cache_dir: .* not a directory"):
        MediaCache(tmp_path / "file", 10_000)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    given = tmp_path / "given"
    given.mkdir(mode=0o700)
    (given / SUBDIRECTORY).symlink_to(elsewhere)
    with pytest.raises(CacheDirectoryError, match="not a directory"):
        MediaCache(given, 10_000)


def test_an_unsafe_directory_stops_the_server_at_start(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(CacheDirectoryError, match="render_cache_dir"):
        create_app(Settings(render_cache_dir=str(shared)))
    command = [sys.executable, "-m", "mockserver", "serve", "--port", "0"]
    done = subprocess.run(
        [*command, "--render-cache-dir", str(shared)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("wan-mock: render_cache_dir: ")
    assert "may be written by group or others" in done.stderr


def test_a_linked_or_special_file_under_a_cache_name_is_never_served(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    cache = MediaCache(tmp_path / "media", 10_000)
    (cache.root / "k.mp4").symlink_to(secret)
    (cache.root / "d.img").symlink_to(secret)
    os.mkfifo(cache.root / "fifo.mp4")  # opening it must not block
    assert cache.video("k") is None
    assert cache.image("d") is None
    assert not cache.has_image("d")
    assert cache.video("fifo") is None
    assert cache.total_bytes == 0  # neither is counted
    made = cache.add_video("k", write(10))  # rendered again: the link itself is replaced
    assert not made.path.is_symlink()
    assert made.path.read_bytes() == b"v" * 10
    assert secret.read_bytes() == SECRET


def test_a_linked_video_is_rendered_again_not_served(tmp_path: Path) -> None:
    """The issue's reproduction: a link planted under a video's name in the cache served the
    file it pointed to as video/mp4."""
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    clock = ManualClock()
    settings = Settings(render_cache_dir=str(tmp_path / "media"), seed=3)
    with TestClient(create_app(settings, clock=clock), headers=AUTH) as client:
        task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
        clock.advance(600)
        url = client.get(f"{CREATE_PATH}/{task_id}").json()["videos"][0]
        first = client.get(url).content
        (video,) = (tmp_path / "media" / SUBDIRECTORY).glob("*.mp4")
        video.unlink()
        video.symlink_to(secret)
        again = client.get(url)
    assert again.status_code == 200
    assert again.content == first  # rendered again, identically
    assert SECRET not in again.content
    assert not video.is_symlink()


def test_files_it_did_not_write_are_never_counted_or_deleted(tmp_path: Path) -> None:
    """The issue's reproduction: a user's 20 MB video in the configured directory was deleted
    after one render to keep a 16 MiB bound."""
    mine = tmp_path / "holiday.mp4"
    with mine.open("wb") as handle:
        handle.truncate(20 * 2**20)  # sparse: 20 MB by its size
    lookalike = tmp_path / ("0" * 32 + ".mp4")  # named like a cache file, in the user's part
    lookalike.write_bytes(b"mine too")
    before = {p: p.stat().st_mtime_ns for p in (mine, lookalike)}
    clock = ManualClock()
    settings = Settings(render_cache_dir=str(tmp_path), render_cache_mb=16, seed=2)
    with TestClient(create_app(settings, clock=clock), headers=AUTH) as client:
        task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
        clock.advance(600)
        url = client.get(f"{CREATE_PATH}/{task_id}").json()["videos"][0]
        assert client.get(url).status_code == 200
        cache = client.app.state.videos.cache  # type: ignore[attr-defined]
        assert 0 < cache.total_bytes < 2**20  # the video alone
    assert {p: p.stat().st_mtime_ns for p in (mine, lookalike)} == before
    assert mine.stat().st_size == 20 * 2**20


CHILD = """
import sys, time
from pathlib import Path
from mockserver.media.cache import MediaCache

directory, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
cache = MediaCache(directory, 50_000)
while not go.exists():
    time.sleep(0.001)

def write(path):
    for _ in range(10):  # slowly, so that the two processes' renders overlap
        with open(path, "ab") as handle:
            handle.write(b"v" * 1_000)
        time.sleep(0.001)

for n in range(40):
    cache.add_video(f"{name}-{n}", write)
"""


def test_two_processes_keep_the_bound_together(tmp_path: Path) -> None:
    """The issue's reproduction: two workers on one directory each kept their own count, and
    together held 44 MiB against a 30 MiB bound. Here two processes publish 40 files of 10 kB
    each at once under a 50 kB bound, while the directory is watched."""
    directory, go = tmp_path / "media", tmp_path / "go"
    root = MediaCache(directory, 50_000).root
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(directory), name, str(go)])
        for name in ("one", "two")
    ]
    peak, done = 0, threading.Event()

    def watch() -> None:
        nonlocal peak
        lock = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        while not done.is_set():
            fcntl.flock(lock, fcntl.LOCK_SH)  # as the publishers: a consistent sample
            total = sum(p.stat().st_size for p in root.glob("[!.]*.mp4"))  # not partials
            fcntl.flock(lock, fcntl.LOCK_UN)
            peak = max(peak, total)
        os.close(lock)

    watcher = threading.Thread(target=watch)
    watcher.start()
    go.touch()
    try:
        assert [child.wait(timeout=120) for child in children] == [0, 0]
    finally:
        done.set()
        watcher.join()
        for child in children:
            child.kill()
    published = list(root.glob("[!.]*.mp4"))
    assert 0 < peak <= 50_000
    assert sum(p.stat().st_size for p in published) <= 50_000
    assert {p.name.split("-")[0] for p in published} <= {"one", "two"}
    assert not list(root.glob(".partial-*"))


def test_a_video_is_served_from_the_file_it_checked(tmp_path: Path) -> None:
    """What is served is the file the cache found and checked, held open: deleting the name
    (another worker evicting it) leaves the answer whole; a name swapped for a link or another
    file since it was found is not opened."""
    cache = MediaCache(tmp_path / "media", 10_000)
    found = cache.add_video("k", write(3_000))
    fd = cache.open(found)
    assert fd is not None
    found.path.unlink()  # evicted between the check and the answer
    video = TaskVideo(fd, found.stat, "k", "task")
    app = Starlette(routes=[Route("/v", lambda _: VideoResponse(video, {}, [(1000, 2000)]))])
    with TestClient(app) as client:
        answer = client.get("/v")
    assert answer.status_code == 206
    assert answer.content == b"v" * 1000
    try:  # closed once sent (the number may have been given to another file since)
        now = os.fstat(fd).st_ino
    except OSError:
        now = None
    assert now != found.stat.st_ino

    swapped = cache.add_video("s", write(10))
    swapped.path.unlink()
    swapped.path.symlink_to(tmp_path / "media" / SUBDIRECTORY / ".lock")
    assert cache.open(swapped) is None
    replaced = cache.add_video("r", write(10))
    cache.add_video("r", write(20))  # a new file under the same name
    assert cache.open(replaced) is None
