"""README.md and docs/ stay small, complete and true: every code block is checked one way or
another, samples match what the fake really answers, and every setting is documented."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import ManualClock, Settings, create_app
from mockserver.domain.loading import load_settings
from mockserver.domain.settings import FIELDS
from tests.doc_blocks import KINDS, ROOT, Block, all_blocks, doc_block, find_block
from tests.helpers import CREATE_PATH, body

README = ROOT / "README.md"
SETTINGS_PAGE = ROOT / "docs" / "reference" / "settings.md"


def test_the_readme_is_a_landing_page_of_at_most_12_kb() -> None:
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f"README.md is {size} bytes: move reference text into docs/"


def test_every_code_block_says_how_it_is_checked() -> None:
    unmarked = [b.where for b in all_blocks() if b.kind is None]
    assert not unmarked, f"blocks without a marker ({', '.join(KINDS)}) above them: {unmarked}"


def test_blocks_shown_but_not_run_give_their_reason() -> None:
    for block in all_blocks():
        if block.kind == "not run":
            assert len(block.name.split()) >= 4, f"{block.where}: say why it is not run"


@pytest.mark.parametrize("kind", ["example", "output"])
def test_names_are_unique(kind: str) -> None:
    names = Counter(b.name for b in all_blocks() if b.kind == kind)
    assert [name for name, count in names.items() if count > 1] == []


def test_every_example_is_run_by_a_test() -> None:
    tests = "".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    names = {b.name for b in all_blocks() if b.kind == "example"}
    unused = sorted(name for name in names if f'"example: {name}"' not in tests)
    assert unused == [], f"no test runs these (doc_block('example: NAME')): {unused}"


def test_the_readme_links_only_to_files_that_exist() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)[^)]*\)", README.read_text())
    local = [t for t in targets if "://" not in t]
    assert local, "the README links to no docs page"
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_setup_is_the_two_scripts_and_ci_calls_the_test_one() -> None:
    setup = find_block("example: setup")
    assert setup.path == README
    commands = [line.split("#")[0].strip() for line in setup.text.strip().splitlines()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./scripts/test" in ci


def test_the_readme_says_which_python_runs_the_examples() -> None:
    text = README.read_text()
    assert ".venv/bin/python" in text
    assert "needs pytest" in text


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_setting_is_in_the_settings_table(name: str) -> None:
    page = SETTINGS_PAGE.read_text()
    table = page.split("<!-- BEGIN settings table -->\n", 1)[1].split("<!-- END settings table -->")
    assert len(table) == 2, "the settings page lost its table markers"
    assert f"`{name}`" in table[0] or f"[[{name}]]" in table[0]
    assert f"WAN_MOCK_{name.upper()}" in table[0]


def test_the_config_page_links_to_the_settings_table() -> None:
    assert "(reference/settings.md)" in (ROOT / "docs" / "configuration.md").read_text()


def config_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.kind == "config" or b.name == "config"]


def test_every_toml_block_is_loaded_as_a_config() -> None:
    toml = {b.where for b in all_blocks() if b.language == "toml"}
    assert toml == {b.where for b in config_blocks()}
    assert all(b.language == "toml" for b in config_blocks())


@pytest.mark.parametrize("block", config_blocks(), ids=lambda b: b.where)
def test_every_config_block_loads(block: Block, tmp_path: Path) -> None:
    config = tmp_path / "example.toml"
    config.write_text(block.text)
    load_settings(config_file=config)  # raises SettingsError, naming the key, if not


def test_the_config_example_is_the_fixture_and_loads_as_it_says(tmp_path: Path) -> None:
    fixture = ROOT / "fixtures" / "wan-mock.example.toml"
    assert fixture.read_text() == doc_block("example: config")
    settings = load_settings(config_file=fixture)
    assert (settings.port, settings.seed, settings.timing) == (9000, 42, "realistic")
    assert settings.api_keys == ("dev-key",)


def test_excerpts_are_verbatim_from_their_files() -> None:
    excerpts = [b for b in all_blocks() if b.kind == "excerpt"]
    assert excerpts, "the docs show no excerpt"
    for block in excerpts:
        source = (ROOT / block.name).read_text()
        for part in block.text.split("\n\n\n"):
            assert part.strip() in source, f"{block.where} drifted from {block.name}: {part[:60]!r}"


# Output samples: the fake answers the same request, and the two must match except for what
# differs on every run (ids, times, the host).


def _answer(*, scenario: str | None = None, duration: int = 5) -> tuple[int, Any]:
    """Create a task on a fresh fake in the default dialect, let ten minutes pass, poll it."""
    clock = ManualClock()
    headers = {"Authorization": "Bearer docs"}
    with TestClient(create_app(Settings(seed=3), clock=clock), headers=headers) as client:
        extra = {"X-Wan-Mock-Scenario": scenario} if scenario else {}
        created = client.post(CREATE_PATH, json=body(duration=duration), headers=extra)
        if created.status_code != 202:
            return created.status_code, created.json()
        clock.advance(600)
        polled = client.get(f"{CREATE_PATH}/{created.json()['task_info']['id']}")
        return polled.status_code, polled.json()


ANSWERS: dict[str, Callable[[], tuple[int, Any]]] = {
    "succeeded-task": lambda: _answer(),
    "failed-task": lambda: _answer(scenario="fail:3002"),
    "invalid-duration": lambda: _answer(duration=7),
}
STATUSES = {"succeeded-task": 200, "failed-task": 200, "invalid-duration": 400}

_VARYING = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"https?://[^/\"]+"), "<base>"),
    (re.compile(r"(?<=/)[0-9a-f]{32}(?=/)"), "<token>"),  # a result link's secret part
]


def _normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalised(item) for item in value]
    if isinstance(value, str):
        for pattern, placeholder in _VARYING:
            value = pattern.sub(placeholder, value)
    return value


def test_every_output_sample_has_a_real_answer_to_match() -> None:
    assert {b.name for b in all_blocks() if b.kind == "output"} == set(ANSWERS)


@pytest.mark.parametrize("name", list(ANSWERS))
def test_output_samples_are_what_the_fake_answers(name: str) -> None:
    sample = json.loads(doc_block(f"output: {name}"))
    status, answer = ANSWERS[name]()
    assert status == STATUSES[name]
    assert _normalised(sample) == _normalised(answer)
