from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mockserver import __version__
from mockserver.cli import main
from tests.helpers import AUTH, CREATE_PATH, body
from tests.server_process import running_server


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wan-mock {__version__}"


def test_serve_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    serve_help = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--seed",
        "--timing",
        "--speed",
        "--failure-rate",
        "--api-key",
        "--strict",
        "--no-access-log",
        "--config",
        "WAN_MOCK_",
    ):
        assert option in serve_help


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: wan-mock [-h]")
    assert "serve" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--speed", "0"], "invalid setting 'speed' (option --speed)"),
        (["serve", "--failure-rate", "2"], "invalid setting 'failure_rate'"),
        (["serve", "--config", "/nonexistent.toml"], "does not exist"),
    ],
)
def test_bad_settings_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_flag_type_is_rejected_by_the_parser() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "eighty"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--port: invalid int value: 'eighty'" in result.stderr


def test_port_in_use_is_reported() -> None:
    with running_server("--no-access-log") as server:
        port = server.base_url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "mockserver", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_prints_url_and_curl_and_answers(tmp_path: Path) -> None:
    config = tmp_path / "wan.toml"
    config.write_text("seed = 5\nspeed = 100.0\n")
    with running_server("--config", str(config), "--api-key", "k1") as server:
        banner = "".join(server.output)
        assert f"fake wan2.6-i2v API at {server.base_url}" in banner
        assert "curl -s -X POST" in banner
        assert "Bearer k1" in banner
        assert "seed 5" in banner
        created = httpx.post(
            server.base_url + CREATE_PATH, json=body(), headers={"Authorization": "Bearer k1"}
        )
        assert created.status_code == 202
        assert created.headers["traceparent"].startswith("00-")
        rejected = httpx.post(server.base_url + CREATE_PATH, json=body(), headers=AUTH)
        assert rejected.status_code == 401


def test_seed_makes_ids_reproducible_run_to_run() -> None:
    ids = []
    for _ in range(2):
        with running_server("--seed", "42", "--no-access-log") as server:
            response = httpx.post(server.base_url + CREATE_PATH, json=body(), headers=AUTH)
            ids.append(response.json()["task_info"]["id"])
    assert ids[0] == ids[1]


def test_an_unusable_state_file_is_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "not-a-dir").write_text("")
    assert main(["serve", "--port", "0", "--state", str(tmp_path / "not-a-dir" / "db")]) == 1
    assert "cannot use state file" in capsys.readouterr().err
