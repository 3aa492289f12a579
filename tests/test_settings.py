from __future__ import annotations

from pathlib import Path

import pytest

from mockserver import ManualClock, Settings, SettingsError, load_settings
from mockserver.domain.backend import Backend


def test_defaults_need_no_config() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert (settings.host, settings.port, settings.timing, settings.speed) == (
        "127.0.0.1",
        8000,
        "dev",
        1.0,
    )
    assert settings.failure_rate == 0.0
    assert settings.api_keys == ()
    assert not settings.strict


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    config = tmp_path / "wan.toml"
    config.write_text('speed = 2.0\ntiming = "realistic"\nport = 9000\nseed = 1\n')
    env = {"WAN_MOCK_SPEED": "5", "WAN_MOCK_PORT": "9100"}
    settings = load_settings({"port": 9200, "seed": None}, env, config)
    assert settings.port == 9200  # flag
    assert settings.speed == 5.0  # environment
    assert settings.timing == "realistic"  # file
    assert settings.seed == 1  # a flag left unset does not override


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "wan.toml"
    config.write_text("failure_rate = 0.5\n")
    assert load_settings(env={"WAN_MOCK_CONFIG": str(config)}).failure_rate == 0.5


def test_api_keys_from_environment_are_comma_separated() -> None:
    settings = load_settings(env={"WAN_MOCK_API_KEYS": "k1, k2,,"})
    assert settings.api_keys == ("k1", "k2")


def test_booleans_from_environment() -> None:
    assert load_settings(env={"WAN_MOCK_STRICT": "true"}).strict
    assert not load_settings(env={"WAN_MOCK_ACCESS_LOG": "0"}).access_log


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"speed": 0}, {}, r"'speed' \(option --speed\)"),
        ({"failure_rate": 1.5}, {}, r"'failure_rate' \(option --failure-rate\)"),
        (
            {},
            {"WAN_MOCK_PORT": "eighty"},
            r"'port' \(environment variable WAN_MOCK_PORT='eighty'\)",
        ),
        ({}, {"WAN_MOCK_TIMING": "fast"}, r"'timing'.*expected one of 'dev', 'realistic'"),
        ({}, {"WAN_MOCK_SPEEED": "2"}, "unknown setting in environment variable WAN_MOCK_SPEEED"),
        ({"public_url": "ftp://x"}, {}, "'public_url'"),
        ({"api_keys": ["ok", " "]}, {}, r"'api_keys\[1\]' \(option --api-key\)"),
        ({"rules": []}, {}, "setting 'rules' has no option: give it in a config file"),
        ({"sped": 2}, {}, "unknown setting 'sped'"),
    ],
)
def test_bad_values_are_named_with_their_source(
    flags: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(flags, env)


def test_bad_config_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config_file=missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("speed = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(config_file=broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("sped = 2\n")
    with pytest.raises(SettingsError, match=r"unknown setting.*'sped'"):
        load_settings(config_file=unknown)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('speed = "fast"\n')
    with pytest.raises(SettingsError, match=r"'speed' \(.*wrong.toml: key 'speed'\)"):
        load_settings(config_file=wrong)


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(AttributeError, match="immutable"):
        settings.speed = 3  # type: ignore[misc]


def test_settings_built_directly_are_checked_by_the_backend() -> None:
    with pytest.raises(SettingsError, match=r"invalid setting 'speed' \(given directly\)"):
        Backend(Settings(speed=0), ManualClock())
