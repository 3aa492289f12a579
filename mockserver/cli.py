"""The ``wan-mock`` command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from mockserver.__about__ import __version__
from mockserver.domain.loading import CONFIG_ENV, SettingsError, load_settings, shown
from mockserver.domain.options import Setting, markdown_table
from mockserver.domain.settings import SETTINGS, Settings
from mockserver.domain.webhooks import EVENTS
from mockserver.launch import serve

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
