"""The ``wan-mock`` command line."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import secrets
import shlex
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import msgspec

from mockserver.__about__ import __version__
from mockserver.domain.keys import mask
from mockserver.domain.loading import CONFIG_ENV, SettingsError, load_settings, shown
from mockserver.domain.options import Setting, markdown_table
from mockserver.domain.paths import DASHBOARD_PATH, GENERATION_PATH
from mockserver.domain.settings import SETTINGS, Settings
from mockserver.domain.webhooks import EVENTS, endpoint_specs

DESCRIPTION = """\
A local fake of the MuleRouter wan2.6-i2v image-to-video API: create tasks, poll them to
completion and download a real MP4, without credentials or credits."""
TABLE_BEGIN, TABLE_END = "<!-- BEGIN settings table -->", "<!-- END settings table -->"
NAME_WIDTH = max(len(setting.name) for setting in SETTINGS) + 2  # a column of setting names


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
        description="Run the fake API server.",
        epilog=serve_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for setting in SETTINGS:
        if setting.flag is not None:
            serve.add_argument(setting.flag, **_flag_arguments(setting))
    serve.add_argument("--config", metavar="FILE", help="TOML file with settings")
    serve.set_defaults(parser=serve)
    show = commands.add_parser(
        "settings",
        help="print the settings serve would start with, or the settings reference",
        description="Print the settings `wan-mock serve` would start with (from the "
        "environment and --config; options aside), or the reference table of every setting.",
    )
    show.add_argument("--config", metavar="FILE", help="TOML file with settings")
    show.add_argument(
        "--markdown", action="store_true", help="print the reference table, in Markdown"
    )
    show.add_argument(
        "--update",
        metavar="FILE",
        help=f"rewrite the reference table in FILE, between {TABLE_BEGIN} and {TABLE_END}",
    )
    show.set_defaults(parser=show)
    hook = commands.add_parser(
        "webhook",
        help="send a signed webhook event to a receiver now (trigger)",
        description="Webhook tools for receivers under development.",
    )
    actions = hook.add_subparsers(dest="webhook_action", metavar="ACTION", required=True)
    trigger = actions.add_parser(
        "trigger",
        help="send one signed event about a made-up task now",
        description="POST one signed event about a made-up task to --to, as the fake (and, "
        "as far as is public, the real service) sends it. Exit status 0 when the receiver "
        "answered 2xx, 1 when it answered something else, 2 when it could not be reached.",
    )
    trigger.add_argument("--to", required=True, metavar="URL", help="the receiver's URL")
    trigger.add_argument(
        "--event", default="task.succeeded", choices=EVENTS, help="(default: task.succeeded)"
    )
    trigger.add_argument("--secret", required=True, help="the endpoint's signing secret")
    trigger.add_argument(
        "--key-reading",
        default="utf8",
        choices=("utf8", "base64"),
        help="HMAC key: the secret's bytes, or the base64 after whsec_ (default: utf8)",
    )
    trigger.add_argument(
        "--digest", default="hex", choices=("hex", "base64"), help="(default: hex)"
    )
    trigger.add_argument("--timeout", type=float, default=10.0, help="seconds (default: 10)")
    trigger.set_defaults(parser=trigger)
    return parser


def _flag_arguments(setting: Setting) -> dict[str, Any]:
    """argparse's arguments for the flag of ``setting``."""
    option = setting.option
    default = setting.shown_default.replace("`", "")
    arguments: dict[str, Any] = {
        "dest": setting.name,
        "help": f"{option.help} (default: {default})".replace("%", "%%"),
    }
    if option.metavar:
        arguments["metavar"] = option.metavar
    if setting.choices:
        arguments["choices"] = setting.choices
        if option.metavar:
            arguments["help"] += f"; one of {', '.join(setting.choices)}"
    if setting.kind == "bool":
        arguments.update(action="store_const", const=not setting.default)
    elif setting.kind == "list":
        arguments.update(action="append", help=arguments["help"] + "; repeatable")
    elif setting.kind in ("int", "float"):
        arguments["type"] = int if setting.kind == "int" else float
    return arguments


