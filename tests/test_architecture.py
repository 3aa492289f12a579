"""The layers of ARCHITECTURE.md, checked.

The import rules are import-linter contracts in pyproject.toml (``[tool.importlinter]``); these
tests run ``lint-imports`` on the package, and on copies of it broken on purpose to show each
contract fails. What import-linter cannot state is checked here by hand: the cli's import of
the contract suite stays deferred, and the domain reads no wall clock or global random.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mockserver"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> tuple[bool, str]:
    """Runs ``lint-imports`` in ``root``, on the ``mockserver`` there and the contracts of the
    ``pyproject.toml`` there; says whether every contract was kept, and returns the report."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (pip install -e '.[test]')")
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,  # lint-imports puts its working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode in (0, 1), report  # 1: a contract is broken; anything else: it broke
    return done.returncode == 0, report


def test_the_package_keeps_every_import_contract() -> None:
    kept, report = lint_imports(ROOT)
    assert kept, report
    assert "0 broken" in report, report


# Each case breaks one rule in a copy of the package: (file, text appended, what must be named).
# Most imports sit inside a function, so a deferred import is shown to count as much as any.
VIOLATIONS = {
    "domain imports the server": (
        "domain/tasks.py",
        "def later() -> None:\n    from mockserver.server import app\n",
        "mockserver.domain.tasks -> mockserver.server.app",
    ),
    "server reaches up to the contract suite": (
        "server/control.py",
        "def later() -> None:\n    from mockserver.conformance import runner\n",
        "mockserver.server.control -> mockserver.conformance.runner",
    ),
    "control imports testing": (
        "control.py",
        "def later() -> None:\n    import mockserver.testing.api\n",
        "mockserver.control -> mockserver.testing.api",
    ),
    "media imports httpx": ("media/shape.py", "import httpx\n", "mockserver.media.shape -> httpx"),
    "domain imports starlette": (
        "domain/clock.py",
        "def later() -> None:\n    import starlette.responses\n",
        "mockserver.domain.clock -> starlette",
    ),
    "a layer imports the facade": (
        "testing/api.py",
        "def later() -> None:\n    import mockserver\n",
        "mockserver.testing.api -> mockserver (",
    ),
    "the facade loads the contract suite": (
        "__init__.py",
        "from mockserver.conformance import results\n",
        "mockserver -> mockserver.conformance.results",
    ),
    "a new top-level module has no layer": ("extra.py", "X = 1\n", "- mockserver.extra"),
}


@pytest.mark.parametrize(("where", "added", "named"), VIOLATIONS.values(), ids=VIOLATIONS.keys())
def test_a_broken_rule_is_caught(tmp_path: Path, where: str, added: str, named: str) -> None:
    shutil.copytree(PACKAGE, tmp_path / "mockserver", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    broken = tmp_path / "mockserver" / where
    original = broken.read_text() if broken.exists() else ""
    broken.write_text(original + "\n\n" + added)

    kept, report = lint_imports(tmp_path)

    assert not kept, report
    assert named in report, report


def module_level_imports(source: str) -> list[str]:
    """The modules imported by a module's own top-level statements (not inside a function)."""
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_cli_loads_the_contract_suite_only_when_asked() -> None:
    # import-linter ignores the cli's one upward import (see [tool.importlinter]); that it stays
    # inside cli.main, so that `wan-mock serve` never pays for schemathesis, is checked here.
    on_import = module_level_imports((PACKAGE / "cli.py").read_text())
    assert not [name for name in on_import if name.startswith("mockserver.conformance")]
    # ...and the check sees the difference between the two places.
    deferred = "def main() -> None:\n    from mockserver.conformance.command import main\n"
    eager = "from mockserver.conformance.command import main\n"
    assert module_level_imports(deferred) == []
    assert module_level_imports(eager) == ["mockserver.conformance.command"]


def test_domain_reads_no_wall_clock_or_global_random() -> None:
    for path in (PACKAGE / "domain").glob("*.py"):
        source = path.read_text()
        if path.name == "clock.py":  # the injected clock implementations live here
            continue
        for banned in ("time.time(", "datetime.now(", "random.random(", "random.uniform("):
            assert banned not in source, f"{path.name} calls {banned}"
