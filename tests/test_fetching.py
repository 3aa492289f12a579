"""``fetch_urls``: URL inputs downloaded as the real service would, from a server of the test's
own on 127.0.0.1 (``allow_private_urls`` opens loopback, and nothing else). Every refusal of
the reachability rule happens before a connection: the addresses refused here are never
contacted, and no test sends a packet beyond loopback."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from mockserver import Settings
from mockserver.domain.behaviour import Limits
from mockserver.media.shape import output_size
from mockserver.server.fetching import Fetcher, Policy, Unreadable
from tests.file_server import FileServer, Served, wav_bytes
from tests.helpers import (
    CREATE_PATH,
    Fake,
    body,
    failure_of,
    fake_app,
    image_bytes,
    picture,
    wait_for,
)

FETCHING = Settings(seed=1, fetch_urls=True, allow_private_urls=True, fetch_timeout=2.0)
PNG = {"Content-Type": "image/png"}


@pytest.fixture
def server() -> Iterator[FileServer]:
    with FileServer() as running:
        yield running


@pytest.fixture
def fake() -> Iterator[Fake]:
    with fake_app(FETCHING) as made:
        yield made


def outcome(fake: Fake, **fields: Any) -> tuple[str, dict[str, Any] | None]:
    """Create a task that must be accepted; its id and its error once it has run its course."""
    response = fake.client.post(CREATE_PATH, json=body(**fields))
    assert response.status_code == 202, response.text
    task_id = response.json()["task_info"]["id"]
    return task_id, failure_of(fake, task_id)


def test_a_fetched_image_is_the_first_frame_and_sets_the_aspect(
    fake: Fake, server: FileServer
) -> None:
    # Proves the download is read like a base64 image: its facts are the request's, its bytes
    # are kept for the video, and a portrait image gives a portrait video.
    data = picture(480, 960)
    server.routes["/tall.png"] = Served(data, headers=PNG)
    task_id, error = outcome(fake, image=server.url("/tall.png"))
    assert error is None
    image = fake.backend.find(task_id).request.image
    assert (image.source, image.format, image.width, image.height) == ("url", "PNG", 480, 960)
    assert image.url == server.url("/tall.png")
    assert image.digest is not None
    width, height = output_size("720P", image)
    assert width < height
    cache, digest = fake.app.videos.cache, image.digest
    wait_for(lambda: cache.image(digest) is not None)  # kept on a thread of its own
    assert cache.image(digest) == data


def test_a_url_image_that_is_not_fetched_stays_unknown() -> None:
    with fake_app(Settings(seed=1, allow_private_urls=True)) as plain:
        task_id = plain.create(image="http://127.0.0.1:9/tall.png")
        image = plain.backend.find(task_id).request.image
        assert (image.width, image.digest) == (None, None)


@pytest.mark.parametrize(
    ("served", "code", "says"),
    [
        (Served(b"gone", 404), 3003, "answered HTTP 404"),
        (
            Served(b"<html>cat</html>", headers={"Content-Type": "text/html"}),
            3003,
            "not a readable",
        ),
        (Served(image_bytes(mode="RGBA"), headers=PNG), 3003, "must not have transparency"),
        (Served(image_bytes(size=(100, 100)), headers=PNG), 3001, "100x100 px is outside"),
        (Served(image_bytes("GIF"), headers={"Content-Type": "image/gif"}), 3003, "GIF"),
        (Served(b"x" * (10 * 1024 * 1024 + 1)), 3003, "is over 10 MB"),
        (Served(image_bytes(), delay=6.0), 3003, "did not answer within 2 s"),
    ],
    ids=["404", "html", "alpha", "too-small", "gif", "too-big", "slow"],
)
def test_each_download_failure_fails_the_task_with_a_precise_detail(
    fake: Fake, server: FileServer, served: Served, code: int, says: str
) -> None:
    server.routes["/cat.png"] = served
    _, error = outcome(fake, image=server.url("/cat.png"))
    assert error is not None
    assert error["code"] == code
    assert error["detail"].startswith("Video generation failed: image URL ")
    assert says in error["detail"]


def test_last_frame_is_fetched_and_checked_too(fake: Fake, server: FileServer) -> None:
    server.routes["/first.png"] = Served(image_bytes(), headers=PNG)
    _, error = outcome(fake, image=server.url("/first.png"), last_frame=server.url("/nope.png"))
    assert error is not None
    assert "last_frame URL answered HTTP 404" in error["detail"]


def test_redirects_are_followed_a_few_times(fake: Fake, server: FileServer) -> None:
    server.routes["/cat.png"] = Served(image_bytes(), headers=PNG)
    server.routes["/a"] = Served(status=302, headers={"Location": "/b"})
    server.routes["/b"] = Served(status=301, headers={"Location": server.url("/cat.png")})
    server.routes["/loop"] = Served(status=302, headers={"Location": "/loop"})
    assert outcome(fake, image=server.url("/a"))[1] is None
    _, error = outcome(fake, image=server.url("/loop"))
    assert error is not None
    assert "redirected more than 3 times" in error["detail"]
    assert server.hits["/loop"] == 4


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("http://10.0.0.5/cat.png", "private address (10.0.0.5)"),
        ("http://169.254.169.254/latest/meta-data", "link-local address"),
        ("http://[fd00::5]/cat.png", "private address (fd00::5)"),
        ("http://0x0a000005/cat.png", "private address (10.0.0.5)"),
        ("http://printer.local/cat.png", "local network name"),
        ("ftp://example.com/cat.png", "not http(s)"),
    ],
)
def test_a_redirect_into_a_private_address_is_refused_before_connecting(
    fake: Fake, server: FileServer, target: str, says: str
) -> None:
    # Proves each hop is checked before it is followed: the detail is the rule's (a connection
    # attempt would end in a timeout or a refusal instead, after the test's 2 s deadline).
    server.routes["/hop"] = Served(status=302, headers={"Location": target})
    _, error = outcome(fake, image=server.url("/hop"))
    assert error is not None
    assert error["code"] == 3003
    assert says in error["detail"]
    assert error["detail"].startswith("Video generation failed: image URL was redirected")


def test_audio_is_downloaded_and_probed(fake: Fake, server: FileServer) -> None:
    server.routes["/song.wav"] = Served(wav_bytes(5.0), headers={"Content-Type": "audio/wav"})
    server.routes["/short.wav"] = Served(wav_bytes(1.0))
    server.routes["/fake.mp3"] = Served(b"ID3 not really an mp3 file at all")
    image = server.url("/cat.png")
    server.routes["/cat.png"] = Served(image_bytes(), headers=PNG)
    assert outcome(fake, image=image, audio_url=server.url("/song.wav"))[1] is None
    _, short = outcome(fake, image=image, audio_url=server.url("/short.wav"))
    assert short is not None
    assert "audio_url could not be used: it is 1.0 s long; it must be 3 to 30 s" in short["detail"]
    _, broken = outcome(fake, image=image, audio_url=server.url("/fake.mp3"))
    assert broken is not None
    assert "audio_url could not be used" in broken["detail"]


def test_without_allow_private_urls_loopback_is_refused_before_connecting(
    server: FileServer,
) -> None:
    server.routes["/cat.png"] = Served(image_bytes(), headers=PNG)
    with fake_app(Settings(seed=1, fetch_urls=True)) as strict:
        _, error = outcome(strict, image=server.url("/cat.png"))
    assert error is not None
    assert "loopback address (127.0.0.1)" in error["detail"]
    assert server.hits == {}


def test_a_name_is_resolved_once_and_every_address_checked(server: FileServer) -> None:
    # Proves the resolved addresses are checked (a public-looking name that resolves to a
    # private address is refused without connecting), and that the download goes to the
    # address that was checked, with the name kept in the Host header.
    server.routes["/cat.png"] = Served(image_bytes(), headers=PNG)
    port = int(server.base.rsplit(":", 1)[1])
    lookups: list[str] = []

    def resolve(host: str, _port: int) -> list[Any]:
        lookups.append(host)
        table = {"images.example.com": ["127.0.0.1"], "mixed.example.com": ["8.8.8.8", "10.1.1.1"]}
        return [ipaddress.ip_address(a) for a in table[host]]

    fetcher = Fetcher(resolve)
    try:
        with pytest.raises(Unreadable, match=r"images\.example\.com\) that points to a loopback"):
            fetcher.download(
                f"http://images.example.com:{port}/cat.png", 1024, 2.0, Policy(True, False)
            )
        with pytest.raises(Unreadable, match=r"private address \(10\.1\.1\.1\)"):
            fetcher.download("http://mixed.example.com/cat.png", 1024, 2.0, Policy(True, False))
        assert server.hits == {}
        data = fetcher.download(
            f"http://images.example.com:{port}/cat.png", 10**7, 2.0, Policy(True, True)
        )
        assert data == server.routes["/cat.png"].body
        assert lookups == ["images.example.com", "mixed.example.com", "images.example.com"]
    finally:
        fetcher.close()


def test_without_fetch_urls_nothing_is_downloaded(server: FileServer) -> None:
    server.routes["/cat.png"] = Served(image_bytes(size=(100, 100)), headers=PNG)
    with fake_app(Settings(seed=1, allow_private_urls=True)) as plain:
        assert outcome(plain, image=server.url("/cat.png"))[1] is None
    assert server.hits == {}


def test_fetching_can_be_switched_on_live(server: FileServer) -> None:
    server.routes["/cat.png"] = Served(image_bytes(size=(100, 100)), headers=PNG)
    with fake_app(Settings(seed=1, allow_private_urls=True)) as live:
        live.ok("PATCH", "/_mock/settings", json={"fetch_urls": True})
        _, error = outcome(live, image=server.url("/cat.png"))
    assert error is not None
    assert error["code"] == 3001


def test_a_rate_limited_create_downloads_nothing(server: FileServer) -> None:
    server.routes["/cat.png"] = Served(image_bytes(), headers=PNG)
    limited = Settings(
        seed=1, fetch_urls=True, allow_private_urls=True, limits=Limits(submissions_per_second=1)
    )
    with fake_app(limited) as fake:
        assert (
            fake.client.post(CREATE_PATH, json=body(image=server.url("/cat.png"))).status_code
            == 202
        )
        refused = fake.client.post(CREATE_PATH, json=body(image=server.url("/cat.png")))
    assert refused.status_code == 429
    assert server.hits == {"/cat.png": 1}
