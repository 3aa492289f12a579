"""The one typed settings object, and how flags, environment and a TOML file fill it.

Precedence, highest first: command-line flags, ``WAN_MOCK_*`` environment variables, the TOML
config file, the defaults below. Nothing reads the environment at import time: callers pass the
environment in, so tests can hand over a plain dict.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "WAN_MOCK_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"

Timing = Literal["dev", "realistic"]


class Settings(BaseModel):
    """Everything that shapes the fake's behaviour. Immutable; make a new one to change it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on (0 picks a free one).")
    seed: int | None = Field(
        None, ge=0, description="Makes task ids, schedules and outcomes reproducible."
    )
    timing: Timing = Field("dev", description="dev: seconds per task; realistic: minutes.")
    speed: float = Field(1.0, gt=0, le=1_000_000, description="How much faster time runs.")
    failure_rate: float = Field(0.0, ge=0, le=1, description="Share of tasks that end failed.")
    api_keys: tuple[str, ...] = Field(
        (), description="Accepted keys; empty accepts any non-empty key."
    )
    strict: bool = Field(False, description="Reject request fields the API does not document.")
    access_log: bool = Field(True, description="Log one line per request.")
    max_body_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; larger bodies get 413.",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="Base URL used in result links (default: the URL the client called).",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        # Environment variables carry lists as comma-separated text.
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("api_keys")
    @classmethod
    def _non_empty_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not key.strip() for key in value):
            raise ValueError("API keys must not be empty")
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value


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

    fields = Settings.model_fields
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in fields:
            raise SettingsError(f"unknown setting in environment variable {name}")
        merged[key] = value
        sources[key] = f"environment variable {name}={value!r}"

    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in fields:
            raise SettingsError(f"unknown setting {key!r}")
        merged[key] = value
        sources[key] = f"option --{key.replace('_', '-')}"

    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, sources)) from None


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
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(map(repr, unknown))}")
    return data


def _describe(exc: ValidationError, sources: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "settings"
        where = sources.get(key, "default")
        lines.append(f"invalid setting {key!r} ({where}): {error['msg']}")
    return "\n".join(lines)
