"""A Python client generated from the contract by openapi-python-client (the most used Python
generator) drives a whole task lifecycle against the in-process fake: create, poll until done,
a failed task, the result's download link, and the error answers parsed into their schemas.

The generator used to drop the create operation (a mixed boolean/string enum); it must now
generate both operations without a warning about the schema.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from mockserver import ManualClock, Settings, create_app
from mockserver.testing.bridge import AppTransport
from tests.contract_tools import CONTRACT, run, tool
from tests.helpers import BASE_URL, FAILURE_CODES, KEY, SCENARIO_HEADER, UNKNOWN_ID

PACKAGE = "wan_generated_client"
CONFIG = "post_hooks: []\n"  # the generated code is imported as written (no formatter run)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The generated package's modules: the client, both operations and the models."""
    generator = tool("openapi-python-client")
    folder = tmp_path_factory.mktemp("python-client")
    config = folder / "config.yaml"
    config.write_text(CONFIG)
    result = run(
        [generator, "generate", "--path", CONTRACT, "--meta", "none", "--config", config,
         "--output-path", folder / PACKAGE],
        cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    # Anything about the schema (a skipped endpoint, an unparsed schema) is printed as a warning.
    assert "Unable to" not in result.stdout, result.stdout
    assert "will not be generated" not in result.stdout, result.stdout
    sys.path.insert(0, str(folder))
    try:
        names = ("client", "api.generation.create_generation_task",
                 "api.generation.get_generation_task", "models")  # fmt: skip
        yield {name: importlib.import_module(f"{PACKAGE}.{name}") for name in names}
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[AppTransport]:
    """A transport whose server is the fake (one key, seeded)."""
    transport = AppTransport(create_app(Settings(seed=5, api_keys=(KEY,)), clock=clock))
    yield transport
    transport.close()


def _client(generated: dict[str, ModuleType], fake: AppTransport, **headers: str) -> Any:
    """The generated ``AuthenticatedClient`` over an httpx client whose server is the fake (the
    generated client's own ``with_headers`` would build a client over the network)."""
    authenticated = generated["client"].AuthenticatedClient(base_url=BASE_URL, token=KEY)
    headers["Authorization"] = f"Bearer {KEY}"
    authenticated.set_httpx_client(httpx.Client(base_url=BASE_URL, transport=fake, headers=headers))
    return authenticated


@pytest.fixture
def client(generated: dict[str, ModuleType], fake: AppTransport) -> Iterator[Any]:
    authenticated = _client(generated, fake)
    with authenticated.get_httpx_client():
        yield authenticated


def _create(generated: dict[str, ModuleType], client: Any, **fields: Any) -> Any:
    models = generated["models"]
    request = models.GenerationRequest(
        prompt="A lighthouse at dusk, the camera circles it",
        image="https://example.com/first_frame.jpg",
        **fields,
    )
    response = generated["api.generation.create_generation_task"].sync_detailed(
        client=client, body=request
    )
    assert response.status_code == 202, response.content
    assert isinstance(response.parsed, models.TaskEnvelope), response.parsed
    return response.parsed


def _poll(generated: dict[str, ModuleType], client: Any, task_id: str) -> Any:
    response = generated["api.generation.get_generation_task"].sync_detailed(task_id, client=client)
    assert response.status_code == 200, response.content
    assert isinstance(response.parsed, generated["models"].TaskEnvelope), response.parsed
    return response.parsed


def _until_done(
    generated: dict[str, ModuleType], client: Any, clock: ManualClock, task_id: str
) -> tuple[list[str], Any]:
    seen: list[str] = []
    for _ in range(200):
        envelope = _poll(generated, client, task_id)
        status = envelope.task_info.status.value
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("succeeded", "failed"):
            return seen, envelope
        clock.advance(1.0)
    raise AssertionError(f"task {task_id} never finished: {seen}")


def test_the_generated_client_runs_a_task_to_its_video(
    generated: dict[str, ModuleType], client: Any, clock: ManualClock
) -> None:
    models = generated["models"]
    created = _create(
        generated, client, duration=models.GenerationRequestDuration.VALUE_5, multi_shots=True
    )
    assert created.task_info.status.value == "pending"
    seen, done = _until_done(generated, client, clock, str(created.task_info.id))
    assert seen == ["pending", "running", "succeeded"]
    (video,) = done.videos
    # The download link is the fake's own (not in the contract): the same httpx client fetches it.
    download = client.get_httpx_client().get(video)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    assert download.content[4:8] == b"ftyp"


def test_the_generated_client_sees_a_task_fail(
    generated: dict[str, ModuleType], client: Any, fake: AppTransport, clock: ManualClock
) -> None:
    failing = _client(generated, fake, **{SCENARIO_HEADER: "fail"})
    with failing.get_httpx_client():
        created = _create(generated, failing)
    seen, done = _until_done(generated, client, clock, str(created.task_info.id))
    assert seen[-1] == "failed"
    assert not done.videos  # UNSET: a failed task has no videos
    assert done.task_info.error.code in FAILURE_CODES


def test_the_generated_client_parses_error_answers(
    generated: dict[str, ModuleType], client: Any
) -> None:
    models = generated["models"]
    missing = generated["api.generation.get_generation_task"].sync_detailed(
        UNKNOWN_ID, client=client
    )
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorBody), missing.parsed
    assert missing.parsed.error_code == 2005
    invalid = generated["api.generation.create_generation_task"].sync_detailed(
        client=client,
        body=models.GenerationRequest(prompt="a cat", image="https://example.com/a.gif", seed=-1),
    )
    assert invalid.status_code == 400
    assert isinstance(invalid.parsed, models.ErrorBody), invalid.parsed
    assert invalid.parsed.error_code == 2001
    assert "seed" in invalid.parsed.detail
