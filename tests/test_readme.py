"""The README's examples are executed, so they cannot rot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver import Control
from mockserver.domain.settings import FIELDS, load_settings
from tests.server_process import running_server

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def block(marker: str) -> str:
    """The fenced code block that follows ``<!-- marker -->`` in the README."""
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```\w+\n(.*?)```", README, re.DOTALL)
    assert match, f"README has no block marked {marker!r}"
    return match.group(1)


def test_quickstart_runs_against_a_real_server(tmp_path: Path) -> None:
    with running_server() as server:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block("quickstart")],
            cwd=tmp_path,
            env={**os.environ, "BASE": server.base_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "status: succeeded" in result.stdout
    video = (tmp_path / "result.mp4").read_bytes()
    assert video[4:8] == b"ftyp"


def test_python_client_example_runs_against_a_real_server() -> None:
    with running_server("--no-access-log") as server:
        result = subprocess.run(
            [sys.executable, "-c", block("example: python-client")],
            env={**os.environ, "MULEROUTER_BASE_URL": server.base_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"[0-9a-f-]{36}: \d+ bytes of video", result.stdout)


def test_in_process_example_runs() -> None:
    exec(compile(block("example: in-process"), "README.md", "exec"), {})


def test_setup_is_the_two_scripts_and_ci_calls_the_test_one() -> None:
    setup = re.search(r"## Set-up: two commands\n.*?```bash\n(.*?)```", README, re.DOTALL)
    assert setup is not None
    commands = [line.split("#")[0].strip() for line in setup.group(1).strip().splitlines()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "exec ./scripts/test" in ci


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_setting_is_in_the_configuration_table(name: str) -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert f"`{name}`" in table or f"[[{name}]]" in table
    assert f"WAN_MOCK_{name.upper()}" in table


def test_config_example_loads_and_matches_the_fixture(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "wan-mock.example.toml"
    assert fixture.read_text() == block("example: config")
    settings = load_settings(config_file=fixture)
    assert (settings.port, settings.seed, settings.timing) == (9000, 42, "realistic")
    assert settings.api_keys == ("dev-key",)


def test_control_example_runs_against_a_virtual_clock_server() -> None:
    with running_server("--clock", "virtual", "--no-access-log") as server:
        result = subprocess.run(
            [sys.executable, "-c", block("example: control")],
            env={**os.environ, "WAN_MOCK_URL": server.base_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "['fail:3002', None] 4" in result.stdout


def test_scenario_curl_example_creates_a_task_that_fails_with_its_code() -> None:
    with running_server("--clock", "virtual", "--no-access-log") as server:
        api = server.base_url + "/vendors/alibaba/v1/wan2.6-i2v/generation"
        env = {**os.environ, "API": api, "AUTH": "Authorization: Bearer readme"}
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block("example: scenario-curl")],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        task_id = json.loads(result.stdout)["task_info"]["id"]
        with Control(server.base_url) as mock:
            assert mock.task(task_id).scenario == "fail:3002"
            assert mock.task(task_id).scenario_source == "header"


@pytest.mark.parametrize(
    "toml", re.findall(r"```toml\n(.*?)```", README, re.DOTALL), ids=lambda t: t.split("\n")[0]
)
def test_every_toml_example_is_a_valid_config(toml: str, tmp_path: Path) -> None:
    config = tmp_path / "example.toml"
    config.write_text(toml)
    load_settings(config_file=config)  # raises SettingsError, naming the key, if not


def test_pytest_example_passes_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_readme_example.py").write_text(block("example: pytest"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_excerpts_are_verbatim_from_their_files() -> None:
    root = Path(__file__).resolve().parents[1]
    excerpts = re.findall(r"<!-- excerpt: (\S+) -->\n```\w+\n(.*?)```", README, re.DOTALL)
    assert excerpts, "the README shows no excerpt"
    for path, text in excerpts:
        source = (root / path).read_text()
        for part in text.split("\n\n\n"):
            assert part.strip() in source, f"README excerpt of {path} drifted: {part[:60]!r}"
