"""The one typed settings object, and how flags, environment and a TOML file fill it.

Precedence, highest first: command-line flags, ``WAN_MOCK_*`` environment variables, the TOML
config file, the defaults below. Nothing reads the environment at import time: callers pass the
environment in, so tests can hand over a plain dict.

msgspec checks types and ranges (it imports in a fraction of pydantic's time, which matters for
a server that must answer within half a second of launch).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect

from mockserver.domain.behaviour import (
    DIALECT_PROFILES,
    LIMIT_PRESETS,
    Dialect,
    Fault,
    Limits,
    Rule,
)

ENV_PREFIX = "WAN_MOCK_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"

Timing = Literal["dev", "realistic"]
ClockMode = Literal["real", "virtual"]
ApiKey = Annotated[str, msgspec.Meta(pattern=r"^\S+$", description="a non-empty key")]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that shapes the fake's behaviour. Immutable; make a new one to change it.

    Constructing it directly does not check ranges; :func:`load_settings` and
    :meth:`validated` do, and the backend refuses settings that fail them.
    """

    host: Annotated[str, msgspec.Meta(min_length=1)] = "127.0.0.1"
    """Address to listen on."""
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    """Port to listen on; 0 picks a free one."""
    seed: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Makes task ids, schedules and outcomes reproducible."""
    timing: Timing = "dev"
    """dev: a task takes seconds; realistic: the documented minutes."""
    speed: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)] = 1.0
    """How many times faster than real time the clock runs."""
    failure_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    """Share of tasks that end failed."""
    api_keys: tuple[ApiKey, ...] = ()
    """The only keys accepted; empty accepts any non-empty key."""
    strict: bool = False
    """Reject request fields the API does not document."""
    access_log: bool = True
    """Log one line per request."""
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 32 * 1024 * 1024
    """Largest request body accepted; larger bodies get 413."""
    public_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/]+(/\S*)?$")] | None = None
    """Base URL used in result links (default: the URL the client called)."""
    clock: ClockMode = "real"
    """real: wall time scaled by speed; virtual: time moves only when told (control plane)."""
    virtual_start: Annotated[float, msgspec.Meta(ge=0)] = 1_767_225_600.0
    """Where the virtual clock starts, in Unix seconds (2026-01-01T00:00:00Z)."""
    slow_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    """Share of tasks that take many times longer than usual."""
    stuck_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    """Share of tasks that start running and never finish."""
    rules: tuple[Rule, ...] = ()
    """Scenarios for tasks whose request matches (config file)."""
    faults: tuple[Fault, ...] = ()
    """HTTP faults injected on create, poll and download (config file)."""
    limits: Limits = Limits()
    """Per-key rate limits; a preset name (off, realistic) or a table."""
    dialect: Dialect = Dialect()
    """How statuses, errors and timestamps are spelled; a profile name or a table."""
    admin_token: Annotated[str, msgspec.Meta(pattern=r"^\S{8,}$")] | None = None
    """Token the control plane requires (always when not listening on loopback)."""
    journal_size: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1000
    """How many recent requests the journal keeps."""
    result_ttl: Annotated[float, msgspec.Meta(gt=0, le=31_536_000)] = 86_400.0
    """Seconds (fake clock) a result link stays valid after the task succeeded."""
    render_cache_dir: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    """Directory for rendered videos and kept input images (default: a private temporary one)."""
    render_cache_mb: Annotated[int, msgspec.Meta(ge=16, le=1_048_576)] = 2048
    """Size bound of the render cache in MiB; least recently used files go first."""
    render_workers: Annotated[int, msgspec.Meta(ge=1, le=16)] = 1
    """How many videos may render at once (each takes up to about 200 MB while it renders)."""
    task_retention: Annotated[float, msgspec.Meta(gt=0, le=315_360_000)] = 86_400.0
    """Seconds (fake clock) a task is kept after it finished (a stuck one: after creation)."""
    state: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    """SQLite file keeping tasks and live settings across restarts (default: memory only)."""
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    """Server processes sharing one state (several need a state file; a temporary one is
    used if none is given)."""

    def __post_init__(self) -> None:
        if self.failure_rate + self.slow_rate + self.stuck_rate > 1 + 1e-9:
            raise ValueError(
                "failure_rate + slow_rate + stuck_rate add up to more than 1 "
                f"({self.failure_rate:g} + {self.slow_rate:g} + {self.stuck_rate:g})"
            )

    def validated(self) -> Settings:
        """These settings after every type and range check; raises :class:`SettingsError`."""
        return _convert(msgspec.to_builtins(self), {})


FIELDS: tuple[str, ...] = Settings.__struct_fields__
# Where a command-line flag is not simply --<field-name>.
_FLAG_NAMES = {
    "api_keys": "--api-key",
    "access_log": "--no-access-log",
    "dialect": "--profile",
}
# Settings that may be given by name instead of as a table.
PRESETS: dict[str, Mapping[str, Any]] = {"limits": LIMIT_PRESETS, "dialect": DIALECT_PROFILES}
# Settings whose environment value is JSON (or a preset name).
_JSON_IN_ENV = ("rules", "faults", "limits", "dialect")


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
        key = name[len(ENV_PREFIX) :].lower()
        if key not in FIELDS:
            raise SettingsError(f"unknown setting in environment variable {name}")
        merged[key] = _from_env(key, value, name)
        sources[key] = f"environment variable {name}={value!r}"

    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in FIELDS:
            raise SettingsError(f"unknown setting {key!r}")
        merged[key] = value
        sources[key] = f"option {_FLAG_NAMES.get(key, '--' + key.replace('_', '-'))}"

    return _convert(merged, sources)


def merge_settings(settings: Settings, changes: Mapping[str, Any], source: str) -> Settings:
    """``settings`` with ``changes`` (field name to value, as in a TOML file) applied and
    checked; errors name the field and ``source``."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(map(repr, unknown))} ({source})")
    merged = {**msgspec.to_builtins(settings), **changes}
    return _convert(merged, dict.fromkeys(changes, source))