def serve_epilog() -> str:
    """The keys ``serve --help`` promises: every setting's TOML key and environment variable."""
    lines = [
        "Every setting can also be given as a WAN_MOCK_<NAME> environment variable or a key in",
        f"a TOML file named by --config or {CONFIG_ENV}. Options beat the environment, which",
        "beats the file. Lists are comma-separated in the environment, tables are JSON.",
        "",
        f"  {'TOML key':<{NAME_WIDTH}}{'environment variable':<44}note",
    ]
    for setting in SETTINGS:
        env = setting.env
        if setting.env_form != "text":
            env += f" ({setting.env_form})"
        note = "no option: TOML tables or JSON" if setting.flag is None else ""
        if setting.option.restart:
            note = "read at start"
        lines.append(f"  {setting.name:<{NAME_WIDTH}}{env:<44}{note}".rstrip())
    return "\n".join(lines)


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
    args, unknown = parser.parse_known_args(args_list)
    if unknown:  # reported with the usage of the command they were given to
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "settings":
        return show_settings(args.markdown, args.update, args.config)
    if args.command == "webhook":
        return trigger_webhook(args)
    try:
        settings = serve_settings(args, os.environ)
    except SettingsError as exc:
        print(f"wan-mock: {exc}", file=sys.stderr)
        return 2
    return serve(settings)


def trigger_webhook(args: argparse.Namespace) -> int:
    """``wan-mock webhook trigger``: one signed event, now."""
    import time

    import httpx

    from mockserver.server.webhooks import sample_delivery

    headers, body = sample_delivery(
        args.event, args.secret, time.time(), key=args.key_reading, digest=args.digest
    )
    started = time.perf_counter()
    try:
        answer = httpx.post(args.to, content=body, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"wan-mock: cannot deliver to {args.to}: {exc}", file=sys.stderr)
        return 2
    took = (time.perf_counter() - started) * 1000
    event = headers["X-MuleRouter-Webhook-Id"]
    print(f"POST {args.to} ({args.event}, {event}) -> {answer.status_code} in {took:.1f} ms")
    return 0 if 200 <= answer.status_code < 300 else 1


def serve_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    """The settings of ``wan-mock serve`` parsed into ``args``, over ``env`` and the config."""
    flags = {s.name: getattr(args, s.name) for s in SETTINGS if s.flag is not None}
    return load_settings(flags, env, args.config)


def show_settings(markdown: bool, update: str | None, config: str | None) -> int:
    """``wan-mock settings``: the settings in effect, or the reference table (printed or
    written into a document between its markers)."""
    if update is not None:
        return _update_table(update)
    if markdown:
        print(markdown_table(SETTINGS), end="")
        return 0
    try:
        settings = load_settings(env=os.environ, config_file=config)
    except SettingsError as exc:
        print(f"wan-mock: {exc}", file=sys.stderr)
        return 2
    values = shown(settings)  # credentials masked: this output ends up in bug reports
    for setting in SETTINGS:
        value = msgspec.json.encode(values[setting.name]).decode()
        print(f"{setting.name:<{NAME_WIDTH}}{value}")
    return 0


def _update_table(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        before, rest = text.split(TABLE_BEGIN + "\n", 1)
        _, after = rest.split(TABLE_END, 1)
    except OSError as exc:
        print(f"wan-mock: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"wan-mock: {path} has no {TABLE_BEGIN} ... {TABLE_END} lines", file=sys.stderr)
        return 2
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(before + TABLE_BEGIN + "\n" + markdown_table(SETTINGS) + TABLE_END + after)
    print(f"wrote the settings table into {path}")
    return 0


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
    if settings.state is not None and settings.render_cache_dir is None:
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
        f"{hooks}"
        f"{keys}"
        f"  contract: {base_url}/openapi.json, control plane: {base_url}/_mock/\n"
        f"  dashboard: {dashboard}\n"
        f"{admin}"
        f"  try: {curl}"
    )
