"""The live contract check that users copy into their CI (docs/ci/contract-live.yml) works: its
shell steps run against a local fake standing in for the live API and leave the reports behind,
and the README's command is the one it runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from tests.doc_blocks import doc_block
from tests.server_process import running_server

LIVE = "https://api.mulerouter.ai"
SECRET = re.compile(r"\$\{\{\s*secrets\.\w+\s*\}\}")


def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(doc_block("example: contract-live-workflow"))
    assert isinstance(loaded, dict)
    return loaded


def steps() -> list[dict[str, Any]]:
    (job,) = workflow()["jobs"].values()
    return list(job["steps"])


def step_using(action: str) -> dict[str, Any]:
    (step,) = [s for s in steps() if s.get("uses", "").startswith(action + "@")]
    return step


def contract_step() -> dict[str, Any]:
    (step,) = [s for s in steps() if "wan-mock contract run" in s.get("run", "")]
    return step


def words(command: str) -> list[str]:
    return command.replace("\\\n", " ").split()


def test_it_runs_on_a_schedule_and_by_hand() -> None:
    triggers = workflow()[True]  # YAML 1.1, as PyYAML reads it, takes a bare `on` for true
    assert len(triggers["schedule"][0]["cron"].split()) == 5
    assert "workflow_dispatch" in triggers


def test_it_runs_the_readme_command_with_the_key_from_a_secret() -> None:
    step = contract_step()
    assert words(step["run"]) == words(doc_block("example: contract-live"))
    assert words(step["run"])[:5] == ["wan-mock", "contract", "run", "--base-url", LIVE]
    assert SECRET.fullmatch(step["env"]["MULEROUTER_API_KEY"])


def test_it_uploads_and_publishes_the_reports_whatever_the_outcome() -> None:
    upload = step_using("actions/upload-artifact")
    assert upload["with"]["path"] == "reports/"
    publish = step_using("mikepenz/action-junit-report")
    assert publish["with"]["report_paths"] == "reports/junit.xml"
    assert upload["if"] == publish["if"] == "always()"


def test_its_shell_steps_against_a_local_fake_leave_the_reports(tmp_path: Path) -> None:
    run_steps = [s for s in steps() if "run" in s]
    install, *checks = run_steps
    assert install["run"].startswith("python -m pip install"), "the first step installs"
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "CI": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        **workflow().get("env", {}),
    }
    with running_server("--no-access-log") as server:
        for step in checks:  # wan-mock is installed in this environment already
            step_env = {k: SECRET.sub("test-key", v) for k, v in step.get("env", {}).items()}
            script = step["run"].replace(LIVE, server.base_url)
            assert "${{" not in script + "".join(step_env.values()), step["name"]
            result = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", script],
                cwd=tmp_path,
                env={**env, **step_env},
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert result.returncode == 0, f"{step['name']}: {result.stdout}{result.stderr}"
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["junit.xml", "report.json", "report.md"]
    report = json.loads((reports / "report.json").read_text())
    assert report["budget"]["creates"] == 1
    assert ET.parse(reports / "junit.xml").getroot().find("testsuite") is not None
    assert summary.read_text() == (reports / "report.md").read_text()
