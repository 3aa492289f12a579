"""Fixtures shared by the whole suite; the helpers they are built from live in helpers.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.backend import Backend
from mockserver.server.app import MockApp
from tests.fuzz_driver import Driver, succeeded_task
from tests.helpers import AUTH, BASE_URL, Fake, Make, ScenarioFake, fake_app
from tests.redis_server import RedisServer
from tests.targets.batch import Job, deadline, launch, result
from tests.targets.prism import prism_command
from tests.targets.runs import Run

OTHER_TESTS_NICENESS = 19  # of the workers once the contract runs are started (yield_to_timed_runs)

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)
settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mock_settings() -> Settings:
    return Settings(seed=7)


@pytest.fixture
def app(mock_settings: Settings, clock: ManualClock) -> MockApp:
    return create_app(mock_settings, clock=clock)


@pytest.fixture
def backend(app: MockApp) -> Backend[Any]:
    return app.backend


@pytest.fixture
def client(app: MockApp) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def bare(app: ASGIApp) -> Iterator[TestClient]:
    """A client of ``app`` that sends no Authorization header unless told to."""
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def fake() -> Iterator[Fake]:
    """A started in-process fake: seed 1, a ManualClock, a client with an API key."""
    with fake_app() as made:
        yield made


@pytest.fixture
def make() -> Iterator[Make]:
    """Builds scenario fakes from Settings overrides (seed 11 unless given); all closed at the
    end of the test."""
    with ExitStack() as stack:

        def build(**overrides: Any) -> ScenarioFake:
            settings = Settings(**{"seed": 11, **overrides})
            return ScenarioFake(stack.enter_context(fake_app(settings)))

        yield build


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the conftest every inner plugin suite shares."""
    from tests.inner_suites import INNER_CONFTEST  # builds apps at import: only when asked

    pytester.makeconftest(INNER_CONFTEST)
    return pytester


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    """The raw ASGI driver of the fuzz tests, on a fake with seed 1 (one per test module)."""
    app_driver = Driver(create_app(Settings(seed=1)))
    yield app_driver
    app_driver.close()


@pytest.fixture(scope="module")
def download(driver: Driver) -> bytes:
    """The download path of a task forced to succeed on the fuzz driver's fake."""
    return succeeded_task(driver).encode()


# --- contract runs against targets the project did not write (tests/targets/batch.py) ----------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "target_run(job): the test judges the contract run of this tests.targets.batch.Job, "
        "which the session starts in the background with all the others (fixture target_run)",
    )


def needs_run(item: pytest.Item) -> Job | None:
    marker = item.get_closest_marker("target_run")
    return None if marker is None else marker.args[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The tests that wait for a contract run go last, so that the runs have the rest of the
    # session's length to finish in the background before anyone waits for them.
    items[:] = [item for item in items if needs_run(item) is None] + [
        item for item in items if needs_run(item) is not None
    ]


@dataclass
class TargetRuns:
    directory: Path  # where the batch writes each run's result

    def result(self, job: Job) -> Run:
        return result(self.directory, job)


@pytest.fixture(scope="session", autouse=True)
def target_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TargetRuns | None]:
    """Starts every contract run the session's tests ask for, all at once, as the session
    begins; nothing when none is selected. Under xdist the first worker to get here starts them
    for all, in the directory the workers share, and waits for them at its end."""
    jobs = list(dict.fromkeys(job for item in request.session.items if (job := needs_run(item))))
    if prism_command() is None:  # those tests skip
        jobs = [job for job in jobs if not job.target.startswith("prism:")]
    if not jobs:
        yield None
        return
    base = tmp_path_factory.getbasetemp()
    directory = (base.parent if hasattr(request.config, "workerinput") else base) / "target-runs"
    directory.mkdir(exist_ok=True)
    marker = directory / "launched"
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:  # another worker launched the batch
        yield_to_timed_runs()
        yield TargetRuns(directory)
        return
    process = launch(directory, jobs)
    yield_to_timed_runs()
    try:
        yield TargetRuns(directory)
        # Other workers may still be waiting for its results.
        process.wait(timeout=max(0.0, deadline(directory) - time.time()))
    finally:
        if process.poll() is None:  # interrupted, or past every deadline: stop it and its runs
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def yield_to_timed_runs() -> None:
    """Lowers this worker's priority below the batch's (started before, at normal priority).

    Each contract run is timed against its limit as if it ran alone, as it does in an
    integrator's CI job; most of it is asleep (pacing), but when it wants a core it gets one
    before the other tests, which no limit times. Processes this worker starts later inherit the
    lower priority, so the tests still share the cores fairly among themselves."""
    os.nice(OTHER_TESTS_NICENESS)


@pytest.fixture
def target_run(request: pytest.FixtureRequest, target_runs: TargetRuns | None) -> Run:
    """The result of the contract run named by the test's ``target_run`` marker."""
    job = needs_run(request.node)
    if job is None or target_runs is None:
        raise pytest.UsageError("the target_run fixture needs a @pytest.mark.target_run(job)")
    return target_runs.result(job)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (no persistence); each test takes its own key
    prefix from it (``redis_server.prefix()``). Tests that stop Redis start their own."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
