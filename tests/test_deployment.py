"""The Dockerfile, compose.yaml and the load balancer's configuration stay consistent with the
CLI: no container engine runs here, so their commands are parsed by wan-mock's own parser and
settings loader, and the files the image is built from are shown to build the package."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hatchling.builders.wheel import WheelBuilder

from mockserver.cli import build_parser, serve_settings
from mockserver.domain.settings import BY_ENV, Settings
from mockserver.domain.state_urls import is_redis

ROOT = Path(__file__).resolve().parent.parent
NOT_ROOT = re.compile(r"^(?!root$|0$)[a-z_][a-z0-9_-]*$")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, rest = line.partition(" ")
            found.append((name.upper(), rest.strip()))
    return found


def serve_command(argv: list[str], env: dict[str, str]) -> Settings:
    """What ``wan-mock <argv>`` would serve with (raises SystemExit on a bad flag)."""
    args = build_parser().parse_args(argv)
    assert args.command == "serve"
    return serve_settings(args, env)


def test_the_image_serves_on_all_addresses_as_a_user_who_is_not_root() -> None:
    steps = instructions()
    base = next(rest for name, rest in steps if name == "FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base)
    names = [name for name, _ in steps]
    user = [rest for name, rest in steps if name == "USER"]
    assert user
    assert NOT_ROOT.match(user[-1])
    assert names.index("USER") > max(i for i, name in enumerate(names) if name == "RUN")
    (entrypoint,) = (json.loads(rest) for name, rest in steps if name == "ENTRYPOINT")
    (command,) = (json.loads(rest) for name, rest in steps if name == "CMD")
    assert entrypoint == ["wan-mock"]
    settings = serve_command(command, {"WAN_MOCK_ADMIN_TOKEN": "a-shared-token"})
    assert settings.host == "0.0.0.0"
    (exposed,) = (rest for name, rest in steps if name == "EXPOSE")
    assert int(exposed) == settings.port


def test_the_files_the_image_copies_build_the_package(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for name, rest in instructions():
        if name == "COPY":
            for source in rest.split()[:-1]:  # the last word is the destination
                copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
                copy(ROOT / source, context / source)
    (wheel,) = WheelBuilder(str(context)).build(directory=str(tmp_path / "dist"))
    assert Path(wheel).name.startswith("wan_mock-")


def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as compose fills it: ``${X:?...}`` needs a value (given
    here), ``${X:-default}`` falls back to its default."""
    filled = {}
    for name, value in service.get("environment", {}).items():
        required = re.fullmatch(r"\$\{(\w+):\?.+\}", str(value))
        fallback = re.fullmatch(r"\$\{(\w+):-(.*)\}", str(value))
        filled[name] = (
            f"value-of-{required.group(1)}"
            if required
            else fallback.group(2)
            if fallback
            else str(value)
        )
    return filled


def replicas() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items() if s.get("build") == "."}


def test_compose_runs_replicas_of_one_fake_over_redis() -> None:
    services = compose()["services"]
    found = replicas()
    assert len(found) >= 2
    made = []
    for name, service in found.items():
        for variable in service.get("environment", {}):
            assert variable in BY_ENV, f"{name}: {variable} is not a wan-mock setting"
        settings = serve_command(service["command"], environment(service))
        assert is_redis(settings.state), name
        assert settings.admin_token is not None, f"{name}: every replica needs the admin token"
        made.append(settings)
    assert all(settings == made[0] for settings in made), "the replicas must be configured alike"
    state = made[0].state
    assert state is not None
    redis_host = re.match(r"rediss?://([^:/]+)", state)
    assert redis_host is not None
    assert redis_host.group(1) in services
    admin = found[next(iter(found))]["environment"]["WAN_MOCK_ADMIN_TOKEN"]
    assert admin.startswith("${WAN_MOCK_ADMIN_TOKEN:?"), "the token must be required, not made up"


def test_the_load_balancer_spreads_over_exactly_the_replicas() -> None:
    services = compose()["services"]
    balancer = services["load-balancer"]
    (mount,) = balancer["volumes"]
    config = ROOT / mount.split(":")[0]
    upstream = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", config.read_text(), re.MULTILINE)
    ports = {
        name: serve_command(s["command"], environment(s)).port for name, s in replicas().items()
    }
    assert sorted((host, int(port)) for host, port in upstream) == sorted(ports.items())
    assert set(balancer["depends_on"]) == set(ports)


def test_a_bad_flag_in_a_command_would_be_caught() -> None:
    with pytest.raises(SystemExit):
        serve_command(["serve", "--state-prefx", "x"], {})
