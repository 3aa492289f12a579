"""Where rendered videos are kept between runs: the pytest plugin in pytest's cache directory
(so a later session reuses them), ``wan-mock serve`` in the user's cache directory."""

from __future__ import annotations

import pytest

from mockserver.launch import user_cache_dir
from mockserver.media.cache import SUBDIRECTORY

pytest_plugins = ["pytester"]

SUITE = """
import httpx

def test_download(wan_mock):
    api = "https://api.mulerouter.ai/vendors/alibaba/v1/wan2.6-i2v/generation"
    body = {"prompt": "a cat", "image": "https://example.com/a.jpg", "audio": False}
    task_id = httpx.post(api, json=body, headers={"Authorization": "Bearer k"}).json()
    wan_mock.advance(600)
    task = httpx.get(f"{api}/{task_id['task_info']['id']}", headers={"Authorization": "Bearer k"})
    video = httpx.get(task.json()["videos"][0])
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
"""


def run(pytester: pytest.Pytester, *args: str) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:schemathesis", "-p", "no:hypothesispytest", *args,
        timeout=120,
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_a_later_session_reuses_the_video_a_session_rendered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=SUITE)
    run(pytester)
    root = pytester.path / ".pytest_cache" / "d" / "wan-mock" / SUBDIRECTORY
    (video,) = root.glob("*.mp4")
    made = video.stat()
    run(pytester)
    (again,) = root.glob("*.mp4")
    # Not rendered again (a render publishes a new file under the name), but used: a hit
    # touches the file, the cache's order of use.
    assert again.stat().st_ino == made.st_ino
    assert again.stat().st_mtime_ns > made.st_mtime_ns


def test_the_plugins_cache_can_be_moved_or_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=SUITE)
    pytester.makeini("[pytest]\nwan_mock_render_cache_dir = videos\n")
    run(pytester)
    assert len(list((pytester.path / "videos" / SUBDIRECTORY).glob("*.mp4"))) == 1
    assert not (pytester.path / ".pytest_cache" / "d" / "wan-mock").exists()
    pytester.makeini("[pytest]\nwan_mock_render_cache_dir = none\n")
    run(pytester)
    assert not (pytester.path / ".pytest_cache" / "d" / "wan-mock").exists()
    assert len(list((pytester.path / "videos" / SUBDIRECTORY).glob("*.mp4"))) == 1  # unused


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HOME": "/home/me"}, "/home/me/.cache/wan-mock"),
        ({"HOME": "/home/me", "XDG_CACHE_HOME": "/var/cache/me"}, "/var/cache/me/wan-mock"),
        ({"HOME": "/home/me", "XDG_CACHE_HOME": "relative"}, "/home/me/.cache/wan-mock"),
        ({}, None),
    ],
)
def test_serve_keeps_videos_in_the_users_cache_directory(
    environ: dict[str, str], expected: str | None
) -> None:
    assert user_cache_dir(environ) == expected
