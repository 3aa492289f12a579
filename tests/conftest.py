from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.server.app import MockApp
from tests.helpers import AUTH

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mock_settings() -> Settings:
    return Settings(seed=7)


@pytest.fixture
def app(mock_settings: Settings, clock: ManualClock) -> MockApp:
    return create_app(mock_settings, clock=clock)


@pytest.fixture
def backend(app: MockApp) -> Backend[Any]:
    return app.backend


@pytest.fixture
def client(app: MockApp) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH, base_url="http://wan-mock.test") as test_client:
        yield test_client
