"""The dashboard under /_mock/ui (mockserver/server/dashboard.py, dashboard_views.py): its
pages and fragments, in process. The browser test is tests/test_dashboard_browser.py."""

from __future__ import annotations

import re
import struct
from html import unescape
from pathlib import Path

import pytest
from starlette.routing import Match

from mockserver import Settings, launch
from mockserver.domain.keys import fingerprint
from mockserver.domain.paths import DASHBOARD_PATH
from mockserver.server.dashboard_views import PAGE_SIZE
from tests.helpers import (
    ADMIN,
    ADMIN_TOKEN,
    CREATE_PATH,
    KEY,
    OTHER,
    OTHER_KEY,
    Fake,
    b64,
    fake_app,
    image_bytes,
    picture,
)

UI = DASHBOARD_PATH


def html(fake: Fake, path: str, status: int = 200) -> str:
    response = fake.client.get(path)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.headers["content-type"] == "text/html; charset=utf-8"
    return unescape(response.text)


def listed(page: str) -> list[tuple[str, str]]:
    """(task id, status) of each row of a task list, in order."""
    return re.findall(r'<tr data-task="([^"]+)" data-status="([^"]+)">', page)


def test_the_page_lists_tasks_newest_first_with_masked_keys(fake: Fake) -> None:
    first, second = fake.create(), fake.create(headers=OTHER)
    page = html(fake, UI)
    assert listed(page) == [(second, "pending"), (first, "pending")]
    assert fingerprint(KEY) in page
    assert fingerprint(OTHER_KEY) in page
    assert KEY not in page
    assert OTHER_KEY not in page
    assert "2 tasks, newest first; page 1" in page


def test_the_page_ships_its_own_scripts_and_no_cdn(fake: Fake) -> None:
    page = html(fake, UI)
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert sources == [
        f"{UI}/static/dashboard.css",
        f"{UI}/static/htmx.min.js",
        f"{UI}/static/dashboard.js",
    ]
    for source in sources:
        response = fake.client.get(source)
        assert response.status_code == 200, source
    assert "htmx" in fake.client.get(f"{UI}/static/htmx.min.js").text[:200]
    assert "https://" not in page.split("<body>")[0]


def test_pages_of_fifty_newest_first(fake: Fake) -> None:
    made = [fake.create() for _ in range(PAGE_SIZE + 5)]
    first = html(fake, f"{UI}/tasks")
    assert [ident for ident, _ in listed(first)] == made[::-1][:PAGE_SIZE]
    assert "page=2" in first
    assert "page=0" not in first
    second = html(fake, f"{UI}/tasks?page=2")
    assert [ident for ident, _ in listed(second)] == made[::-1][PAGE_SIZE:]
    assert "Older" not in second
    assert "Newer" in second
    assert f"{PAGE_SIZE + 5} tasks" in second


def test_filters_by_status_and_by_key_or_its_fingerprint(fake: Fake) -> None:
    mine, theirs = fake.create(), fake.create(headers=OTHER)
    fake.ok("POST", f"/_mock/tasks/{mine}/fail", json={"code": 3002})
    assert listed(html(fake, f"{UI}/tasks?status=failed")) == [(mine, "failed")]
    assert listed(html(fake, f"{UI}/tasks?status=pending")) == [(theirs, "pending")]
    for key in (OTHER_KEY, fingerprint(OTHER_KEY)):
        assert listed(html(fake, f"{UI}/tasks?key={key}")) == [(theirs, "pending")]
    assert "under these filters" in html(fake, f"{UI}/tasks?status=succeeded")


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=done", "status"), ("page=x", "page"), ("view=nope", "view")],
)
def test_a_bad_query_is_a_400_naming_the_field(fake: Fake, query: str, field: str) -> None:
    path = f"{UI}?{query}" if query.startswith("view") else f"{UI}/tasks?{query}"
    answer = fake.client.get(path)
    assert answer.status_code == 400
    assert answer.json()["field"] == field


