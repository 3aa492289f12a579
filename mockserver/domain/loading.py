"""Settings from flags, environment and a TOML file, checked, with errors that name the
setting and where it came from.

Precedence, highest first: command-line flags, ``WAN_MOCK_*`` environment variables, the TOML
config file, the defaults in :class:`~mockserver.domain.settings.Settings`. Nothing reads the
environment at import time: callers pass the environment in, so tests can hand over a plain
dict.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from mockserver.domain.keys import mask
from mockserver.domain.options import ENV_PREFIX, Setting, in_words
from mockserver.domain.settings import BY_ENV, BY_NAME, SECRET, Settings

CONFIG_ENV = ENV_PREFIX + "CONFIG"


class SettingsError(ValueError):
    """A setting could not be read; the message names the setting and where it came from."""


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | str | None = None,
) -> Settings:
    """Build settings from flags (only those given), the environment and an optional TOML file.

    The config file may also be named by ``WAN_MOCK_CONFIG``. Unknown keys and bad values raise
    :class:`SettingsError` naming the key and its source.
    """
    env = env or {}
    sources: dict[str, str] = {}
    merged: dict[str, Any] = {}

    path = config_file if config_file is not None else env.get(CONFIG_ENV)
    if path:
        for key, value in _read_toml(Path(path)).items():
            merged[key] = value
            sources[key] = f"{path}: key {key!r}"

    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        if name not in BY_ENV:
            raise SettingsError(f"unknown setting in environment variable {name}")
        setting = BY_ENV[name]
        merged[setting.name] = _from_env(setting, value)
        shown = "" if setting.option.secret else f"={value!r}"
        sources[setting.name] = f"environment variable {name}{shown}"

    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in BY_NAME:
            raise SettingsError(f"unknown setting {key!r}")
        flag = BY_NAME[key].flag
        if flag is None:
            raise SettingsError(f"setting {key!r} has no option: give it in a config file")
        merged[key] = value
        sources[key] = f"option {flag}"

    return convert(merged, sources)


def shown(settings: Settings) -> dict[str, Any]:
    """``settings`` as plain data for output, every credential masked (:func:`mask`)."""
    data: dict[str, Any] = msgspec.to_builtins(settings)
    for name in SECRET:
        value = data.get(name)
        if isinstance(value, str):
            data[name] = mask(value)
        elif isinstance(value, list | tuple):
            data[name] = [mask(item) for item in value]
    for entry in data.get("webhooks", ()):  # a [[webhooks]] table may hold its own secret
        if isinstance(entry, dict) and isinstance(entry.get("secret"), str):
            entry["secret"] = mask(entry["secret"])
    return data


def merge_settings(settings: Settings, changes: Mapping[str, Any], source: str) -> Settings:
    """``settings`` with ``changes`` (field name to value, as in a TOML file) applied and
    checked; errors name the field and ``source``."""
    unknown = sorted(set(changes) - set(BY_NAME))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(map(repr, unknown))} ({source})")
    merged = {**msgspec.to_builtins(settings), **changes}
    return convert(merged, dict.fromkeys(changes, source))


def _from_env(setting: Setting, value: str) -> Any:
    as_json = setting.env_form != "text" and value.lstrip()[:1] in ("{", "[")
    if setting.kind == "list" and not (as_json and setting.tables_too):
        return [part.strip() for part in value.split(",") if part.strip()]
    if as_json:
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise SettingsError(
                f"environment variable {setting.env} is not valid JSON: {exc}"
            ) from None
    return value


def _resolve_presets(values: Mapping[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    resolved = dict(values)
    for key, value in values.items():
        presets = BY_NAME[key].option.presets if key in BY_NAME else None
        if presets is not None and isinstance(value, str):
            if value not in presets:
                where = sources.get(key, "given directly")
                names = ", ".join(map(repr, presets))
                raise SettingsError(
                    f"invalid setting {key!r} ({where}): unknown name {value!r}; use {names}"
                )
            resolved[key] = msgspec.to_builtins(presets[value])
    return resolved


def convert(values: Mapping[str, Any], sources: Mapping[str, str]) -> Settings:
    resolved = _resolve_presets(values, sources)
    try:
        settings = msgspec.convert(resolved, Settings, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:  # ValueError: a struct's own check
        message = str(exc)
        match = re.search(r" - at `\$\.([\w.\[\]]+)`", message)
        entry = re.match(r"(\w+)(\[\d+\]): ", message)
        if not match and entry:  # a check across a list's entries (webhooks per key)
            key = entry.group(1)
            where = sources.get(key, "given directly")
            reason = message[entry.end() :]
            raise SettingsError(
                f"invalid setting '{key}{entry.group(2)}' ({where}): {reason}"
            ) from None
        if not match:  # a check across several settings
            rates = ("failure_rate", "slow_rate", "stuck_rate")
            where = ", ".join(sources[k] for k in rates if k in sources) or "given directly"
            raise SettingsError(f"invalid settings ({where}): {message}") from None
        path = match.group(1)
        key = path.split(".")[0].split("[")[0]
        where = sources.get(key, "given directly")
        reason = in_words(message[: match.start()], Settings, path)
        raise SettingsError(f"invalid setting {path!r} ({where}): {reason}") from None
    if settings.public_url:
        settings = msgspec.structs.replace(settings, public_url=settings.public_url.rstrip("/"))
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read: {exc.strerror}") from None
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(map(repr, unknown))}")
    return data
