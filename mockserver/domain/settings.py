"""The one typed settings object: every setting, its type, range, default and documentation
(domain/loading.py fills it from flags, environment and a TOML file).

msgspec checks types and ranges (it imports in a fraction of pydantic's time, which matters for
a server that must answer within half a second of launch).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from mockserver.domain.behaviour import (
    DIALECT_PROFILES,
    LIMIT_PRESETS,
    Dialect,
    Fault,
    Limits,
    Rule,
)
from mockserver.domain.options import Option, Setting, describe
from mockserver.domain.setting_types import (
    ApiKey,
    ClockMode,
    HostName,
    Rate,
    Seconds,
    StatePrefix,
    Text,
    Timing,
    Token,
    Url,
)
from mockserver.domain.webhooks import (
    MAX_URL_CHARS,
    WEBHOOK_FAULT_PRESETS,
    EndpointSpec,
    WebhookFaults,
    crowded_entry,
    endpoint_specs,
)


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything that shapes the fake's behaviour. Immutable; make a new one to change it.

    Each field's :class:`Option` describes it (see ``options.py``). Constructing settings
    directly does not check ranges; :func:`load_settings` and :meth:`validated` do, and the
    backend refuses settings that fail them.
    """

    host: Annotated[Text, Option("address to listen on", metavar="HOST", restart=True)] = (
        "127.0.0.1"
    )
    port: Annotated[
        int,
        msgspec.Meta(ge=0, le=65535),
        Option("port to listen on; 0 picks a free one", metavar="PORT", restart=True),
    ] = 8000
    seed: Annotated[
        Annotated[int, msgspec.Meta(ge=0)] | None,
        Option("makes task ids, schedules and outcomes reproducible", "N", unset="random"),
    ] = None
    timing: Annotated[
        Timing, Option("dev: a task takes seconds; realistic: the documented 1-5+ minutes")
    ] = "dev"
    speed: Annotated[
        float,
        msgspec.Meta(gt=0, le=1_000_000),
        Option("how many times faster than real time the clock runs", "X", restart=True),
    ] = 1.0
    failure_rate: Annotated[Rate, Option("share of tasks that end failed", "P")] = 0.0
    api_keys: Annotated[
        tuple[ApiKey, ...],
        Option(
            "the only keys accepted",
            "KEY",
            flag="--api-key",
            unset="any non-empty key",
            secret=True,
        ),
    ] = ()
    strict: Annotated[bool, Option("reject request fields the API does not document")] = False
    access_log: Annotated[bool, Option("log one line per request", restart=True)] = True
    max_body_bytes: Annotated[
        int,
        msgspec.Meta(ge=1024),
        Option("largest request body accepted; larger bodies get 413", "N"),
    ] = 32 * 1024 * 1024
    header_timeout: Annotated[
        Seconds,
        msgspec.Meta(le=3600),
        Option(
            "seconds a connection has to send a whole request head; then 408 and closed",
            "SECONDS",
            restart=True,
        ),
    ] = 10.0
    body_timeout: Annotated[
        Seconds,
        msgspec.Meta(le=3600),
        Option(
            "seconds a request body has to arrive whole, however it is split; then 408",
            "SECONDS",
            restart=True,
        ),
    ] = 60.0
    max_connections: Annotated[
        int,
        msgspec.Meta(ge=1, le=1_000_000),
        Option(
            "open connections per process; past it the one waiting longest for its request "
            "head is closed, or the new one gets 503",
            "N",
            restart=True,
        ),
    ] = 1000
    public_url: Annotated[
        Url | None,
        Option("base URL written into result links", "URL", unset="the URL the client called"),
    ] = None
    public_names: Annotated[
        tuple[HostName, ...],
        Option(
            "host names the control plane answers besides loopback ones and public_url's",
            "NAME",
            flag="--public-name",
            unset="none",
        ),
    ] = ()
    clock: Annotated[
        ClockMode,
        Option(
            "real: wall time times speed; virtual: moves only when told (/_mock/clock)",
            restart=True,
        ),
    ] = "real"
    virtual_start: Annotated[
        float,
        msgspec.Meta(ge=0),
        Option(
            "where the virtual clock starts, Unix seconds (2026-01-01T00:00:00Z)",
            "SECONDS",
            restart=True,
        ),
    ] = 1_767_225_600.0
    slow_rate: Annotated[Rate, Option("share of tasks that take many times longer", "P")] = 0.0
    stuck_rate: Annotated[
        Rate, Option("share of tasks that start running and never finish", "P")
    ] = 0.0
    rules: Annotated[
        tuple[Rule, ...], Option("scenarios for tasks whose request matches", unset="none")
    ] = ()
    faults: Annotated[
        tuple[Fault, ...],
        Option("HTTP faults injected on create, poll and download", unset="none"),
    ] = ()
    limits: Annotated[Limits, Option("per-key rate limits", "NAME", presets=LIMIT_PRESETS)] = (
        Limits()
    )
    dialect: Annotated[
        Dialect,
        Option(
            "how statuses, errors and timestamps are spelled",
            "NAME",
            flag="--profile",
            presets=DIALECT_PROFILES,
        ),
    ] = Dialect()
    allow_private_urls: Annotated[
        bool,
        Option(
            "accept URL inputs on this machine (loopback addresses, localhost), e.g. a test's "
            "own image server; other private hosts still fail (dialect unreachable_urls)"
        ),
    ] = False
    fetch_urls: Annotated[
        bool,
        Option(
            "download URL inputs and check them as the real service does (otherwise only "
            "their syntax and host are checked, and nothing goes over the network)"
        ),
    ] = False
    fetch_timeout: Annotated[
        Seconds,
        msgspec.Meta(le=300),
        Option("seconds a URL input has to download whole (with fetch_urls)", "SECONDS"),
    ] = 10.0
    explain_errors: Annotated[
        bool,
        Option(
            "add diagnostics the real API does not send to error bodies: field, rule and "
            "errors on a 400, limit on a 429"
        ),
    ] = False
    admin_token: Annotated[
        Token | None,
        Option(
            "token the /_mock/ control plane requires",
            "TOKEN",
            unset="none, or made up when listening beyond loopback",
            per_test=False,  # a shared server's fixture would lock itself out
            secret=True,
        ),
    ] = None
    journal_size: Annotated[
        int,
        msgspec.Meta(ge=0, le=1_000_000),
        Option("how many recent requests the journal keeps", "N"),
    ] = 1000
    result_ttl: Annotated[
        Seconds,
        msgspec.Meta(le=31_536_000),
        Option("seconds (fake clock) a result link stays valid after success", "SECONDS"),
    ] = 86_400.0
    render_cache_dir: Annotated[
        Text | None,
        Option(
            "directory for rendered videos and kept input images",
            "DIR",
            unset="serve: beside the state file, else ~/.cache/wan-mock ($XDG_CACHE_HOME); "
            "create_app: a temporary one; pytest plugin: in pytest's cache directory",
            restart=True,
        ),
    ] = None
    render_cache_mb: Annotated[
        int,
        msgspec.Meta(ge=16, le=1_048_576),
        Option(
            "size bound of the render cache in MiB; least recently used files go first",
            "MIB",
            restart=True,
        ),
    ] = 2048
    render_workers: Annotated[
        int,
        msgspec.Meta(ge=1, le=16),
        Option("videos rendered at once (each takes up to about 200 MB)", "N", restart=True),
    ] = 1
    render_queue: Annotated[
        int,
        msgspec.Meta(ge=1, le=10_000),
        Option(
            "videos waiting to be rendered at most; past it a first download gets 503 "
            "with Retry-After",
            "N",
            restart=True,
        ),
    ] = 32
    render_queue_per_key: Annotated[
        int,
        msgspec.Meta(ge=1, le=10_000),
        Option(
            "of the videos waiting, how many may be one API key's (keys take turns)",
            "N",
            restart=True,
        ),
    ] = 8
    task_retention: Annotated[
        Seconds,
        msgspec.Meta(le=315_360_000),
        Option(
            "seconds (fake clock) a task is kept after it finished (a stuck one: after creation)",
            "SECONDS",
        ),
    ] = 86_400.0
    state: Annotated[
        Text | None,
        Option(
            "SQLite file keeping tasks and live settings across restarts, or a "
            "redis://HOST:PORT/DB (rediss:// for TLS) URL shared by replicas on several machines",
            "PATH|URL",
            unset="none: memory only",
            restart=True,
        ),
    ] = None
    state_prefix: Annotated[
        StatePrefix,
        Option(
            "with Redis state: the prefix of every key, so that several fakes can share one Redis",
            "PREFIX",
            restart=True,
        ),
    ] = "wan-mock:"
    state_password: Annotated[
        Text | None,
        Option(
            "with Redis state: the password, when the URL has none",
            "PASSWORD",
            unset="the URL's, if any",
            restart=True,
            secret=True,
        ),
    ] = None
    workers: Annotated[
        int,
        msgspec.Meta(ge=1, le=64),
        Option(
            "server processes sharing one state (without state, a temporary file)",
            "N",
            restart=True,
        ),
    ] = 1
    webhooks: Annotated[
        tuple[Annotated[Url, msgspec.Meta(max_length=MAX_URL_CHARS)] | EndpointSpec, ...],
        Option(
            "endpoints task events are POSTed to, signed: a URL (every key, every event, "
            "webhook_secret) or a table {url, events, key, secret, description} "
            "(see docs/webhooks.md)",
            "URL",
            flag="--webhook",
            unset="none",
        ),
    ] = ()
    webhook_secret: Annotated[
        Token | None,
        Option(
            "signing secret of the webhooks endpoints (whsec_...)",
            "SECRET",
            unset="made up at start and printed",
            secret=True,
        ),
    ] = None
    webhook_timeout: Annotated[
        Seconds,
        msgspec.Meta(le=300),
        Option("seconds a webhook receiver has to answer before the attempt fails", "SECONDS"),
    ] = 10.0
    webhook_attempts: Annotated[
        int,
        msgspec.Meta(ge=1, le=50),
        Option("attempts per webhook delivery before it is marked failed", "N"),
    ] = 10
    webhook_backoff: Annotated[
        Seconds,
        msgspec.Meta(le=86_400),
        Option(
            "seconds (fake clock) before a webhook's first retry; each next waits twice as long",
            "SECONDS",
        ),
    ] = 5.0
    webhook_faults: Annotated[
        WebhookFaults,
        Option(
            "share of tasks whose webhook deliveries get each fault",
            "NAME",
            presets=WEBHOOK_FAULT_PRESETS,
        ),
    ] = WebhookFaults()
    webhook_log_size: Annotated[
        int,
        msgspec.Meta(ge=0, le=1_000_000),
        Option("how many recent webhook delivery attempts the delivery log keeps", "N"),
    ] = 1000

    def __post_init__(self) -> None:
        if self.failure_rate + self.slow_rate + self.stuck_rate > 1 + 1e-9:
            raise ValueError(
                "failure_rate + slow_rate + stuck_rate add up to more than 1 "
                f"({self.failure_rate:g} + {self.slow_rate:g} + {self.stuck_rate:g})"
            )
        crowded = crowded_entry([spec.key for spec in endpoint_specs(self.webhooks)])
        if crowded is not None:
            index, reason = crowded
            raise ValueError(f"webhooks[{index}]: {reason}")

    def validated(self) -> Settings:
        """These settings after every type and range check; raises :class:`SettingsError`."""
        from mockserver.domain.loading import convert  # it builds Settings: imported late

        return convert(msgspec.to_builtins(self), {})


SETTINGS: tuple[Setting, ...] = describe(Settings)
BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
BY_ENV: dict[str, Setting] = {setting.env: setting for setting in SETTINGS}
FIELDS: tuple[str, ...] = tuple(BY_NAME)
# What the control plane refuses to change, and what a shared pytest server cannot change per
# test: both follow from the Options above.
RESTART_ONLY = frozenset(s.name for s in SETTINGS if s.option.restart)
SECRET = frozenset(s.name for s in SETTINGS if s.option.secret)
FIXED_PER_TEST = frozenset(s.name for s in SETTINGS if s.option.restart or not s.option.per_test)
