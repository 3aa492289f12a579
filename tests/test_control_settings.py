"""Live settings (``/_mock/settings``): shown whole with the admin token masked, patched
values in force for the next request, restart-only and bad values refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver import Settings
from mockserver.domain.keys import mask
from tests.helpers import (
    ADMIN,
    ADMIN_TOKEN,
    CREATE_PATH,
    FAILURE_CODES,
    Fake,
    assert_error,
    body,
    fake_app,
)

# --- settings -----------------------------------------------------------------------------------


def test_settings_shows_every_setting(fake: Fake) -> None:
    shown = fake.settings()
    assert set(shown) == set(Settings.__struct_fields__)
    assert shown["seed"] == 1
    assert shown["failure_rate"] == 0.0
    assert shown["admin_token"] is None
    assert shown["dialect"]["statuses"] == "default"
    assert shown["limits"] == {
        "submissions_per_second": None,
        "concurrent_tasks": None,
        "polls_per_second": None,
    }


def test_settings_mask_the_admin_token() -> None:
    with fake_app(Settings(seed=1, admin_token=ADMIN_TOKEN), headers=ADMIN) as fake:
        response = fake.client.get("/_mock/settings")
        assert response.status_code == 200, response.text
        assert response.json()["admin_token"] == "***"
        assert ADMIN_TOKEN not in response.text
        patched = fake.client.patch("/_mock/settings", json={"failure_rate": 0.5})
        assert patched.json()["admin_token"] == "***"
        assert ADMIN_TOKEN not in patched.text


def test_settings_mask_api_keys_keeping_a_few_last_characters() -> None:
    # Reproduces a finding: /_mock/settings answered the configured API keys in clear.
    keys = ("sk-live-0123456789abcdef", "short-key")
    with fake_app(Settings(seed=1, api_keys=keys)) as fake:
        read = fake.client.get("/_mock/settings")
        patched = fake.client.patch("/_mock/settings", json={"failure_rate": 0.5})
        for response in (read, patched):
            assert response.status_code == 200, response.text
            assert response.json()["api_keys"] == ["sk-...cdef", "***"]
            assert [mask(key) for key in keys] == ["sk-...cdef", "***"]
            for key in keys:
                assert key not in response.text
        # The keys themselves still work: only what is shown is masked.
        assert fake.backend.settings.api_keys == keys
        # Sent back as shown, masked credentials are left as they are; new ones replace them.
        echoed = fake.ok("PATCH", "/_mock/settings", json={"api_keys": ["sk-...cdef", "***"]})
        assert echoed["api_keys"] == ["sk-...cdef", "***"]
        assert fake.backend.settings.api_keys == keys
        fake.ok("PATCH", "/_mock/settings", json={"api_keys": ["new-key"]})
        assert fake.backend.settings.api_keys[0] == "new-key"
        assert len(fake.backend.settings.api_keys) == 1


def test_patch_failure_rate_applies_to_new_tasks(fake: Fake) -> None:
    before = fake.create()
    assert fake.ok("PATCH", "/_mock/settings", json={"failure_rate": 1})["failure_rate"] == 1.0
    after = [fake.create() for _ in range(3)]
    fake.clock.advance(60)
    assert fake.poll(before)["task_info"]["status"] == "succeeded", "an existing plan changed"
    for task_id in after:
        polled = fake.poll(task_id)["task_info"]
        assert polled["status"] == "failed", polled
        assert polled["error"]["code"] in FAILURE_CODES


def test_patch_strict_rejects_undocumented_fields_live(fake: Fake) -> None:
    fake.create(colour="blue")
    assert fake.ok("PATCH", "/_mock/settings", json={"strict": True})["strict"] is True
    response = fake.client.post(CREATE_PATH, json=body(colour="blue"))
    assert response.status_code == 400, response.text
    assert "colour" in response.text
    fake.ok("PATCH", "/_mock/settings", json={"strict": False})
    fake.create(colour="blue")


def test_patch_dialect_by_name(fake: Fake) -> None:
    task_id = fake.create()
    fake.clock.advance(1.0)
    shown = fake.ok("PATCH", "/_mock/settings", json={"dialect": "legacy"})["dialect"]
    assert (shown["statuses"], shown["timestamps"]) == ("legacy", "z")
    info = fake.poll(task_id)["task_info"]
    assert info["status"] == "processing"
    assert info["created_at"] == "2026-09-21T14:13:20Z"
    fake.clock.advance(60)
    assert fake.poll(task_id)["task_info"]["status"] == "completed"


def test_patch_dialect_as_a_table(fake: Fake) -> None:
    task_id = fake.create()
    shown = fake.ok("PATCH", "/_mock/settings", json={"dialect": {"statuses": "queued"}})
    assert shown["dialect"] == {
        "statuses": "queued",
        "error_body": "default",
        "timestamps": "observed",
        "create_status": 202,
        "error_placement": "task_info",
        "webhook_key": "utf8",
        "webhook_digest": "hex",
        "unreachable_urls": "fail",
        "unreadable_input": 3003,
    }
    assert fake.poll(task_id)["task_info"]["status"] == "queued"
    fake.ok("PATCH", "/_mock/settings", json={"dialect": {"create_status": 200}})
    assert fake.client.post(CREATE_PATH, json=body()).status_code == 200


def test_patch_limits_by_name_and_as_a_table(fake: Fake) -> None:
    fake.ok("PATCH", "/_mock/settings", json={"limits": "realistic"})
    codes = [fake.client.post(CREATE_PATH, json=body()).status_code for _ in range(6)]
    assert codes == [202] * 5 + [429], codes
    fake.ok("PATCH", "/_mock/settings", json={"limits": "off"})
    assert fake.client.post(CREATE_PATH, json=body()).status_code == 202
    shown = fake.ok("PATCH", "/_mock/settings", json={"limits": {"polls_per_second": 1}})
    assert shown["limits"]["polls_per_second"] == 1.0
    task_id = fake.create()
    path = f"{CREATE_PATH}/{task_id}"
    assert [fake.client.get(path).status_code for _ in range(2)] == [200, 429]


def test_patch_faults_live(fake: Fake) -> None:
    faults = [{"target": "create", "status": 503}]
    assert (
        fake.ok("PATCH", "/_mock/settings", json={"faults": faults})["faults"][0]["status"] == 503
    )
    response = fake.client.post(CREATE_PATH, json=body())
    assert response.status_code == 503
    assert response.headers["x-wan-mock-injected"] == "fault status:503"
    fake.ok("PATCH", "/_mock/settings", json={"faults": []})
    fake.create()


def test_patch_journal_size_keeps_the_newest(fake: Fake) -> None:
    ids = [fake.create() for _ in range(4)]
    for task_id in ids:
        fake.poll(task_id)
    fake.ok("PATCH", "/_mock/settings", json={"journal_size": 2})
    entries = fake.ok("GET", "/_mock/journal")["entries"]
    assert [e["path"] for e in entries] == [f"{CREATE_PATH}/{task_id}" for task_id in ids[2:]]


def test_patch_with_an_empty_object_changes_nothing(fake: Fake) -> None:
    before = fake.settings()
    assert fake.ok("PATCH", "/_mock/settings", json={}) == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("host", "0.0.0.0"),
        ("port", 9000),
        ("clock", "real"),
        ("speed", 10.0),
        ("virtual_start", 0),
        ("access_log", False),
    ],
)
def test_patch_refuses_restart_only_settings(fake: Fake, key: str, value: Any) -> None:
    before = fake.settings()
    response = fake.client.patch("/_mock/settings", json={key: value, "failure_rate": 0.5})
    error = assert_error(response, 400, key)
    assert error["field"] == key
    assert "start" in error["detail"], error
    assert fake.settings() == before, "a refused PATCH changed settings"


def test_patch_refuses_an_unknown_setting(fake: Fake) -> None:
    before = fake.settings()
    response = fake.client.patch("/_mock/settings", json={"failure_rat": 0.5})
    assert "unknown" in assert_error(response, 400, "failure_rat")["detail"]
    assert fake.settings() == before


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("failure_rate", 2),
        ("failure_rate", -0.1),
        ("failure_rate", "often"),
        ("strict", "yes"),
        ("timing", "slow"),
        ("dialect", "klingon"),
        ("dialect", {"statuses": "klingon"}),
        ("limits", "strict"),
        ("limits", {"concurrent_tasks": 0}),
        ("journal_size", -1),
        ("faults", [{"status": 503, "drop": True}]),
        ("admin_token", "short"),
        ("public_url", "ftp://example.com"),
    ],
    ids=repr,
)
def test_patch_refuses_a_bad_value_naming_the_setting(fake: Fake, key: str, value: Any) -> None:
    before = fake.settings()
    response = fake.client.patch("/_mock/settings", json={"failure_rate": 0.25, key: value})
    assert_error(response, 400, key)
    assert fake.settings() == before, "a refused PATCH changed settings"


def test_patch_refuses_a_body_that_is_not_an_object(fake: Fake) -> None:
    assert_error(fake.client.patch("/_mock/settings", json=[["failure_rate", 1]]), 400, "body")
    json_type = {"content-type": "application/json"}
    bad = fake.client.patch("/_mock/settings", content=b"{", headers=json_type)
    assert_error(bad, 400)


def test_patching_the_seed_is_refused_or_takes_effect(fake: Fake) -> None:
    # A seed patched live is either refused like the restart-only settings, or in force: the
    # next id is the one a fresh fake with that seed makes (not one from the old seed).
    response = fake.client.patch("/_mock/settings", json={"seed": 5})
    if response.status_code == 400:
        assert_error(response, 400, "seed")
        return
    assert response.status_code == 200, response.text
    created = fake.create()
    with fake_app(Settings(seed=5)) as fresh:
        expected = fresh.create()
    with fake_app(Settings(seed=1)) as old:
        old_first = old.create()
    assert created == expected, (
        f"PATCH seed=5 answered 200 (settings now say seed {response.json()['seed']}), but the "
        f"next id is {created} ({'seed 1 first id' if created == old_first else '?'}); a fresh "
        f"fake with seed 5 makes {expected}"
    )
