"""Webhook endpoints declared by the settings: plain URLs (flags, environment) and whole
``[[webhooks]]`` tables (TOML, JSON), checked by the control plane's rules, with errors that
name the setting, the entry and the rule."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import msgspec
import pytest

from mockserver.domain.backend import Backend
from mockserver.domain.clock import ManualClock
from mockserver.domain.errors import InvalidRequest
from mockserver.domain.generation import GenerationRequest, ImageRef
from mockserver.domain.loading import SettingsError, load_settings, shown
from mockserver.domain.settings import BY_NAME, Settings
from mockserver.domain.webhooks import EVENTS, EndpointSpec, event_id
from mockserver.launch import with_webhook_secret
from tests.doc_blocks import all_blocks
from tests.helpers import fake_app

URL = "http://127.0.0.1:9/hook"
SECRET = "whsec_c2hhcmVkLXNlY3JldA"
OWN = 'secret = "whsec_b3duLXNlY3JldA", description = "CI"'


def load(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "wan-mock.toml"
    config.write_text(text)
    return load_settings(config_file=config)


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def backend_with(settings: Settings) -> Backend:
    return Backend(msgspec.structs.replace(settings, clock="virtual", seed=3), ManualClock())


def owed(backend: Backend, owner: str) -> list[tuple[str, str]]:
    """(endpoint id, event) of every delivery a new task of ``owner`` owes."""
    request = GenerationRequest("a cat", ImageRef("url", url="https://example.com/a.png"))
    task = backend.create_task(owner, request, None, origin="http://fake")
    return sorted(
        (delivery.endpoint_id, delivery.event)
        for event in EVENTS
        for delivery in backend.webhooks.store.by_event(event_id(task.id, event))
    )


def test_tables_declare_whole_endpoints_beside_plain_urls(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        f"""
webhook_secret = "{SECRET}"
webhooks = [
    "{URL}/all",
    {{url = "{URL}/ci", events = ["task.failed", "task.succeeded"], key = "ci-key", {OWN}}},
]
""",
    )
    every, ci = backend_with(settings).webhooks.endpoints()
    assert (every.id, every.url, every.events, every.key, every.secret) == (
        "we_settings_1",
        f"{URL}/all",
        EVENTS,
        None,
        SECRET,
    )
    assert (ci.id, ci.url, ci.key, ci.secret, ci.description, ci.source) == (
        "we_settings_2",
        f"{URL}/ci",
        "ci-key",
        "whsec_b3duLXNlY3JldA",
        "CI",
        "settings",
    )
    assert ci.events == ("task.succeeded", "task.failed")  # in the events' own order


def test_a_keyed_endpoint_hears_only_its_keys_tasks_and_its_events(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        f"""
[[webhooks]]
url = "{URL}/all"