def test_the_detail_shows_request_thumbnail_and_timeline(fake: Fake) -> None:
    image = picture(480, 360)
    task_id = fake.create(image=b64(image), duration=10)
    detail = html(fake, f"{UI}/tasks/{task_id}")
    assert "<dt>duration</dt><dd>10</dd>" in detail
    thumbnail = f"{UI}/tasks/{task_id}/image/first"
    assert f'src="{thumbnail}"' in detail
    served = fake.client.get(thumbnail)
    assert (served.status_code, served.content) == (200, image)
    assert served.headers["content-type"] == "image/png"
    steps = re.findall(r'<li class="(reached|ahead)"><span class="status (\w+)">', detail)
    assert steps == [("reached", "pending"), ("ahead", "running"), ("ahead", "succeeded")]
    assert 'hx-trigger="every 1s' in detail  # still moving: the live part polls
    assert fake.client.get(f"{UI}/tasks/{task_id}/image/last").status_code == 404


def test_a_url_input_has_no_thumbnail(fake: Fake) -> None:
    task_id = fake.create()  # the default body names its image by URL
    assert "/image/" not in html(fake, f"{UI}/tasks/{task_id}")
    assert fake.client.get(f"{UI}/tasks/{task_id}/image/first").status_code == 404


def test_a_finished_task_shows_its_video_and_stops_polling(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(600)
    live = html(fake, f"{UI}/tasks/{task_id}/live")
    video = fake.poll(task_id)["videos"][0]
    assert re.search(r'<video [^>]*src="([^"]+)"', live)[1] == video.removeprefix(  # type: ignore[index]
        "http://wan-mock.test"
    )
    assert "hx-trigger" not in live


def test_a_failed_task_shows_its_failure_and_a_stuck_one_says_so(fake: Fake) -> None:
    failed, stuck = fake.create(), fake.create()
    fake.ok("POST", f"/_mock/tasks/{failed}/fail", json={"code": 3002})
    fake.ok("POST", f"/_mock/tasks/{stuck}/stick")
    assert "Fails with 3002" in html(fake, f"{UI}/tasks/{failed}/live")
    assert "<video" not in html(fake, f"{UI}/tasks/{failed}/live")
    assert "never finishes (stuck)" in html(fake, f"{UI}/tasks/{stuck}/live")


def test_an_unknown_task_is_a_404(fake: Fake) -> None:
    assert fake.client.get(f"{UI}/tasks/nope").status_code == 404
    assert fake.client.get(f"{UI}?task=nope").status_code == 404


def test_the_requests_panel_shows_rejected_requests_with_their_bodies(fake: Fake) -> None:
    fake.create()
    fake.client.post(CREATE_PATH, content=b'{"prompt": 5}')
    page = html(fake, f"{UI}?view=requests")
    rows = re.findall(r'<details class="exchange" data-status="(\d+)">', page)
    assert rows == ["400", "202"]  # newest first
    assert '"prompt": 5' in page
    assert '"error_code": 2001' in page
    assert 'hx-get="/_mock/ui/requests?after=2"' in page


def test_the_requests_poll_brings_only_what_is_new(fake: Fake) -> None:
    fake.create()
    fake.create()
    newer = html(fake, f"{UI}/requests?after=1")
    assert re.findall(r'class="num">#(\d+)<', newer) == ["2"]
    assert 'hx-swap-oob="afterbegin:#exchange-list"' in newer
    assert "hx-swap-oob" not in html(fake, f"{UI}/requests?after=2")
    fake.ok("POST", "/_mock/reset")
    assert fake.client.get(f"{UI}/requests?after=2").headers["hx-refresh"] == "true"


def test_the_webhooks_panel_lists_endpoints_with_masked_secrets(fake: Fake) -> None:
    made = fake.client.post(
        "/_mock/webhooks", json={"url": "http://127.0.0.1:9/hook", "secret": "whsec-long-secret"}
    )
    assert made.status_code == 201, made.text
    page = html(fake, f"{UI}?view=webhooks")
    assert "http://127.0.0.1:9/hook" in page
    assert "whsec-long-secret" not in page
    assert "No attempts yet." in page


def test_every_control_is_a_control_plane_route(fake: Fake) -> None:
    task_id = fake.create()
    page = html(fake, f"{UI}?task={task_id}")
    calls = re.findall(r'data-call="(\w+) ([^"]+)"', page)
    assert len(calls) >= 12
    routes = fake.app._control.app.routes  # type: ignore[attr-defined]
    for method, path in calls:
        scope = {"type": "http", "method": method, "path": path}
        assert any(route.matches(scope)[0] is Match.FULL for route in routes), (method, path)
        assert not path.startswith(UI)


def test_every_field_has_a_label(fake: Fake) -> None:
    page = html(fake, f"{UI}?task={fake.create()}")
    fields = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', page)
    labels = set(re.findall(r'<label for="([^"]+)"', page))
    assert fields
    assert set(fields) <= labels
    assert len(fields) == len(set(fields))  # ids are unique


@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_the_guard_covers_the_dashboard(fake: Fake, headers: dict[str, str]) -> None:
    for path in (UI, f"{UI}/tasks", f"{UI}/static/htmx.min.js"):
        assert fake.client.get(path, headers=headers).status_code == 403


def test_with_an_admin_token_the_dashboard_needs_it() -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN)) as fake:
        assert fake.client.get(UI).status_code == 403
        assert fake.client.get(UI, headers=ADMIN).status_code == 200


