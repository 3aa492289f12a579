from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mockserver import Settings, __version__
from mockserver.cli import TABLE_BEGIN, TABLE_END, main
from mockserver.domain.settings import SETTINGS
from mockserver.testing.server import ServerThread
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


def test_serve_help_epilog_lists_every_toml_key_and_environment_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    epilog = capsys.readouterr().out.split("TOML key", 1)[1]
    listed = {line.split()[0]: line.split()[1] for line in epilog.strip().splitlines()[1:]}
    assert listed == {s.name: s.env for s in SETTINGS}
    assert {"rules", "faults"} <= listed.keys()  # config-file-only ones too


def test_an_unknown_serve_option_gets_serves_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--prot", "9000"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: wan-mock serve [-h] [--host HOST]")
    assert err.endswith("wan-mock serve: error: unrecognized arguments: --prot 9000\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--api-key", ""], "'api_keys[0]' (option --api-key): must not be empty"),
        (["--admin-token", "short"], "(option --admin-token): must be 8 or more characters"),
        (["--port", "70000"], "'port' (option --port): must be at most 65535"),
    ],
)
def test_bad_values_are_explained_in_words(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "regex" not in err


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
        assert "api keys (masked): ***" in banner  # the key itself is never printed
        assert "Bearer $KEY" in banner
        assert "k1" not in banner.replace(server.base_url, "")
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
    assert main(["serve", "--port", "0", "--state", str(tmp_path / "not-a-dir" / "db")]) == 2
    assert "cannot use state file" in capsys.readouterr().err


def test_settings_prints_what_serve_would_start_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "wan.toml"
    config.write_text('timing = "realistic"\n')
    monkeypatch.setenv("WAN_MOCK_API_KEYS", "k1,k2")
    assert main(["settings", "--config", str(config)]) == 0
    lines = dict(line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert list(lines) == [s.name for s in SETTINGS]
    assert lines["timing"] == '"realistic"'  # from the file
    assert lines["api_keys"] == '["***","***"]'  # from the environment, masked
    assert lines["port"] == "8000"  # the default
    monkeypatch.setenv("WAN_MOCK_SPEED", "0")
    assert main(["settings"]) == 2
    assert "invalid setting 'speed' (environment variable WAN_MOCK_SPEED='0')" in (
        capsys.readouterr().err
    )


def test_settings_update_rewrites_only_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "settings.md"
    doc.write_text(f"# Title\n\ntext\n\n{TABLE_BEGIN}\nstale\n{TABLE_END}\n\nafter\n")
    assert main(["settings", "--update", str(doc)]) == 0
    assert main(["settings", "--markdown"]) == 0
    table = capsys.readouterr().out.split("\n", 1)[1]
    assert doc.read_text() == f"# Title\n\ntext\n\n{TABLE_BEGIN}\n{table}{TABLE_END}\n\nafter\n"
    doc.write_text("no markers\n")
    assert main(["settings", "--update", str(doc)]) == 2
    assert "has no <!-- BEGIN settings table -->" in capsys.readouterr().err
    assert doc.read_text() == "no markers\n"


def test_contract_run_help_has_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["contract", "run", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "Run the contract suite against one base URL" in out


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_contract_run_says_an_unreachable_target_before_a_missing_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULEROUTER_API_KEY", raising=False)
    port = closed_port()
    assert main(["contract", "run", "--base-url", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach http://127.0.0.1:{port}/:" in err
    assert "MULEROUTER_API_KEY" not in err


def test_contract_run_asks_for_a_key_for_a_reachable_target_that_is_not_the_fake(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MULEROUTER_API_KEY", raising=False)
    # Without the admin token its control plane refuses, so it cannot be told from the live API.
    with ServerThread(Settings(access_log=False, admin_token="admin-token-1234")) as server:
        assert main(["contract", "run", "--base-url", server.base_url]) == 2
    assert "is not wan-mock, so it needs a key: set MULEROUTER_API_KEY" in (capsys.readouterr().err)
