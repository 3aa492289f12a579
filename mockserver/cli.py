"""The ``wan-mock`` command line."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import shlex
import socket
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import msgspec

from mockserver.__about__ import __version__
from mockserver.domain.behaviour import DIALECT_PROFILES, LIMIT_PRESETS
from mockserver.domain.paths import GENERATION_PATH
from mockserver.domain.settings import Settings, SettingsError, load_settings

DESCRIPTION = """\
A local fake of the MuleRouter wan2.6-i2v image-to-video API: create tasks, poll them to
completion and download a real MP4, without credentials or credits."""

SERVE_EPILOG = """\
Every option can also be set with a WAN_MOCK_<NAME> environment variable (for example
WAN_MOCK_FAILURE_RATE=0.2, WAN_MOCK_API_KEYS=key1,key2) or in a TOML file given with --config
or WAN_MOCK_CONFIG (keys as below, with underscores: failure_rate = 0.2). Options beat the
environment, which beats the file."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wan-mock", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"wan-mock {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Parsed by mockserver.conformance.command, imported only when used (see main).
    commands.add_parser(
        "contract",
        help="check the fake or the live API against the contract (run, drift)",
        add_help=False,
    )
    serve = commands.add_parser(
        "serve",
        help="run the fake API server",
        description="Run the fake API server (uvicorn, one process).",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (8000)")
    serve.add_argument("--seed", type=int, help="make ids, schedules and outcomes reproducible")
    serve.add_argument(
        "--timing",
        choices=["dev", "realistic"],
        help="dev: tasks finish in seconds (default); realistic: the documented 1-5+ minutes",
    )
    serve.add_argument("--speed", type=float, help="run time this many times faster (1)")
    serve.add_argument(
        "--failure-rate", type=float, metavar="P", help="share of tasks that fail, 0..1 (0)"
    )
    serve.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY",
        help="accept only this key (repeatable); by default any non-empty key works",
    )
    serve.add_argument(
        "--strict",
        action="store_const",
        const=True,
        help="reject request fields the API does not document",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_const",
        const=False,
        help="do not log each request",
    )
    serve.add_argument(
        "--max-body-bytes", type=int, metavar="N", help="largest request body (32 MiB)"
    )
    serve.add_argument(
        "--clock",
        choices=["real", "virtual"],
        help="real: wall time times --speed (default); virtual: moves only via /_mock/clock",
    )
    serve.add_argument("--slow-rate", type=float, metavar="P", help="share of slow tasks (0)")
    serve.add_argument(
        "--stuck-rate", type=float, metavar="P", help="share of tasks that never finish (0)"
    )
    serve.add_argument(
        "--limits",
        choices=sorted(LIMIT_PRESETS),
        help="per-key rate limits: off (default) or realistic (5 creates/s, 5 open, 20 polls/s)",
    )
    serve.add_argument(
        "--profile",
        dest="dialect",
        choices=sorted(DIALECT_PROFILES),
        help="how statuses, errors and timestamps are spelled (default)",
    )
    serve.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="token the /_mock/ control plane requires (made up if listening beyond loopback)",
    )
    serve.add_argument("--journal-size", type=int, metavar="N", help="recent requests kept (1000)")
    serve.add_argument(
        "--result-ttl",
        type=float,
        metavar="SECONDS",
        help="how long result links stay valid after success, fake-clock seconds (86400)",
    )
    serve.add_argument(
        "--render-cache-dir",
        metavar="DIR",
        help="directory for rendered videos and kept input images (default: a temporary one)",
    )
    serve.add_argument(
        "--render-cache-mb",
        type=int,
        metavar="MIB",
        help="size bound of the render cache; least recently used files go first (2048)",
    )
    serve.add_argument(
        "--render-workers", type=int, metavar="N", help="videos rendered at once (1)"
    )
    serve.add_argument("--public-url", help="base URL for result links (default: as called)")
    serve.add_argument(
        "--state",
        metavar="PATH",
        help="SQLite file keeping tasks and live settings across restarts (default: memory)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the state (1); without --state a temporary file is used",
    )
    serve.add_argument(
        "--task-retention",
        type=float,
        metavar="SECONDS",
        help="how long a task is kept after it finished, fake-clock seconds (86400)",
    )
    serve.add_argument("--config", metavar="FILE", help="TOML file with settings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["contract"]:
        # Deferred: the contract suite loads schemathesis, which `serve` must not pay for.
        try:
            from mockserver.conformance.command import main as contract_main
        except ModuleNotFoundError as exc:  # schemathesis and hypothesis are an extra
            print(
                f"wan-mock contract needs {exc.name}: pip install 'wan-mock[contract]'",
                file=sys.stderr,
            )
            return 2
        return contract_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 0
    flags: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    try:
        settings = load_settings(flags, os.environ, args.config)
    except SettingsError as exc:
        print(f"wan-mock: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


def serve(settings: Settings) -> int:
    # Imported here so `wan-mock --help` stays instant.
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mockserver.server.protocol import BoundedHeadProtocol
    from mockserver.server.serving import WORKER_SETTINGS, StateError, build_app, check_state

    settings = secured(settings)
    # Several workers must share state to behave as one fake: without --state they share a
    # temporary file, removed when the server stops.
    temporary = None
    if settings.workers > 1 and settings.state is None:
        temporary = tempfile.TemporaryDirectory(prefix="wan-mock-")
        settings = msgspec.structs.replace(settings, state=os.path.join(temporary.name, "db"))
    if settings.state is not None and settings.render_cache_dir is None:
        # Beside the state: every worker, and the server after a restart, then finds the input
        # images kept for the tasks it serves, and the videos already rendered.
        media = settings.state + ".media"
        settings = msgspec.structs.replace(settings, render_cache_dir=media)
    try:
        if settings.state is not None:
            check_state(settings.state)
        try:
            sock = _bind(settings.host, settings.port)
        except OSError as exc:
            where = f"{settings.host}:{settings.port}"
            print(f"wan-mock: cannot listen on {where}: {exc}", file=sys.stderr)
            return 1
        port = sock.getsockname()[1]
        base_url = f"http://{_url_host(settings.host)}:{port}"
        print(_banner(settings, base_url), flush=True)
        config_args: dict[str, Any] = {
            "lifespan": "on",  # its shutdown closes the store (see create_app)
            "access_log": settings.access_log,
            "log_level": "info" if settings.access_log else "warning",
            "server_header": False,
            "http": BoundedHeadProtocol,  # httptools, with a bound on header bytes
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
    except StateError as exc:
        print(f"wan-mock: {exc}", file=sys.stderr)
        return 1
    finally:
        if temporary is not None:
            temporary.cleanup()


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


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _banner(settings: Settings, base_url: str) -> str:
    key = settings.api_keys[0] if settings.api_keys else "test-key"
    body = '{"prompt": "A cat looks at the sky", "image": "https://example.com/cat.jpg"}'
    curl = " ".join(
        [
            "curl -s -X POST",
            shlex.quote(base_url + GENERATION_PATH),
            "-H",
            shlex.quote(f"Authorization: Bearer {key}"),
            "-H 'Content-Type: application/json' -d",
            shlex.quote(body),
        ]
    )
    seed = "random" if settings.seed is None else str(settings.seed)
    admin = (
        f"  admin token (X-Wan-Mock-Admin-Token): {settings.admin_token}\n"
        if settings.admin_token
        else ""
    )
    state = (
        f"  state {settings.state}, {settings.workers} worker(s), tasks kept "
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
        f"  contract: {base_url}/openapi.json, control plane: {base_url}/_mock/\n"
        f"{admin}"
        f"  try: {curl}"
    )
