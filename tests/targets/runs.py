"""Runs ``wan-mock contract run`` as an integrator would: a subprocess pointed at a base URL, with
the keys in environment variables and the reports in a directory, timed from the outside."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.targets.proxy import CountingProxy
from tests.targets.serving import outside, served

KEY, OTHER_KEY = "target-key", "other-target-key"
KEY_ENV, OTHER_KEY_ENV = "TARGET_API_KEY", "TARGET_OTHER_API_KEY"
# A run must finish within LIMIT seconds; it is stopped at KILL_AFTER (a hung run must not hang
# the suite). WAN_MOCK_TARGET_LIMIT raises the limit on a machine known to be overloaded.
LIMIT = float(os.environ.get("WAN_MOCK_TARGET_LIMIT", "60"))
# Prism answers in node, after validating each request against the whole contract: idle, a run
# against it takes about 40 s where one against a small fake takes 32-36 s, and on a busy
# machine it slows with its own process too. The 60 s is for the fakes with bugs; Prism's
# runs get half as long again.
PRISM_LIMIT = 1.5 * LIMIT
KILL_AFTER = 1.5 * PRISM_LIMIT
WAN_MOCK = Path(sys.executable).with_name("wan-mock")


@dataclass
class Run:
    """What one contract run did: exit status (None when it was stopped), time, output, report,
    and the creates the counting proxy saw that could have been billed."""

    returncode: int | None
    seconds: float
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    billed: int
    accepted: int  # of those, how many the target accepted
    refused: list[str]  # requests for hosts off loopback, refused by the outside proxy

    def failed_checks(self) -> dict[str, str]:
        """Each failed check's name -> its name, description and reasons, as one text."""
        checks = (self.report or {}).get("checks", [])
        return {
            check["name"]: " ".join(
                [check["name"], check.get("description", ""), *map(str, check.get("reasons", []))]
            )
            for check in checks
            if check.get("outcome") == "fail"
        }

    def outcome(self, name: str) -> str | None:
        for check in (self.report or {}).get("checks", []):
            if check["name"] == name:
                return str(check["outcome"])
        return None

    def blamed(self, evidence: str) -> list[str]:
        """The failed checks whose name, description or reasons match ``evidence``."""
        pattern = re.compile(evidence, re.IGNORECASE)
        return [name for name, text in self.failed_checks().items() if pattern.search(text)]

    def summary(self) -> str:
        """The run in a few lines, for assertion messages."""
        status = "stopped" if self.returncode is None else f"exit {self.returncode}"
        failed = "; ".join(f"{text[:300]}" for text in self.failed_checks().values()) or "none"
        tail = self.stdout.strip().splitlines()[-1:] or self.stderr.strip().splitlines()[-1:]
        return (
            f"{status} after {self.seconds:.1f} s, {self.billed} billable creates "
            f"({self.accepted} accepted), "
            f"{len(self.refused)} requests for hosts off loopback refused; "
            f"failed checks: {failed}; last line: {tail}"
        )


def contract_run(
    base_url: str, report_dir: Path, *options: str, outside: str
) -> tuple[int | None, float, str, str]:
    """Runs the suite against ``base_url``: exit status (None if stopped), seconds, output."""
    env = {**os.environ, KEY_ENV: KEY, OTHER_KEY_ENV: OTHER_KEY, **loopback_only(outside)}
    env.pop("CI", None)  # plain progress lines either way; CI changes nothing else
    argv = [
        str(WAN_MOCK),
        "contract",
        "run",
        "--base-url",
        base_url,
        "--token-env",
        KEY_ENV,
        "--other-token-env",
        OTHER_KEY_ENV,
        "--report",
        str(report_dir),
        *options,
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=KILL_AFTER)
    except subprocess.TimeoutExpired as stopped:
        return None, time.monotonic() - started, _text(stopped.stdout), _text(stopped.stderr)
    return done.returncode, time.monotonic() - started, done.stdout, done.stderr


def loopback_only(outside: str) -> dict[str, str]:
    """Proxy variables that send every request for a host off loopback to ``outside`` (which
    refuses it), so a target's made-up URLs (Prism's random video links) are never resolved or
    fetched; loopback is reached directly."""
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    proxies = dict.fromkeys(names + tuple(name.lower() for name in names), outside)
    direct = "127.0.0.1,localhost,::1"
    return proxies | {"NO_PROXY": direct, "no_proxy": direct}


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def read_report(report_dir: Path) -> dict[str, Any] | None:
    path = report_dir / "report.json"
    if not path.is_file():
        return None
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def run_through_proxy(target: str, report_dir: Path, *options: str) -> Run:
    """One contract run against ``target`` through a counting proxy, with every other host
    refused on loopback."""
    proxy = CountingProxy(target, KEY)
    with served(proxy) as base_url, outside() as (outside_url, refused):
        returncode, seconds, stdout, stderr = contract_run(
            base_url, report_dir, *options, outside=outside_url
        )
    report = read_report(report_dir)
    return Run(returncode, seconds, stdout, stderr, report, proxy.count, proxy.accepted, refused)