def _from_env(key: str, value: str, name: str) -> Any:
    if key == "api_keys":  # lists travel through the environment as comma-separated text
        return [part.strip() for part in value.split(",") if part.strip()]
    if key in _JSON_IN_ENV and value.lstrip()[:1] in ("{", "["):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise SettingsError(f"environment variable {name} is not valid JSON: {exc}") from None
    return value


def _resolve_presets(values: Mapping[str, Any], sources: Mapping[str, str]) -> dict[str, Any]:
    resolved = dict(values)
    for key, presets in PRESETS.items():
        value = resolved.get(key)
        if isinstance(value, str):
            if value not in presets:
                where = sources.get(key, "given directly")
                names = ", ".join(map(repr, presets))
                raise SettingsError(
                    f"invalid setting {key!r} ({where}): unknown name {value!r}; use {names}"
                )
            resolved[key] = msgspec.to_builtins(presets[value])
    return resolved


def _convert(values: Mapping[str, Any], sources: Mapping[str, str]) -> Settings:
    resolved = _resolve_presets(values, sources)
    try:
        settings = msgspec.convert(resolved, Settings, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:  # ValueError: a struct's own check
        message = str(exc)
        match = re.search(r" - at `\$\.([\w.\[\]]+)`", message)
        path = match.group(1) if match else ""
        reason = message[: match.start()] if match else message
        if reason.startswith("Invalid enum value"):
            reason += f"; expected one of {', '.join(map(repr, _choices(path)))}"
        if not path:  # a check across several settings
            rates = ("failure_rate", "slow_rate", "stuck_rate")
            where = ", ".join(sources[k] for k in rates if k in sources) or "given directly"
            raise SettingsError(f"invalid settings ({where}): {reason}") from None
        key = path.split(".")[0].split("[")[0]
        where = sources.get(key, "given directly")
        raise SettingsError(f"invalid setting {path!r} ({where}): {reason}") from None
    if settings.public_url:
        settings = msgspec.structs.replace(settings, public_url=settings.public_url.rstrip("/"))
    return settings


def _choices(path: str) -> tuple[Any, ...]:
    """The allowed values of the Literal setting at ``path`` (e.g. ``dialect.statuses``)."""
    kind: Any = msgspec.inspect.type_info(Settings)
    for name in re.sub(r"\[\d+\]", "", path).split("."):
        while isinstance(kind, msgspec.inspect.UnionType | msgspec.inspect.VarTupleType):
            kind = kind.item_type if hasattr(kind, "item_type") else kind.types[0]
        if not isinstance(kind, msgspec.inspect.StructType):
            return ()
        kind = next((f.type for f in kind.fields if f.name == name), None)
    return kind.values if isinstance(kind, msgspec.inspect.LiteralType) else ()


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
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(map(repr, unknown))}")
    return data
