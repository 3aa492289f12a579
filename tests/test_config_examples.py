"""The example configs in fixtures/ load to exactly the settings their comments promise, build a
working fake, and one of them runs a real server; bad keys and values in a config file stop the
server at start (exit code 2) with a message naming the key, nested tables included.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import Control, ControlError, ManualClock, Settings, create_app, load_settings
from mockserver.domain.behaviour import (
    DIALECT_PROFILES,
    LIMIT_PRESETS,
    Dialect,
    Fault,
    Latency,
    Limits,
    Rule,
)
from tests.helpers import CREATE_PATH, body
from tests.server_process import running_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

EXPECTED: dict[str, Settings] = {
    "wan-mock.example.toml": Settings(
        port=9000,
        seed=42,
        timing="realistic",
        speed=10.0,
        failure_rate=0.1,
        api_keys=("dev-key",),
    ),
    "flaky-network.toml": Settings(
        seed=20260101,
        timing="dev",
        faults=(
            Fault(target="all", latency=Latency(distribution="uniform", low=0.05, high=0.4)),
            Fault(
                target="poll",
                rate=0.1,
                latency=Latency(distribution="lognormal", seconds=2.0, sigma=0.8),
            ),
            Fault(target="poll", rate=0.1, status=503, retry_after=2),
            Fault(target="create", rate=0.05, status=502),
            Fault(target="download", rate=0.02, drop=True),
        ),
    ),
    "realistic-limits.toml": Settings(
        seed=5,
        timing="realistic",
        speed=30.0,
        limits=LIMIT_PRESETS["realistic"],
        api_keys=("batch-key-1", "batch-key-2"),
    ),
    "chaos-client-hardening.toml": Settings(
        seed=1337,
        timing="dev",
        speed=4.0,
        failure_rate=0.2,
        slow_rate=0.1,
        stuck_rate=0.02,
        dialect=DIALECT_PROFILES["chaos"],
        limits=Limits(submissions_per_second=2.0, concurrent_tasks=3, polls_per_second=4.0),
        faults=(
            Fault(target="poll", rate=0.05, status=429, retry_after=1),
            Fault(target="all", rate=0.02, status=500),
        ),
    ),
    "rules-by-request.toml": Settings(
        seed=99,
        failure_rate=0.05,
        rules=(
            Rule(scenario="slow", match={"resolution": "1080P"}),
            Rule(scenario="fail:safety", prompt_contains="blood"),
            Rule(scenario="reject:402", match={"duration": 15, "shot_type": "multi"}),
            Rule(scenario="poll-error:503", match={"audio_url": True}),
        ),
    ),
    "virtual-clock-ci.toml": Settings(
        seed=4242,
        clock="virtual",
        virtual_start=1_767_225_600.0,
        timing="realistic",
        api_keys=("ci-key",),
        access_log=False,
        journal_size=5000,
        strict=True,
        admin_token="ci-admin-token",
        dialect=Dialect(statuses="legacy", timestamps="z"),
    ),
}


def test_every_example_is_listed_here() -> None:
    assert sorted(path.name for path in FIXTURES.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_loads_to_the_settings_it_describes(name: str) -> None:
    path = FIXTURES / name
    settings = load_settings(config_file=path)
    assert settings == EXPECTED[name]
    assert path.read_text().lstrip().startswith("#")  # each example explains itself
    create_app(settings, clock=ManualClock())  # and builds a fake (rules are parsed here)


def test_the_chaos_example_is_the_chaos_profile_spelled_out() -> None:
    settings = load_settings(config_file=FIXTURES / "chaos-client-hardening.toml")
    assert settings.dialect == DIALECT_PROFILES["chaos"]


def test_the_rules_example_does_what_its_comments_say() -> None:
    clock = ManualClock()
    settings = load_settings(config_file=FIXTURES / "rules-by-request.toml")
    app = create_app(settings, clock=clock)
    with TestClient(app, headers={"Authorization": "Bearer k"}) as client:

        def scenario(**fields: object) -> tuple[int, str | None]:
            response = client.post(CREATE_PATH, json=body(**fields))
            if response.status_code != 202:
                return response.status_code, None
            task_id = response.json()["task_info"]["id"]
            detail = client.get(f"/_mock/tasks/{task_id}").json()
            assert detail["scenario_source"] in ("rule", "weights", None)
            return 202, detail["scenario"]

        assert scenario(resolution="1080P") == (202, "slow")
        assert scenario(prompt="blood on the snow") == (202, "fail:safety")
        assert scenario(duration=15, shot_type="multi") == (402, None)
        assert scenario(duration=15) != (402, None)
        assert scenario(audio_url="https://example.com/track.mp3") == (202, "poll-error:503")


def test_the_ci_example_runs_a_real_server() -> None:
    config = FIXTURES / "virtual-clock-ci.toml"
    with (
        running_server("--config", str(config)) as server,
        httpx.Client(
            base_url=server.base_url, headers={"Authorization": "Bearer ci-key"}, timeout=5
        ) as api,
        Control(server.base_url, admin_token="ci-admin-token") as mock,
    ):
        assert mock.clock().unix == 1_767_225_600.0
        created = api.post(CREATE_PATH, json=body())
        assert created.status_code == 202
        info = created.json()["task_info"]
        assert info["status"] == "pending"
        assert info["created_at"] == "2026-01-01T00:00:00Z"
        assert api.post(CREATE_PATH, json=body(colour="red")).status_code == 400  # strict
        wrong_key = api.post(CREATE_PATH, json=body(), headers={"Authorization": "Bearer x"})
        assert wrong_key.status_code == 401

        mock.advance(15 * 60)  # realistic timing: minutes, instantly
        done = api.get(f"{CREATE_PATH}/{info['id']}").json()
        assert done["task_info"]["status"] == "completed"
        assert done["task_info"]["updated_at"].endswith("Z")
        assert api.head(done["videos"][0]).status_code == 200

        with Control(server.base_url) as anonymous, pytest.raises(ControlError) as refused:
            anonymous.tasks()
        assert refused.value.status == 403


# --- bad configs stop the server at start -------------------------------------------------------

BANNER = "fake wan2.6-i2v API at"


def start_with(config: Path) -> tuple[int | None, str]:
    """Start the CLI with ``config``: its exit code (None if it started serving, after which it
    is stopped) and everything it wrote to stderr."""
    out_path, err_path = config.with_suffix(".out"), config.with_suffix(".err")
    command = [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--config", str(config)]
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        try:
            deadline, served_at = time.monotonic() + 20, None
            while process.poll() is None and time.monotonic() < deadline:
                if served_at is None and BANNER in out_path.read_text():
                    served_at = time.monotonic()
                if served_at is not None and time.monotonic() - served_at > 1.5:
                    break  # listening and still alive: it accepted the config
                time.sleep(0.02)
            code = process.poll()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
    return code, err_path.read_text()


BAD_CONFIGS = [
    pytest.param('colour = "blue"\n', ["colour"], id="unknown-top-level-key"),
    pytest.param('seed = "forty-two"\n', ["seed"], id="wrong-type"),
    pytest.param('dialect = "nope"\n', ["dialect", "nope", "legacy"], id="unknown-profile"),
    pytest.param('limits = "generous"\n', ["limits", "generous"], id="unknown-limits-preset"),
    pytest.param(
        "[limits]\nsubmissions_per_second = 5\nbursts = 3\n",
        ["limits", "bursts"],
        id="limits-unknown-key",
    ),
    pytest.param(
        '[[faults]]\ntarget = "poll"\nstatus = 200\n', ["faults", "status"], id="fault-status-200"
    ),
    pytest.param(
        '[[faults]]\ntarget = "poll"\nstatus = 503\ndrop = true\n',
        ["faults", "exactly one of status, latency or drop"],
        id="fault-two-kinds",
    ),
    pytest.param(
        '[dialect]\nstatuses = "klingon"\n', ["dialect", "statuses", "legacy"], id="dialect-enum"
    ),
    pytest.param(
        '[[rules]]\nscenario = "explode"\n', ["rules", "explode"], id="rule-unknown-scenario"
    ),
    pytest.param(
        '[[rules]]\nscenario = "slow"\nmatch = { resoluton = "1080P" }\n',
        ["rules", "resoluton"],
        id="rule-unknown-match-field",
    ),
    pytest.param(
        "failure_rate = 0.6\nslow_rate = 0.5\n", ["failure_rate", "slow_rate"], id="rates-over-1"
    ),
]


@pytest.mark.parametrize(("text", "named"), BAD_CONFIGS)
def test_a_bad_config_stops_the_server_naming_the_key(
    tmp_path: Path, text: str, named: list[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    code, stderr = start_with(config)
    assert code == 2, f"exit code {code} (None: it started serving); stderr:\n{stderr}"
    assert "Traceback" not in stderr
    assert stderr.startswith("wan-mock: ")
    assert str(config) in stderr
    for word in named:
        assert word in stderr, f"{word!r} not in {stderr!r}"
