"""wan-mock's two respx routers in-process: where they sit in respx's chain, and that they leave
respx as they found it (the inner suites of test_plugin_respx.py prove the behaviour)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx
from respx.mocks import Mocker
from respx.models import AllMockedAssertionError

from mockserver import Settings, create_app
from mockserver.testing.bridge import AppTransport
from mockserver.testing.router import DEFAULT_BASE_URLS, UnmockedRequest, WanRouter
from tests.helpers import CREATE_PATH

STORAGE = "https://storage.example.org/cat.mp4"


@pytest.fixture
def transport() -> Iterator[AppTransport]:
    made = AppTransport(create_app(Settings(clock="virtual")))
    yield made
    made.close()


def started() -> dict[str, list[respx.Router]]:
    return {name: list(mocker.routers) for name, mocker in Mocker.registry.items()}


def test_the_fallback_moves_behind_a_router_started_later(transport: AppTransport) -> None:
    with WanRouter(transport, DEFAULT_BASE_URLS) as wan, respx.mock() as user:
        assert started()["httpcore"] == [wan.fallback, user]
        user.put(STORAGE).respond(201)
        assert httpx.put(STORAGE).status_code == 201
        assert started()["httpcore"] == [user, wan.fallback]
        assert started()["httpx"] == [wan.front]
        with pytest.raises(UnmockedRequest, match=r"GET https://elsewhere\.test/ was not sent"):
            httpx.get("https://elsewhere.test/")


def test_a_refusal_is_respx_own_not_mocked_error(transport: AppTransport) -> None:
    """So that respx asks the next router, and code expecting respx's error sees it."""
    with WanRouter(transport, DEFAULT_BASE_URLS), pytest.raises(AllMockedAssertionError):
        httpx.get("https://elsewhere.test/")


def test_respx_is_left_as_it_was_found(transport: AppTransport) -> None:
    before = started()
    with WanRouter(transport, DEFAULT_BASE_URLS):
        answer = httpx.post(
            DEFAULT_BASE_URLS[0] + CREATE_PATH,
            json={"prompt": "A cat", "image": "https://example.com/cat.jpg"},
            headers={"Authorization": "Bearer k"},
        )
        assert answer.status_code == 202
    assert started() == before
    # and a router of the test's own, started after, still works alone
    with respx.mock() as user:
        user.get(STORAGE).respond(204)
        assert httpx.get(STORAGE).status_code == 204
