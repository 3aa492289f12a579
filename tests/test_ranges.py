from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mockserver import ManualClock
from mockserver.domain.errors import InvalidRequest, RangeNotSatisfiable
from mockserver.server.ranges import MAX_RANGES, byte_ranges
from tests.helpers import CREATE_PATH, body

SIZE = 400_000  # byte_ranges is pure: any size will do


@pytest.mark.parametrize(
    ("header", "ranges"),
    [
        (None, None),
        ("bytes=0-99", [(0, 100)]),
        ("bytes=-100", [(SIZE - 100, SIZE)]),
        ("bytes=100-", [(100, SIZE)]),
        ("bytes=0-1, 5-9", [(0, 2), (5, 10)]),
        ("BYTES=0-0", [(0, 1)]),
        (f"bytes=0-{SIZE * 2}", [(0, SIZE)]),  # cut at the end
        ("bytes=50-99, 0-9, 5-59", [(0, 100)]),  # sorted and merged
        (f"bytes=-{SIZE * 2}", [(0, SIZE)]),
        ("bytes=" + ",".join(["0-0"] * (MAX_RANGES + 1)), None),  # too many: the whole file
    ],
)
def test_satisfiable_ranges_give_the_bytes_to_send(
    header: str | None, ranges: list[tuple[int, int]] | None
) -> None:
    assert byte_ranges(header, SIZE) == ranges


@pytest.mark.parametrize(
    "header",
    ["abc", "bytes=", "bytes=abc", "bytes=5-1", "items=0-9", "bytes=-", "bytes=0-9;x", "bytes=²-3"],
)
def test_malformed_ranges_name_the_header(header: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        byte_ranges(header, SIZE)
    assert (raised.value.field, raised.value.rule) == ("Range", "format")


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
def test_ranges_past_the_end_are_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_ranges(header, SIZE)


def video_url(client: TestClient, clock: ManualClock) -> str:
    task_id = client.post(CREATE_PATH, json=body()).json()["task_info"]["id"]
    clock.advance(60)
    url: str = client.get(f"{CREATE_PATH}/{task_id}").json()["videos"][0]
    return url


def test_download_refusals_are_json(client: TestClient, clock: ManualClock) -> None:
    url = video_url(client, clock)
    size = int(client.head(url).headers["content-length"])
    past = client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert past.json()["error_code"] == 416
    assert "Range" in past.json()["detail"]
    malformed = client.get(url, headers={"Range": "bytes=abc"})
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("Range: ")
    partial = client.get(url, headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206
    assert len(partial.content) == 100


def test_result_links_expire_on_the_fake_clock(client: TestClient, clock: ManualClock) -> None:
    url = video_url(client, clock)  # the task succeeded within those 60 s
    clock.advance(86_400 - 60 - 1)
    assert client.head(url).status_code == 200
    clock.advance(61)
    expired = client.get(url)
    assert expired.status_code == 403
    assert expired.json()["title"] == "Link Expired"
    assert "expired" in expired.json()["detail"]


def test_the_link_lifetime_is_a_setting() -> None:
    from mockserver import Settings, create_app

    clock = ManualClock()
    app = create_app(Settings(seed=1, result_ttl=120), clock=clock)
    with TestClient(app, headers={"Authorization": "Bearer k"}) as client:
        url = video_url(client, clock)
        clock.advance(119)
        assert client.head(url).status_code == 403
