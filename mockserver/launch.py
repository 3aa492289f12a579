"""``wan-mock serve`` once its settings are read: the state claimed, the cache directory
chosen, the socket bound, the banner printed, and uvicorn run until stopped."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shlex
import socket
import sys
import tempfile
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from mockserver.__about__ import __version__
from mockserver.domain.keys import mask
from mockserver.domain.paths import DASHBOARD_PATH, GENERATION_PATH
from mockserver.domain.settings import Settings
from mockserver.domain.state_urls import is_redis, shown_state
from mockserver.domain.webhooks import endpoint_specs


def serve(settings: Settings) -> int:
    # Imported here so `wan-mock --help` stays instant.
    from mockserver.media.cache import CacheDirectoryError, prepare_directory
    from mockserver.server.serving import StateError, check_state, claim_state

    chosen = settings.admin_token
    secret_made_up = _needs_webhook_secret(settings)
    settings = secured(with_webhook_secret(settings))
    # Several workers must share state to behave as one fake: without --state they share a
    # temporary file, removed when the server stops.
    temporary = None
    if settings.workers > 1 and settings.state is None:
        temporary = tempfile.TemporaryDirectory(prefix="wan-mock-")
        settings = msgspec.structs.replace(settings, state=os.path.join(temporary.name, "db"))
    settings = media_beside_state(settings)
    chosen_media = settings.render_cache_dir
    if chosen_media is None:
        settings = msgspec.structs.replace(settings, render_cache_dir=user_cache_dir(os.environ))
    try:
        with contextlib.ExitStack() as held:
            if settings.state is not None:
                held.enter_context(claim_state(settings.state))
                check_state(settings.state, settings)
            if settings.render_cache_dir is not None:
                try:
                    prepare_directory(settings.render_cache_dir)  # before any worker starts
                except CacheDirectoryError as exc:
                    if chosen_media is not None:
                        raise
                    # Only the default place is unusable (a read-only home): not worth failing.
                    print(f"wan-mock: {exc}; using a temporary one instead", file=sys.stderr)
                    settings = msgspec.structs.replace(settings, render_cache_dir=None)
            return _run(
                settings,
                token_made_up=chosen is None and settings.admin_token is not None,
                secret_made_up=secret_made_up,
            )
    except (StateError, CacheDirectoryError) as exc:
        print(f"wan-mock: {exc}", file=sys.stderr)
        return 2
    finally:
        if temporary is not None:
            temporary.cleanup()


def media_beside_state(settings: Settings) -> Settings:
    """With a state file and no cache directory, the cache beside the state: every worker, and
    the server after a restart, then finds the input images kept for the tasks it serves, and
    the videos already rendered."""
    if (
        settings.state is not None
        and not is_redis(settings.state)
        and settings.render_cache_dir is None
    ):
        media = settings.state + ".media"
        return msgspec.structs.replace(settings, render_cache_dir=media)
    return settings


def user_cache_dir(environ: Mapping[str, str]) -> str | None:
    """Where ``serve`` keeps rendered videos unless told otherwise: ``wan-mock`` in the
    user's cache directory (``$XDG_CACHE_HOME``, else ``~/.cache``), so a restarted server
    finds the videos it made before. None without a home directory."""
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = environ.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "wan-mock")


def _run(settings: Settings, *, token_made_up: bool, secret_made_up: bool = False) -> int:
    """Bind, print the banner and serve until stopped (the state file already claimed)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mockserver.server.protocol import GuardedProtocol
    from mockserver.server.serving import WORKER_SETTINGS, build_app

    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        print(f"wan-mock: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    base_url = f"http://{_url_host(settings.host)}:{port}"
    banner = _banner(settings, base_url, token_made_up=token_made_up, secret_made_up=secret_made_up)
    print(banner, flush=True)
    config_args: dict[str, Any] = {
        "lifespan": "on",  # its shutdown closes the store (see create_app)
        "access_log": settings.access_log,
        "log_level": "info" if settings.access_log else "warning",
        "server_header": False,
        "http": GuardedProtocol,  # httptools, with head bounds, deadlines, a cap
    }
    if settings.workers > 1:
        # Workers are spawned processes that import the app factory by name; the settings
        # travel in the environment they inherit.
        os.environ[WORKER_SETTINGS] = msgspec.json.encode(settings).decode()
        config = uvicorn.Config(
            "mockserver.server.serving:worker_app",
            factory=True,
            workers=settings.workers,
            **config_args,
        )
        Multiprocess(config, sockets=[sock]).run()
        return 0
    app = build_app(settings)
    config = uvicorn.Config(app, **config_args)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def secured(settings: Settings) -> Settings:
    """Settings with an admin token made up when the server will listen beyond loopback:
    anyone who can reach it could otherwise reset it or read its traffic."""
    if settings.admin_token is None and not _is_loopback(settings.host):
        return msgspec.structs.replace(settings, admin_token=secrets.token_urlsafe(18))
    return settings


def with_webhook_secret(settings: Settings) -> Settings:
    """Settings with a signing secret made up for the ``--webhook`` endpoints when none was
    given (printed once at start, as the console shows a new endpoint's secret once)."""
    if _needs_webhook_secret(settings):
        from mockserver.domain.webhooks import new_secret

        return msgspec.structs.replace(settings, webhook_secret=new_secret())
    return settings


def _needs_webhook_secret(settings: Settings) -> bool:
    """Whether an endpoint of the settings has no secret of its own and none is shared."""
    own = [spec.secret for spec in endpoint_specs(settings.webhooks)]
    return settings.webhook_secret is None and None in own


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _banner(
    settings: Settings,
    base_url: str,
    *,
    token_made_up: bool = False,
    secret_made_up: bool = False,
) -> str:
    """What ``serve`` prints at start. Credentials are masked: the keys and a token the user
    chose are theirs already; only a token made up for this run is shown whole, once, since
    there is no other way to learn it."""
    body = '{"prompt": "A cat looks at the sky", "image": "https://example.com/cat.jpg"}'
    keys = ""
    authorization = shlex.quote("Authorization: Bearer test-key")
    if settings.api_keys:
        masked = ", ".join(mask(key) for key in settings.api_keys)
        keys = f"  api keys (masked): {masked}; put one in $KEY to run the curl below\n"
        authorization = '"Authorization: Bearer $KEY"'
    curl = " ".join(
        [
            "curl -s -X POST",
            shlex.quote(base_url + GENERATION_PATH),
            "-H",
            authorization,
            "-H 'Content-Type: application/json' -d",
            shlex.quote(body),
        ]
    )
    seed = "random" if settings.seed is None else str(settings.seed)
    admin = ""
    if settings.admin_token and token_made_up:
        admin = (
            f"  admin token (X-Wan-Mock-Admin-Token): {settings.admin_token} "
            "(made up for this run; choose one with --admin-token)\n"
        )
    elif settings.admin_token:
        admin = f"  admin token (X-Wan-Mock-Admin-Token): {mask(settings.admin_token)}\n"
    dashboard = f"{base_url}{DASHBOARD_PATH} (open it in a browser)"
    if settings.admin_token and token_made_up:
        dashboard = f"{base_url}{DASHBOARD_PATH}?admin_token={quote(settings.admin_token)}"
    elif settings.admin_token:
        dashboard = f"{base_url}{DASHBOARD_PATH}?admin_token=<the admin token> (once)"
    hooks = ""
    if settings.webhooks:
        secret = settings.webhook_secret or ""
        signed = mask(secret) if secret else "each endpoint's own"
        if secret_made_up:
            signed = f"{secret} (made up for this run; choose one with --webhook-secret)"
        urls = ", ".join(spec.url for spec in endpoint_specs(settings.webhooks))
        hooks = f"  webhooks to {urls}, secret {signed}\n"
    state = (
        f"  state {shown_state(settings.state)}, {settings.workers} worker(s), tasks kept "
        f"{settings.task_retention:g} s after they finish\n"
        if settings.state
        else ""
    )
    return (
        f"wan-mock {__version__}: fake wan2.6-i2v API at {base_url}\n"
        f"  timing {settings.timing}, speed {settings.speed:g}, failure rate "
        f"{settings.failure_rate:g}, seed {seed}, strict {'on' if settings.strict else 'off'}, "
        f"clock {settings.clock}\n"
        f"{state}"
        f"{hooks}"
        f"{keys}"
        f"  contract: {base_url}/openapi.json, control plane: {base_url}/_mock/\n"
        f"  dashboard: {dashboard}\n"
        f"{admin}"
        f"  try: {curl}"
    )
