"""The examples of README.md and docs/ run, as a reader would run them, against real servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from mockserver import Control
from tests.doc_blocks import doc_block, find_block
from tests.helpers import CREATE_PATH, body
from tests.server_process import running_server

# The environment's own commands first, as after `source .venv/bin/activate`.
PATH = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"


def run_bash(script: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, "PATH": PATH, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_python(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_quickstart_runs_against_a_real_server(tmp_path: Path) -> None:
    with running_server() as server:
        result = run_bash(doc_block("example: quickstart"), tmp_path, BASE=server.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "status: succeeded" in result.stdout
    video = (tmp_path / "result.mp4").read_bytes()
    assert video[4:8] == b"ftyp"


def test_python_client_example_runs_against_a_real_server() -> None:
    with running_server("--no-access-log") as server:
        result = run_python(
            doc_block("example: python-client"), MULEROUTER_BASE_URL=server.base_url
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"[0-9a-f-]{36}: \d+ bytes of video", result.stdout)


def test_in_process_example_runs() -> None:
    block = find_block("example: in-process")
    exec(compile(block.text, block.where, "exec"), {})


def test_control_example_runs_against_a_fresh_virtual_clock_server() -> None:
    with running_server("--clock", "virtual", "--no-access-log") as server:
        result = run_python(doc_block("example: control"), WAN_MOCK_URL=server.base_url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines() == [
            "['fail:3002', None]",
            "[('POST', 202), ('POST', 202), ('GET', 200), ('GET', 200)]",
        ]
        with Control(server.base_url) as mock:  # it cleaned up after itself
            assert mock.health()["tasks"] == 0
            assert mock.clock().unix == 1767225600


def test_control_example_refuses_a_fake_that_has_tasks_already() -> None:
    with running_server("--clock", "virtual", "--no-access-log") as server:
        created = httpx.post(
            server.base_url + CREATE_PATH, json=body(), headers={"Authorization": "Bearer x"}
        )
        task_id = created.json()["task_info"]["id"]
        result = run_python(doc_block("example: control"), WAN_MOCK_URL=server.base_url)
        assert result.returncode != 0
        assert "already has tasks: start a fake of your own" in result.stderr
        with Control(server.base_url) as mock:  # untouched: the task, its clock, no queue
            assert [task.id for task in mock.tasks()] == [task_id]
            assert mock.clock().unix == 1767225600
            assert mock.scenarios() == []


def test_scenario_curl_example_creates_a_task_that_fails_with_its_code() -> None:
    with running_server("--clock", "virtual", "--no-access-log") as server:
        api = server.base_url + CREATE_PATH
        result = run_bash(
            doc_block("example: scenario-curl"), API=api, AUTH="Authorization: Bearer docs"
        )
        assert result.returncode == 0, result.stderr
        task_id = json.loads(result.stdout)["task_info"]["id"]
        with Control(server.base_url) as mock:
            assert mock.task(task_id).scenario == "fail:3002"
            assert mock.task(task_id).scenario_source == "header"


def test_pytest_example_passes_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_readme_example.py").write_text(doc_block("example: pytest"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_contract_dry_run_example_sends_nothing(tmp_path: Path) -> None:
    result = run_bash(doc_block("example: contract-dry-run"), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing is sent" in result.stdout
    assert list(tmp_path.iterdir()) == []