def test_a_browser_brings_the_token_once_in_the_address_then_as_a_cookie() -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN)) as fake:
        signed = fake.client.get(
            f"{UI}?view=requests&admin_token={ADMIN_TOKEN}", follow_redirects=False
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == f"{UI}?view=requests"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"wan_mock_admin_token={ADMIN_TOKEN};")
        for attribute in ("HttpOnly", "Path=/_mock", "SameSite=strict"):
            assert attribute in cookie
        jar = {"Cookie": f"wan_mock_admin_token={ADMIN_TOKEN}"}
        assert fake.client.get(UI, headers=jar).status_code == 200
        advanced = fake.client.post("/_mock/clock/advance", json={"seconds": 5}, headers=jar)
        assert advanced.status_code == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        (f"{UI}?admin_token=wrong", {}),
        (f"/_mock/tasks?admin_token={ADMIN_TOKEN}", {}),  # only the entry page takes it
        (f"{UI}/tasks?admin_token={ADMIN_TOKEN}", {}),
        (UI, {"Cookie": "wan_mock_admin_token=wrong"}),
        (UI, {"Cookie": "wan_mock_admin_token"}),
    ],
)
def test_a_wrong_or_misplaced_browser_token_is_refused(path: str, headers: dict[str, str]) -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN)) as fake:
        assert fake.client.get(path, headers=headers).status_code == 403


def test_without_an_admin_token_the_address_token_is_dropped(fake: Fake) -> None:
    signed = fake.client.get(f"{UI}?admin_token=anything", follow_redirects=False)
    assert (signed.status_code, signed.headers["location"]) == (303, UI)
    assert "set-cookie" not in signed.headers


def test_the_banner_prints_the_dashboards_url() -> None:
    banner = launch._banner(Settings(), "http://127.0.0.1:8000")
    assert "dashboard: http://127.0.0.1:8000/_mock/ui (open it in a browser)" in banner
    chosen = launch._banner(Settings(admin_token=ADMIN_TOKEN), "http://h:8")
    assert "dashboard: http://h:8/_mock/ui?admin_token=<the admin token> (once)" in chosen
    assert ADMIN_TOKEN not in chosen
    made_up = launch._banner(Settings(admin_token="a b"), "http://h:8", token_made_up=True)
    assert "dashboard: http://h:8/_mock/ui?admin_token=a%20b\n" in made_up


def test_the_readmes_screenshot_is_a_png_of_a_laptop_screen() -> None:
    """Made by tests/test_dashboard_browser.py (see its docstring to refresh it)."""
    data = (Path(__file__).parent.parent / "docs" / "images" / "dashboard.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1440, 900)


@pytest.mark.parametrize(("fmt", "media"), [("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_a_thumbnail_is_served_with_its_formats_type(fake: Fake, fmt: str, media: str) -> None:
    image = image_bytes(fmt, (480, 360))
    task_id = fake.create(image=b64(image))
    served = fake.client.get(f"{UI}/tasks/{task_id}/image/first")
    assert (served.status_code, served.headers["content-type"]) == (200, media)
    assert served.content == image
