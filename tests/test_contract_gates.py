"""Runs whose answers prove nothing stop with exit 2 and a report marked aborted; credentials in
a base URL are refused before anything is sent; one slow request is a failed check, not the
end of the run."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver import Settings
from mockserver.conformance import RunOptions, run
from mockserver.conformance.command import main
from mockserver.testing.server import ServerThread
from tests.contract_proxy import CREATE_PATH, Proxy

SECRET = "sk-gates-do-not-print-41aa"
ENV = {"MULEROUTER_API_KEY": SECRET}


def contract(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), env=ENV, out=out), out.getvalue()


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerThread]:
    """A fake that accepts one key only, and not the run's."""
    with ServerThread(Settings(access_log=False, api_keys=("the-only-good-key",))) as server:
        yield server


def _aborted(directory: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((directory / "report.json").read_text())
    assert report["aborted"]
    # No verdict stands on such evidence: nothing passed, nothing failed.
    assert {c["outcome"] for c in report["checks"]} == {"skip"}
    suite = ET.parse(directory / "junit.xml").getroot()
    assert suite.get("errors") == "1"
    assert "Aborted" in (directory / "report.md").read_text()
    return report


def test_a_rejected_key_stops_the_run_with_exit_2(
    keyed: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = contract("run", "--base-url", keyed.base_url, "--report", str(tmp_path))
    assert status == 2
    assert "the key is rejected" in capsys.readouterr().err
    assert "ABORTED: the key is rejected" in out
    report = _aborted(tmp_path)
    assert report["budget"]["creates"] == 0
    assert report["budget"]["requests"] < 15  # it stopped after the first phase


def test_a_wrong_path_stops_the_run_with_exit_2(
    keyed: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = keyed.base_url + "/v9"  # nothing of the API lives under it: every answer is 404
    status, _ = contract("run", "--base-url", base, "--report", str(tmp_path))
    assert status == 2
    assert "wrong base URL or path" in capsys.readouterr().err
    _aborted(tmp_path)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--base-url", "http://user:pa55-word@127.0.0.1:9"],
        ["run", "--base-url", "http://user:pa55-word@127.0.0.1:9", "--dry-run"],
        ["drift", "http://user:pa55-word@127.0.0.1:9", "http://127.0.0.1:9"],
    ],
)
def test_credentials_in_a_base_url_are_refused_and_never_repeated(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 9, and nothing is sent: the refusal comes first.
    status, out = contract(*argv)
    err = capsys.readouterr().err
    assert status == 2
    assert "the base URL carries credentials" in err
    assert "pa55-word" not in err + out
    assert "http://***@127.0.0.1:9" in err


def test_the_library_refuses_credentials_in_a_base_url_too() -> None:
    with pytest.raises(ValueError, match="carries credentials") as info:
        run(RunOptions("https://me:hunter2@api.example", "key"))
    assert "hunter2" not in str(info.value)


@pytest.fixture
def slow() -> Iterator[tuple[ServerThread, Proxy]]:
    with ServerThread(Settings(access_log=False)) as server:
        proxy = Proxy(server.app, SECRET)
        server.catcher.app = proxy
        yield server, proxy


def test_one_slow_request_is_a_failed_check_and_the_run_goes_on(
    slow: tuple[ServerThread, Proxy], tmp_path: Path
) -> None:
    server, proxy = slow
    proxy.slow_path, proxy.slow_seconds = f"{CREATE_PATH}/{'0' * 8}-0000-0000-0000-{'0' * 12}", 4.0
    argv = ["run", "--base-url", server.base_url, "--timeout", "1", "--examples", "2"]
    status, out = contract(*argv, "--report", str(tmp_path))
    assert status == 1
    assert "FAIL  contract.answers_in_time" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["aborted"] is None
    checks = {c["name"]: c for c in report["checks"]}
    timed_out = checks["contract.answers_in_time"]
    assert "no answer within 1 s" in timed_out["reasons"][0]
    assert timed_out["curls"][0].startswith("curl -X GET ")
    assert SECRET not in json.dumps(report)
    # Everything after it still ran.
    assert checks["lifecycle.reaches_terminal"]["outcome"] == "pass"
    assert checks["rules.valid_accepted"]["outcome"] == "pass"
