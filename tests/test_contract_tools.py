"""The contract through the tools integrators feed it, each run as a user would run it:
openapi-typescript generates types that TypeScript's ``tsc`` checks a tiny client against,
Redocly (recommended rules) and Spectral (``spectral:oas``) lint it with no error and no
warning, and a plain ``schemathesis run`` (no custom formats, no hooks) with positive data
against a served fake finds nothing but the one thing no schema can say (below).

The Python generator has its own file (tests/test_contract_python_client.py).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from mockserver import Settings, create_app
from tests.contract_tools import CONTRACT, ROOT, run, tool
from tests.helpers import KEY
from tests.targets.serving import served

CLIENT = ROOT / "tests" / "data" / "clients" / "client.ts"
SPECTRAL_RULESET = 'extends: ["spectral:oas"]\n'
# openapi-typescript makes a field with a default required unless told otherwise; in a request
# body the default is the server's to apply, so the client leaves it out (docs/clients.md).
TYPES = ["--default-non-nullable", "false"]
TSC = ["--strict", "--noEmit", "--target", "es2022", "--module", "es2022",
       "--moduleResolution", "bundler", "--lib", "es2022,dom"]  # fmt: skip


def _json(output: str, opening: str) -> Any:
    """The JSON report in a tool's output (which prints a line of its own after it)."""
    return json.JSONDecoder().raw_decode(output[output.index(opening) :])[0]


@pytest.fixture(scope="module")
def types(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The contract's types from openapi-typescript, generated once for the module's tests."""
    path = tmp_path_factory.mktemp("types") / "wan.d.ts"
    generated = run([tool("openapi-typescript"), CONTRACT, *TYPES, "--output", path])
    assert generated.returncode == 0, generated.stdout
    return path


def test_typescript_types_type_check_a_client(types: Path, tmp_path: Path) -> None:
    shutil.copy(types, tmp_path / "wan.d.ts")
    shutil.copy(CLIENT, tmp_path / "client.ts")
    checked = run([tool("tsc"), *TSC, "client.ts"], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout


def test_tsc_refuses_what_the_types_forbid(types: Path, tmp_path: Path) -> None:
    """The check can fail: without its @ts-expect-error marks the client does not compile."""
    shutil.copy(types, tmp_path / "wan.d.ts")
    (tmp_path / "client.ts").write_text(CLIENT.read_text().replace("// @ts-expect-error", "//"))
    checked = run([tool("tsc"), *TSC, "client.ts"], cwd=tmp_path)
    assert checked.returncode != 0
    errors = re.findall(r"client\.ts\(\d+,\d+\): error TS\d+: ([^\n]*)", checked.stdout)
    assert len(errors) == 2, checked.stdout
    assert "Type '7' is not assignable" in errors[0], errors
    assert "Type '\"x\"' is not assignable" in errors[1], errors


def test_redocly_recommended_rules_pass_without_warnings() -> None:
    result = run([tool("redocly"), "lint", "--format", "json", CONTRACT])
    assert result.returncode == 0, result.stdout
    report = _json(result.stdout, "{")
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, report["problems"]


def test_spectral_oas_ruleset_passes_without_warnings(tmp_path: Path) -> None:
    ruleset = tmp_path / ".spectral.yaml"
    ruleset.write_text(SPECTRAL_RULESET)
    result = run([tool("spectral"), "lint", "--ruleset", ruleset, "--format", "json",
                  "--fail-severity", "hint", CONTRACT])  # fmt: skip
    problems = _json(result.stdout, "[")
    assert problems == [], problems
    assert result.returncode == 0, result.stdout


# Base64 images are the one input a schema cannot describe: a pattern says "base64", not "a
# JPEG of 360 to 2000 pixels". A schema-driven generator draws base64 that decodes to no image,
# which the fake refuses (as the API does) with rule `format`, `dimensions`, `transparency` or
# `size` on `image` or `last_frame` (named in the body with explain_errors on). That is the only
# rejection allowed below.
IMAGE_CONTENT = re.compile(
    r'"field":"(image|last_frame)","rule":"(format|dimensions|transparency|size)"'
)


def test_plain_schemathesis_with_positive_data_finds_no_other_failure(tmp_path: Path) -> None:
    app = create_app(Settings(seed=3, api_keys=(KEY,), explain_errors=True))
    with served(app) as url:
        # In a directory of its own: schemathesis keeps a cache of failures where it runs,
        # and would replay them in the next run.
        result = run([tool("schemathesis"), "run", CONTRACT, "--url", url, "--mode", "positive",
                      "-H", f"Authorization: Bearer {KEY}", "--seed", "2026",
                      "--max-examples", "60", "--phases", "examples,coverage,fuzzing,stateful",
                      "--no-color"], cwd=tmp_path)  # fmt: skip
    output = result.stdout
    failures = re.findall(r"^- (ST\d+|[A-Z][^\n]*)$", output, re.MULTILINE)
    bodies = re.findall(r"^\[(\d{3})\][^\n]*\n\n\s+`([^\n]*)`", output, re.MULTILINE)
    unexplained = [
        (status, text)
        for status, text in bodies
        if not (status == "400" and IMAGE_CONTENT.search(text))
    ]
    assert "Loaded specification" in output, output
    assert "Test cases:" in output, output  # the run ended with its summary
    assert "ERRORS" not in output, output  # no operation or check crashed
    assert set(failures) <= {"ST202 Schema-valid request rejected"}, output
    assert unexplained == [], output
    assert result.returncode in (0, 1), output
