"""The settings' metadata is the one source: the flags, environment names, restart refusal,
the plugin's per-test check and the docs table all follow it, and nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
from starlette.testclient import TestClient

from mockserver.cli import TABLE_BEGIN, TABLE_END, build_parser, serve_settings
from mockserver.domain.behaviour import DIALECT_PROFILES, LIMIT_PRESETS
from mockserver.domain.clock import ManualClock
from mockserver.domain.loading import SettingsError, load_settings
from mockserver.domain.options import Option, Setting, describe, markdown_table
from mockserver.domain.settings import FIXED_PER_TEST, RESTART_ONLY, SETTINGS, Settings
from mockserver.server.app import create_app

pytest_plugins = ["pytester"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference" / "settings.md"
IDS = [setting.name for setting in SETTINGS]


def sample(setting: Setting) -> Any:
    """A valid value of ``setting`` other than its default, as a config file would give it."""
    if setting.choices:
        return setting.choices[-1]
    if setting.kind == "bool":
        return not setting.default
    if setting.kind in ("int", "float"):
        value = 2 if setting.default is None else setting.default + 1
        return int(value) if setting.kind == "int" else float(value)
    if setting.kind == "str":
        return "http://sample-value.test"  # a URL, a path, a long enough token: all valid
    if setting.kind == "list" and setting.name == "webhooks":
        return ["http://127.0.0.1:9/sample-1", "http://127.0.0.1:9/sample-2"]
    if setting.kind == "list":
        return ["sample-key-1", "sample-key-2"]
    assert setting.kind == "tables", setting
    return [{"scenario": "stuck"}] if setting.name == "rules" else [{"status": 500}]


def expected(setting: Setting, value: Any, stored: Any) -> Any:
    """What ``stored`` should be after giving ``value``: a preset's table, or the value (each
    table row with the defaults of the keys it leaves out)."""
    if setting.option.presets and isinstance(value, str):
        return plain(setting.option.presets[value])
    if setting.kind == "tables":
        return [{**row, **given} for row, given in zip(stored, value, strict=True)]
    return plain(value)


def plain(value: Any) -> Any:
    """``value`` as JSON would carry it (tuples as lists, structs as objects)."""
    return json.loads(msgspec.json.encode(value))


def as_stored(settings: Settings, name: str) -> Any:
    return plain(getattr(settings, name))


def serve_flags() -> set[str]:
    """Every option ``serve`` accepts, from its usage line (``--help`` and ``--config`` aside)."""
    usage = build_parser().parse_args(["serve"]).parser.format_usage()
    return set(re.findall(r"\[(--[a-z-]+)", usage)) - {"--config"}


def test_every_field_has_one_option_and_only_table_arrays_lack_a_flag() -> None:
    assert [s.name for s in SETTINGS] == list(Settings.__struct_fields__)
    flagless = {s.name for s in SETTINGS if s.flag is None}
    assert flagless == {s.name for s in SETTINGS if s.kind == "tables"} == {"rules", "faults"}


def test_a_field_without_an_option_is_refused() -> None:
    class Bare(msgspec.Struct):
        documented: Annotated[int, Option("a number")] = 1
        undocumented: int = 2

    with pytest.raises(TypeError, match="'undocumented' needs exactly one Option"):
        describe(Bare)


def test_every_flag_is_a_field_and_every_field_with_a_flag_is_one() -> None:
    # That each flag sets its own field is test_each_flag_sets_its_setting.
    assert serve_flags() == {s.flag for s in SETTINGS if s.flag}


def test_the_historic_flag_names_stay() -> None:
    flags = {s.name: s.flag for s in SETTINGS}
    assert flags["api_keys"] == "--api-key"
    assert flags["access_log"] == "--no-access-log"
    assert flags["dialect"] == "--profile"
    assert flags["failure_rate"] == "--failure-rate"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.flag], ids=lambda s: s.name)
def test_each_flag_sets_its_setting(setting: Setting) -> None:
    value = sample(setting)
    if setting.kind == "bool":
        argv = [str(setting.flag)]
    elif setting.kind == "list":
        argv = [part for key in value for part in (str(setting.flag), key)]
    else:
        argv = [str(setting.flag), str(value)]
    args = build_parser().parse_args(["serve", *argv])
    settings = serve_settings(args, {})
    stored = as_stored(settings, setting.name)
    assert stored == expected(setting, value, stored)
    assert stored != plain(setting.default)


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_each_environment_variable_sets_its_setting(setting: Setting) -> None:
    value = sample(setting)
    if setting.env_form.startswith("comma-separated"):
        text = ",".join(value)
    elif setting.env_form in ("JSON", "name or JSON") and not isinstance(value, str):
        text = json.dumps(value)
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    settings = load_settings(env={setting.env: text})
    stored = as_stored(settings, setting.name)
    assert stored == expected(setting, value, stored)


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_each_toml_key_sets_its_setting(setting: Setting, tmp_path: Path) -> None:
    value = sample(setting)
    config = tmp_path / "wan.toml"
    if setting.kind == "tables":
        rows = "".join(
            f"[[{setting.name}]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in row.items())
            for row in value
        )
        config.write_text(rows)
    else:
        config.write_text(f"{setting.name} = {json.dumps(value)}\n")
    settings = load_settings(config_file=config)
    stored = as_stored(settings, setting.name)
    assert stored == expected(setting, value, stored)


def test_presets_stand_for_their_tables() -> None:
    by_name = {s.name: s for s in SETTINGS}
    assert by_name["limits"].option.presets is LIMIT_PRESETS
    assert by_name["dialect"].option.presets is DIALECT_PROFILES
    assert by_name["dialect"].choices == tuple(DIALECT_PROFILES)


@pytest.fixture
def control() -> TestClient:
    return TestClient(create_app(Settings(seed=1), clock=ManualClock()), base_url="http://t")


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_the_control_plane_refuses_exactly_the_restart_only_settings(
    control: TestClient, setting: Setting
) -> None:
    response = control.patch("/_mock/settings", json={setting.name: sample(setting)})
    if setting.option.restart:
        assert response.status_code == 400, response.text
        error = response.json()
        assert (error["field"], error["rule"]) == (setting.name, "restart")
        assert setting.name in error["detail"]
    else:
        assert response.status_code == 200, response.text


def test_restart_only_settings_are_fixed_for_the_shared_pytest_server() -> None:
    assert {s.name for s in SETTINGS if s.option.restart} == RESTART_ONLY
    assert {"host", "port", "clock", "speed", "state", "workers"} <= RESTART_ONLY
    assert RESTART_ONLY | {"admin_token"} == FIXED_PER_TEST


def test_the_shared_server_fixture_refuses_exactly_the_fixed_settings(
    pytester: pytest.Pytester,
) -> None:
    tests = []
    for setting in SETTINGS:
        if setting.name == "seed":  # the marker's own keyword, always accepted
            continue
        value = msgspec.to_builtins(sample(setting))
        tests.append(
            f"@pytest.mark.wan_mock({setting.name}={value!r})\n"
            f"def test_{setting.name}(wan_server):\n    pass\n"
        )
    pytester.makepyfile("import pytest\n\n" + "\n".join(tests))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", timeout=120)
    for setting in SETTINGS:
        if setting.name == "seed":
            continue
        if setting.name in FIXED_PER_TEST:
            result.stdout.fnmatch_lines(
                [f"E * wan-mock: {setting.name} cannot change per test on the shared server"]
            )
            # Under CI pytest keeps the reason after the test's name (" - UsageError..."),
            # elsewhere it may cut it: both are the same answer.
            result.stdout.re_match_lines([rf"ERROR .*::test_{setting.name}( - .*)?$"])
        else:
            result.stdout.re_match_lines([rf"PASSED .*::test_{setting.name}$"])


def test_the_docs_table_is_the_generated_one() -> None:
    text = DOCS.read_text()
    assert TABLE_BEGIN in text, f"{DOCS} lacks {TABLE_BEGIN}"
    assert TABLE_END in text, f"{DOCS} lacks {TABLE_END}"
    committed = text.split(TABLE_BEGIN + "\n", 1)[1].split(TABLE_END, 1)[0]
    assert committed == markdown_table(SETTINGS), (
        "the settings table is stale: run `wan-mock settings --update docs/reference/settings.md`"
    )
    for setting in SETTINGS:
        assert f"`{setting.name}`" in committed
        assert setting.env in committed


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"api_keys": [""]}, {}, r"'api_keys\[0\]' \(option --api-key\): must not be empty"),
        ({"admin_token": "short"}, {}, r"'admin_token' .*: must be 8 or more characters"),
        ({"public_url": "ftp://x"}, {}, r"'public_url' .*: must be an http:// or https:// URL"),
        ({"host": ""}, {}, r"'host' \(option --host\): must not be empty$"),
        ({"port": 70000}, {}, r"'port' \(option --port\): must be at most 65535$"),
        ({"speed": 0}, {}, r"'speed' \(option --speed\): must be more than 0$"),
        ({"render_cache_mb": 1}, {}, r"must be at least 16$"),
        ({}, {"WAN_MOCK_PORT": "eighty"}, r"'eighty'\): must be a whole number, not text$"),
        ({}, {"WAN_MOCK_STRICT": "maybe"}, r"'strict' .*: must be true or false, not text$"),
        ({}, {"WAN_MOCK_CLOCK": "fast"}, r"unknown value 'fast'; expected one of 'real', 'v"),
        ({}, {"WAN_MOCK_LIMITS": '{"a": 1}'}, r"'limits' .*: unknown key 'a'$"),
    ],
)
def test_errors_are_sentences_naming_the_setting_and_its_source(
    flags: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        load_settings(flags, env)
    assert "regex" not in str(error.value)
    assert "Expected `" not in str(error.value)
