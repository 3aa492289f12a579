"""Error bodies carry exactly the documented keys by default, with every broken field named in
``detail``; the diagnostics (``field``, ``rule``, ``errors``, ``limit``) come only with
``explain_errors``, switched on by the settings, TOML, the control plane or the pytest marker.
The control plane is the fake's own and always explains."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockserver import Settings, load_settings
from mockserver.domain.behaviour import Limits
from mockserver.testing.api import WanMock
from tests.helpers import AUTH, CREATE_PATH, body, fake_app, task_path

DOCUMENTED = {"error_code", "title", "detail"}
DIAGNOSTICS = {"field", "rule", "errors"}


def test_every_api_error_has_only_the_documented_keys() -> None:
    # Proves nothing beyond error_code/title/detail reaches a client by default, for each
    # kind of refusal the API makes on its own.
    limits = Limits(submissions_per_second=1)
    with fake_app(Settings(seed=1, api_keys=("test-key",), limits=limits)) as fake:
        client = fake.client
        answers = {
            400: client.post(CREATE_PATH, json=body(duration=7, resolution="4K")),
            401: client.get(task_path("x"), headers={"Authorization": "Bearer nope"}),
            404: client.get(task_path("4f0c9e2a-1b7d-4c8e-9a55-0d3b8e6f7a21")),
            405: client.put(CREATE_PATH),
        }
        client.post(CREATE_PATH, json=body())
        answers[429] = client.post(CREATE_PATH, json=body())
        for status, response in answers.items():
            assert response.status_code == status, response.text
            assert set(response.json()) == DOCUMENTED, (status, response.text)


def test_the_detail_names_every_broken_field() -> None:
    with fake_app() as fake:
        error = fake.client.post(
            CREATE_PATH, json={"image": "ftp://x", "duration": 7, "seed": -1}
        ).json()
    for field in ("prompt", "image", "duration", "seed"):
        assert f"{field}: " in error["detail"], error


def test_a_429_names_its_limit_in_the_detail_and_the_switch_adds_it() -> None:
    with fake_app(Settings(seed=1, limits=Limits(polls_per_second=1))) as fake:
        fake.client.get(task_path("a"))
        plain = fake.client.get(task_path("a"))
        assert "(polls_per_second: at most 1 status polls" in plain.json()["detail"]
        fake.ok("PATCH", "/_mock/settings", json={"explain_errors": True})
        explained = fake.client.get(task_path("a")).json()
        assert explained["limit"] == "polls_per_second"


def test_explain_errors_adds_the_diagnostics() -> None:
    with fake_app(Settings(seed=1, explain_errors=True)) as fake:
        error = fake.client.post(CREATE_PATH, json=body(duration=7, resolution="4K")).json()
    assert set(error) == DOCUMENTED | DIAGNOSTICS
    assert [(e["field"], e["rule"]) for e in error["errors"]] == [
        ("duration", "enum"),
        ("resolution", "enum"),
    ]
    assert all(e["detail"] in error["detail"] for e in error["errors"])


def test_explain_errors_from_toml_and_live(tmp_path: Path) -> None:
    config = tmp_path / "wan-mock.toml"
    config.write_text("explain_errors = true\n")
    assert load_settings(config_file=config).explain_errors is True
    assert load_settings(env={"WAN_MOCK_EXPLAIN_ERRORS": "true"}).explain_errors is True
    with fake_app() as fake:
        assert "errors" not in fake.client.post(CREATE_PATH, json=body(duration=7)).json()
        fake.ok("PATCH", "/_mock/settings", json={"explain_errors": True})
        assert "errors" in fake.client.post(CREATE_PATH, json=body(duration=7)).json()
        fake.ok("POST", "/_mock/reset")
        assert "errors" not in fake.client.post(CREATE_PATH, json=body(duration=7)).json()


def test_the_control_plane_always_explains() -> None:
    with fake_app() as fake:
        refused = fake.client.post("/_mock/clock/advance", json={"seconds": "soon"})
    assert refused.status_code == 400
    assert refused.json()["field"] == "seconds"


@pytest.mark.wan_mock(explain_errors=True)
def test_the_marker_switches_diagnostics_on(wan_mock: WanMock) -> None:
    with httpx.Client(base_url=wan_mock.base_url, headers=AUTH) as client:
        error = client.post(CREATE_PATH, json=body(duration=7)).json()
    assert (error["field"], error["rule"]) == ("duration", "enum")


def test_the_plugin_default_is_the_documented_body(wan_mock: WanMock) -> None:
    with httpx.Client(base_url=wan_mock.base_url, headers=AUTH) as client:
        error = client.post(CREATE_PATH, json=body(duration=7)).json()
    assert set(error) == DOCUMENTED
