"""The render cache: bounded by bytes, least recently used first, never half a file. (Its
safety in a shared or hostile directory: test_media_cache_safety.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockserver.media.cache import SUBDIRECTORY, MediaCache


def writer(size: int, fill: bytes = b"v"):  # type: ignore[no-untyped-def]
    def write(path: Path) -> None:
        path.write_bytes(fill * size)

    return write


def names(root: Path) -> set[str]:
    """The files in the cache's directory, but its lock."""
    return {p.name for p in root.iterdir()} - {".lock"}


def test_a_video_is_published_under_its_key(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 10_000)
    assert cache.video("a") is None
    made = cache.add_video("a", writer(100))
    assert made.path == tmp_path / SUBDIRECTORY / "a.mp4"
    assert made.stat.st_size == 100
    found = cache.video("a")
    assert found is not None
    assert found.path == made.path
    assert cache.total_bytes == 100
    assert names(cache.root) == {"a.mp4"}
    assert names(tmp_path) == {SUBDIRECTORY}


def test_the_least_recently_used_go_first(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 300)
    for key in "abc":
        cache.add_video(key, writer(100))
    assert cache.video("a") is not None  # a is now the most recent
    cache.add_video("d", writer(100))
    assert cache.video("b") is None
    assert names(cache.root) == {"a.mp4", "c.mp4", "d.mp4"}
    assert cache.total_bytes == 300


def test_a_file_bigger_than_the_bound_is_still_served(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 50)
    cache.add_video("a", writer(40))
    cache.add_video("big", writer(500))
    assert cache.video("big") is not None
    assert cache.video("a") is None


def test_a_failed_render_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 10_000)

    def broken(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        cache.add_video("a", broken)
    assert names(cache.root) == set()
    assert cache.video("a") is None
    assert cache.total_bytes == 0


def test_images_are_kept_once_by_digest(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 10_000)
    cache.keep_image("d1", b"png-bytes")
    before = (cache.root / "d1.img").stat().st_mtime_ns
    cache.keep_image("d1", b"png-bytes")
    assert cache.image("d1") == b"png-bytes"
    assert cache.image("missing") is None
    assert cache.total_bytes == len(b"png-bytes")
    assert (cache.root / "d1.img").stat().st_mtime_ns >= before


def test_files_of_an_earlier_run_are_adopted_oldest_first(tmp_path: Path) -> None:
    root = tmp_path / SUBDIRECTORY
    root.mkdir(mode=0o700)
    for age, name in enumerate(["new.mp4", "old.mp4"]):
        (root / name).write_bytes(b"x" * 100)
        os.utime(root / name, (1_000_000 - age * 1000, 1_000_000 - age * 1000))
    (root / "notes.txt").write_text("not ours")
    cache = MediaCache(tmp_path, 250)
    assert cache.video("new") is not None
    assert cache.total_bytes == 200
    cache.add_video("third", writer(100))
    assert cache.video("old") is None  # the oldest went
    assert (root / "notes.txt").exists()


def test_a_file_removed_behind_its_back_is_a_miss(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 10_000)
    cache.add_video("a", writer(100)).path.unlink()
    assert cache.video("a") is None
    assert cache.total_bytes == 0


def test_without_a_directory_a_private_one_is_made_and_removed() -> None:
    cache = MediaCache(None, 10_000)
    made = cache.add_video("a", writer(10))
    root = cache.root
    assert made.path.parent == root
    assert root.name.startswith("wan-mock-media-")
    cache.close()
    assert not root.exists()


def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path / "deep" / "cache", 10_000)
    cache.add_video("a", writer(10))
    assert (tmp_path / "deep" / "cache" / SUBDIRECTORY / "a.mp4").is_file()


def test_videos_are_evicted_before_images(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 350)
    cache.keep_image("old-image", b"i" * 100)
    cache.add_video("a", writer(100))
    cache.add_video("b", writer(100))
    cache.add_video("c", writer(100))  # 400 bytes: one must go, and it is a video
    assert cache.has_image("old-image")
    assert cache.video("a") is None
    assert cache.video("b") is not None
    cache.add_video("big", writer(300))  # only the newest video and nothing else fits
    assert not cache.has_image("old-image")
    assert names(cache.root) == {"big.mp4"}


def test_two_caches_can_share_a_directory(tmp_path: Path) -> None:
    one, two = MediaCache(tmp_path, 10_000), MediaCache(tmp_path, 10_000)
    one.keep_image("d", b"image")
    one.add_video("v", writer(100))
    assert two.image("d") == b"image"  # written by the other process: found and adopted
    found = two.video("v")
    assert found is not None
    assert found.path == tmp_path / SUBDIRECTORY / "v.mp4"
    assert two.total_bytes == 105


def test_the_running_total_never_evicts_what_fits(tmp_path: Path) -> None:
    """The total kept beside the lock only ever overestimates (a file replaced, or deleted
    by hand); when it says "full", the directory is added up afresh before anything goes."""
    cache = MediaCache(tmp_path, 300)
    cache.add_video("a", writer(100))
    cache.add_video("a", writer(100))  # replaced: the running total counts it twice
    cache.add_video("gone", writer(100)).path.unlink()
    cache.add_video("b", writer(100))
    cache.add_video("c", writer(100))
    assert names(cache.root) == {"a.mp4", "b.mp4", "c.mp4"}
    assert cache.total_bytes == 300