[[webhooks]]
url = "{URL}/ci"
key = "ci-key"
events = ["task.succeeded"]
""",
    )
    backend = backend_with(settings)
    everyone = [("we_settings_1", "task.created"), ("we_settings_1", "task.succeeded")]
    assert owed(backend, "other-key") == everyone
    assert owed(backend, "ci-key") == sorted([*everyone, ("we_settings_2", "task.succeeded")])


def test_the_docs_table_example_loads_as_it_says(tmp_path: Path) -> None:
    (block,) = [
        b
        for b in all_blocks()
        if b.kind == "config" and b.path.name == "webhooks.md" and "[[webhooks]]" in b.text
    ]
    settings = load(tmp_path, block.text)
    every, ci = backend_with(settings).webhooks.endpoints()
    assert (every.key, every.events, every.secret) == (None, EVENTS, settings.webhook_secret)
    assert (ci.key, ci.events) == ("ci-key", ("task.succeeded", "task.failed"))
    assert ci.secret != settings.webhook_secret


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ('{url = "ftp://127.0.0.1/hook"}', "url"),
        ('{url = "http://127.0.0.1/hook", events = ["task.running"]}', "events"),
        ('{url = "http://127.0.0.1/hook", events = []}', "events"),
        ('{url = "http://127.0.0.1/hook", secret = "short"}', "secret"),
        ('{url = "http://127.0.0.1/hook", key = ""}', "key"),
        ('{url = "http://127.0.0.1/hook", description = "' + "d" * 201 + '"}', "description"),
    ],
)
def test_a_bad_entry_is_refused_as_the_control_plane_refuses_it(
    tmp_path: Path, entry: str, field: str
) -> None:
    message = refusal(tmp_path, f'webhooks = ["{URL}", {entry}]')
    assert message.startswith("invalid setting 'webhooks[1]' (")
    assert "key 'webhooks'" in message  # the source: the file and its key
    # The same sentence the control plane answers for the same fields.
    fields = tomllib.loads(f"e = {entry}")["e"]
    with pytest.raises(InvalidRequest) as caught:
        backend_with(Settings()).webhooks.register(
            fields["url"],
            fields.get("events", list(EVENTS)),
            fields.get("key"),
            fields.get("description", ""),
            fields.get("secret"),
        )
    (violation,) = caught.value.violations
    assert violation.field == field
    assert message.endswith("): " + violation.detail)


def test_an_unknown_key_in_a_table_is_named(tmp_path: Path) -> None:
    message = refusal(tmp_path, f'[[webhooks]]\nurl = "{URL}"\ncolour = "red"\n')
    assert message.startswith("invalid setting 'webhooks[0]' (")
    assert message.endswith("): unknown key 'colour'")


def test_a_bad_plain_url_is_refused_naming_the_entry(tmp_path: Path) -> None:
    message = refusal(tmp_path, f'webhooks = ["{URL}", "not a url"]')
    assert message.startswith("invalid setting 'webhooks[1]'")
    assert "http:// or https:// URL" in message


def test_a_sixth_endpoint_for_one_key_is_refused_naming_it(tmp_path: Path) -> None:
    tables = "".join(f'[[webhooks]]\nurl = "{URL}/{n}"\nkey = "alice"\n' for n in range(3))
    tables += "".join(f'[[webhooks]]\nurl = "{URL}/b{n}"\nkey = "bob"\n' for n in range(4))
    tables += f'[[webhooks]]\nurl = "{URL}/every"\n'  # bob: 4 + 1, alice: 3 + 1
    assert len(backend_with(load(tmp_path, tables)).webhooks.endpoints()) == 8
    message = refusal(tmp_path, tables + f'[[webhooks]]\nurl = "{URL}/b4"\nkey = "bob"\n')
    assert message.startswith("invalid setting 'webhooks[8]' (")
    assert re.search(r"\): url: at most 5 webhook endpoints for key key-[0-9a-f]+$", message)
    assert "bob" not in message  # a key is shown by its fingerprint only
    message = refusal(tmp_path, tables + f'[[webhooks]]\nurl = "{URL}/every2"\n')
    assert message.startswith("invalid setting 'webhooks[8]'")
    assert message.endswith("url: at most 5 webhook endpoints for every key")


def test_the_control_plane_counts_the_settings_endpoints(tmp_path: Path) -> None:
    tables = "".join(f'[[webhooks]]\nurl = "{URL}/{n}"\nkey = "alice"\n' for n in range(5))
    webhooks = backend_with(load(tmp_path, tables)).webhooks
    with pytest.raises(InvalidRequest, match="at most 5 webhook endpoints for key"):
        webhooks.register(URL, key="alice")
    webhooks.register(URL, key="bob")


def test_the_environment_takes_urls_or_a_json_array_of_tables() -> None:
    plain = load_settings(env={"WAN_MOCK_WEBHOOKS": f"{URL}/a, {URL}/b"})
    assert plain.webhooks == (f"{URL}/a", f"{URL}/b")
    tables = [{"url": f"{URL}/a", "key": "ci-key"}, f"{URL}/b"]
    mixed = load_settings(env={"WAN_MOCK_WEBHOOKS": json.dumps(tables)})
    assert mixed.webhooks == (EndpointSpec(url=f"{URL}/a", key="ci-key"), f"{URL}/b")
    with pytest.raises(SettingsError, match=r"'webhooks\[0\]' \(environment variable"):
        load_settings(env={"WAN_MOCK_WEBHOOKS": json.dumps([{"url": URL, "events": ["x"]}])})


def test_flags_keep_taking_urls() -> None:
    settings = load_settings(flags={"webhooks": [f"{URL}/a", f"{URL}/b"]})
    assert settings.webhooks == (f"{URL}/a", f"{URL}/b")


def test_the_setting_says_it_takes_tables_too() -> None:
    setting = BY_NAME["webhooks"]
    assert setting.flag == "--webhook"
    assert setting.value_form == "array of strings or tables `[[webhooks]]`"
    assert setting.env_form == "comma-separated or JSON"
    assert not BY_NAME["api_keys"].tables_too


def test_an_endpoints_own_secret_is_masked_when_settings_are_shown(tmp_path: Path) -> None:
    settings = load(tmp_path, f'[[webhooks]]\nurl = "{URL}"\nsecret = "whsec_dG9wLXNlY3JldA"\n')
    (entry,) = shown(settings)["webhooks"]
    assert entry["url"] == URL
    assert "dG9wLXNlY3JldA" not in json.dumps(entry)


def test_a_secret_is_made_up_only_for_endpoints_without_one(tmp_path: Path) -> None:
    own = load(tmp_path, f'[[webhooks]]\nurl = "{URL}"\nsecret = "whsec_dG9wLXNlY3JldA"\n')
    assert with_webhook_secret(own).webhook_secret is None
    shared = load(tmp_path, f'webhooks = ["{URL}"]')
    assert (with_webhook_secret(shared).webhook_secret or "").startswith("whsec_")


def test_the_control_plane_changes_the_settings_endpoints_live() -> None:
    table = {"url": URL, "key": "ci-key", "secret": "whsec_bGl2ZS1zZWNyZXQ"}
    with fake_app() as fake:
        changed = fake.client.patch("/_mock/settings", json={"webhooks": [table]})
        assert changed.status_code == 200, changed.text
        assert "bGl2ZS1zZWNyZXQ" not in changed.text  # the endpoint's secret is masked
        (listed,) = fake.client.get("/_mock/webhooks").json()["endpoints"]
        assert (listed["id"], listed["url"], listed["source"]) == ("we_settings_1", URL, "settings")
        refused = fake.client.patch(
            "/_mock/settings", json={"webhooks": [table, {"url": URL, "events": ["nope"]}]}
        )
        assert refused.status_code == 400
        assert "webhooks[1]" in refused.text
        assert "unknown event 'nope'" in refused.text
