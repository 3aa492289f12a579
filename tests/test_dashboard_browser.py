"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against the
fake served by uvicorn. It watches a task appear, fails one with a click, finishes one with a
clock advance and plays its video, and saves a screenshot of the page.

Set ``WAN_MOCK_DASHBOARD_SCREENSHOT=docs/images/dashboard.png`` to refresh the README's image.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mockserver import Settings
from mockserver.domain.paths import DASHBOARD_PATH
from mockserver.testing.server import ServerThread
from tests.helpers import ADMIN_TOKEN, AUTH, CREATE_PATH, OTHER, b64, body, picture
from tests.media_probe import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

WAIT_MS = 10_000  # the page polls every second: anything live shows well within this
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}  # a laptop screen


def sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright as made
    except ImportError:
        message = "playwright is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return made()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(Settings(seed=5, clock="virtual", access_log=False)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (launching it is most of a test's time)."""
    chromium = require("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--mute-audio"]
        )
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser) -> Page:
    """A page in a context of its own (its own cookies), sized like a laptop screen."""
    opened = browser.new_context(viewport=VIEWPORT).new_page()
    opened.set_default_timeout(WAIT_MS)
    return opened


@pytest.fixture
def page(server: ServerThread, browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    try:
        opened.goto(server.base_url + DASHBOARD_PATH)
        yield opened
    finally:
        opened.context.close()


def create(server: ServerThread, headers: dict[str, str] = AUTH, **fields: Any) -> str:
    answer = httpx.post(server.base_url + CREATE_PATH, json=body(**fields), headers=headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["task_info"]["id"])


def row(page: Page, task_id: str, status: str = "") -> str:
    found = f'#tasks tr[data-task="{task_id}"]'
    return found + (f'[data-status="{status}"]' if status else "")


def test_tasks_appear_live_and_a_click_fails_one(server: ServerThread, page: Page) -> None:
    task_id = create(server)
    page.wait_for_selector(row(page, task_id, "pending"))  # no reload: the list polls
    page.click(f"#t-{task_id}")
    page.wait_for_selector(f'article[data-task="{task_id}"]')
    page.select_option("#fail-code", "3002")
    page.get_by_role("button", name="Fail now").click()
    page.wait_for_selector(f'#live-{task_id} [data-testid="task-status"]:text("failed")')
    page.wait_for_selector(row(page, task_id, "failed"))
    assert "Fails with 3002" in page.inner_text(f"#live-{task_id}")
    assert '"status":"failed"' in page.inner_text("#result")


def test_a_clock_advance_finishes_a_task_and_its_video_plays(
    server: ServerThread, page: Page, tmp_path: Path
) -> None:
    task_id = create(server, image=b64(picture(1280, 720)), prompt="A lighthouse at dusk")
    create(server, headers=OTHER, prompt="A second client's task")
    failing = {**OTHER, "X-Wan-Mock-Scenario": "fail:3004"}
    create(server, headers=failing, prompt="A task told to fail by a header")
    page.wait_for_selector(row(page, task_id, "pending"))
    page.click(f"#t-{task_id}")
    page.wait_for_selector('img[alt="The first frame sent with the task"]')
    page.fill("#advance-seconds", "600")
    page.get_by_role("button", name="Advance").click()
    page.wait_for_selector(row(page, task_id, "succeeded"))
    video = page.wait_for_selector(f"#live-{task_id} video")
    assert video is not None
    played = page.evaluate(
        """async (selector) => {
            const v = document.querySelector(selector);
            await v.play();
            while (v.currentTime < 0.3) await new Promise((r) => setTimeout(r, 50));
            return {time: v.currentTime, width: v.videoWidth, height: v.videoHeight};
        }""",
        f"#live-{task_id} video",
    )
    assert played["time"] >= 0.3
    assert (played["width"], played["height"]) == (1280, 720)
    image = Path(os.environ.get("WAN_MOCK_DASHBOARD_SCREENSHOT") or tmp_path / "dashboard.png")
    page.screenshot(path=str(image))
    assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_reset_by_a_click_empties_the_list_and_the_chosen_task_goes(
    server: ServerThread, page: Page
) -> None:
    task_id = create(server)
    page.wait_for_selector(row(page, task_id, "pending"))
    page.click(f"#t-{task_id}")
    page.wait_for_selector(f"#live-{task_id}")
    page.get_by_role("button", name="Reset the fake").click()
    page.wait_for_selector('#detail p:text("This task is gone")')
    page.wait_for_selector('#tasks td:text("No tasks yet")')


def test_with_an_admin_token_the_address_signs_the_browser_in(browser: Browser) -> None:
    settings = Settings(seed=5, clock="virtual", access_log=False, admin_token=ADMIN_TOKEN)
    with ServerThread(settings) as server:
        page = new_page(browser)
        try:
            refused = page.goto(server.base_url + DASHBOARD_PATH)
            assert refused is not None
            assert refused.status == 403
            page.goto(f"{server.base_url}{DASHBOARD_PATH}?admin_token={ADMIN_TOKEN}")
            assert page.url == server.base_url + DASHBOARD_PATH  # the token left the address
            page.fill("#advance-seconds", "600")
            page.get_by_role("button", name="Advance").click()  # a JSON POST, by cookie
            page.wait_for_selector('#result:text("/_mock/clock/advance -> 200")')
            page.wait_for_selector('#clock time:text("T00:10:00")')
        finally:
            page.context.close()
