"""URL inputs the real service could not reach: the create is accepted and the task fails with
3003 at its planned time, its detail naming the field and why. Judged from the URL's text
alone: nothing here resolves a name or opens a connection (the fake does not fetch)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from mockserver import Settings
from mockserver.domain.behaviour import Dialect
from mockserver.domain.reachability import host_reason, parse_ipv4
from tests.file_server import FileServer
from tests.helpers import CREATE_PATH, body, failure_of, fake_app

UNREACHABLE = {
    # kind in the detail: hosts, in every spelling a client could send
    "loopback": [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "017700000001",
        "127.0.0.1.",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ],
    "private": [
        "10.0.0.5",
        "192.168.1.20",
        "172.16.3.4",
        "[fc00::1]",
        "[::ffff:10.0.0.5]",
        "[2002:a00:5::]",  # 6to4 around 10.0.0.5
        "[64:ff9b::a00:5]",  # NAT64 around 10.0.0.5
        "0xa.0.0.5",
        "167772165",
    ],
    "link-local": ["169.254.169.254", "[fe80::1]"],
    "unspecified": ["0.0.0.0", "0", "[::]"],
    "multicast": ["224.0.0.1", "[ff02::1]"],
    "reserved": ["100.64.0.1", "240.0.0.1", "[64:ff9b:1::1]"],
    "local network name": [
        "localhost",
        "LocalHost.",
        "app.localhost",
        "printer.local",
        "db.internal",
        "nas.lan",
        "camera.home.arpa",
    ],
    "single-label name": ["minio", "images"],
    "not a valid IPv4 address": ["999.1.1.1", "1.2.3.4.5", "0x100000000"],
}
REACHABLE = [
    "example.com",
    "cdn.example.com.",
    "8.8.8.8",
    "[2606:4700::1111]",
    "[::ffff:8.8.8.8]",
    "[64:ff9b::808:808]",
    "localhost.example.com",  # only the exact name and its subdomains are local
    "internal.example.com",
    "1.2.3.0x4",  # 1.2.3.4
    "xn--bcher-kva.example",
]
CASES = [(kind, host) for kind, hosts in UNREACHABLE.items() for host in hosts]


def created_failure(fake: Any, **fields: Any) -> dict[str, Any] | None:
    """Create a task that must be accepted; its error once it has run its course."""
    response = fake.client.post(CREATE_PATH, json=body(**fields))
    assert response.status_code == 202, response.text
    return failure_of(fake, response.json()["task_info"]["id"])


@pytest.mark.parametrize(("kind", "host"), CASES)
def test_each_unreachable_host_is_accepted_then_fails_3003(kind: str, host: str) -> None:
    # Proves every class of unreachable host, in every spelling, fails the task as the real
    # service would, and the detail names the field and the kind of host.
    with fake_app() as fake:
        error = created_failure(fake, image=f"http://{host}:8080/cat.png")
    assert error is not None
    assert error["code"] == 3003
    assert error["detail"].startswith("Video generation failed: image URL ")
    assert kind in error["detail"]


@pytest.mark.parametrize("host", REACHABLE)
def test_public_names_and_addresses_succeed_without_being_resolved(host: str) -> None:
    # Proves names are judged by syntax only: none of these is looked up, and all succeed.
    with fake_app() as fake:
        assert created_failure(fake, image=f"https://{host}/cat.png") is None
        assert host_reason(host.strip("[]")) is None


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("last_frame", "http://192.168.0.9/last.png", "last_frame URL"),
        ("audio_url", "http://localhost/track.mp3", "audio_url"),
    ],
)
def test_last_frame_and_audio_url_are_judged_too(field: str, value: str, label: str) -> None:
    with fake_app() as fake:
        error = created_failure(fake, **{field: value})
    assert error is not None
    assert error["code"] == 3003
    assert f"failed: {label} points to" in error["detail"]


def test_the_task_fails_at_its_planned_time_not_at_once() -> None:
    # Proves the lifecycle is unchanged: pending first, failed only once the plan says so.
    with fake_app() as fake:
        task_id = fake.create(image="http://10.0.0.5/cat.png")
        assert fake.poll(task_id)["task_info"]["status"] == "pending"
        detail = fake.detail(task_id)
        assert (detail["scenario"], detail["scenario_source"]) == ("fail:3003", "input")
        assert failure_of(fake, task_id) is not None


def test_a_queued_scenario_is_not_spent_on_a_doomed_task() -> None:
    with fake_app() as fake:
        fake.ok("POST", "/_mock/scenarios", json={"scenario": "slow", "count": 1})
        doomed = fake.create(image="http://10.0.0.5/cat.png")
        fine = fake.create()
        assert fake.detail(doomed)["scenario_source"] == "input"
        assert fake.detail(fine)["scenario"] == "slow"


def test_the_dialect_switches_the_rule_off_and_picks_the_code() -> None:
    off = Settings(seed=1, dialect=Dialect(unreachable_urls="accept"))
    with fake_app(off) as fake:
        assert created_failure(fake, image="http://10.0.0.5/cat.png") is None
    other = Settings(seed=1, dialect=Dialect(unreadable_input=3001))
    with fake_app(other) as fake:
        error = created_failure(fake, image="http://10.0.0.5/cat.png")
        assert error is not None
        assert error["code"] == 3001


def test_the_rule_changes_live_through_the_control_plane() -> None:
    with fake_app() as fake:
        fake.ok("PATCH", "/_mock/settings", json={"dialect": {"unreachable_urls": "accept"}})
        assert created_failure(fake, image="http://10.0.0.5/cat.png") is None


def test_allow_private_urls_accepts_this_machine_only() -> None:
    # Proves the switch a test uses for its own image server opens loopback and nothing else.
    with fake_app(Settings(seed=1, allow_private_urls=True)) as fake:
        assert created_failure(fake, image="http://127.0.0.1:9/cat.png") is None
        assert created_failure(fake, image="http://localhost:9/cat.png") is None
        error = created_failure(fake, image="http://192.168.1.20/cat.png")
        assert error is not None
        assert "private address" in error["detail"]


def test_without_fetching_nothing_connects_even_to_loopback() -> None:
    # Proves rule 1 alone opens no connection: a URL on a live local server is never asked for.
    with FileServer() as server, fake_app(Settings(seed=1, allow_private_urls=True)) as fake:
        assert created_failure(fake, image=server.url("/cat.png")) is None
    assert server.hits == {}


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("10.1.2", "10.1.0.2"),
        ("0x0a.0x01.0x02.0x03", "10.1.2.3"),
        ("192.168.1.20.", "192.168.1.20"),
    ],
)
def test_ipv4_spellings_read_as_url_parsers_read_them(text: str, address: str) -> None:
    assert parse_ipv4(text) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("text", ["example.com", "1a.example", "0x7g.com", "cafe"])
def test_names_are_not_addresses(text: str) -> None:
    assert parse_ipv4(text) is None
