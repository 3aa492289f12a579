"""The layers of ARCHITECTURE.md, checked: domain <- server <- cli (and testing, later).

Every import of a ``mockserver`` module, anywhere in a module (including deferred imports
inside functions), must point at the same layer or a lower one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mockserver"
# Lower number = lower layer. Modules not listed belong to the layer of their folder.
LAYERS = {
    "resources": 0,
    "__about__": 0,
    "domain": 1,
    "media": 2,
    "server": 3,
    "cli": 4,
    "control": 4,
    "testing": 5,
    "__main__": 4,
}
TOP = {"__init__": 6}  # the public facade may re-export from every layer
FORBIDDEN_IN_DOMAIN = ("starlette", "uvicorn", "httpx", "respx")


# The contract suite is an HTTP client of any base URL: above testing (whose strategies it
# uses), below the facade. The one upward import allowed is the CLI handing `wan-mock contract`
# over to it, deferred so that `wan-mock serve` never loads it.
LAYERS["conformance"] = LAYERS["testing"] + 1
TOP["__init__"] = max(TOP["__init__"], LAYERS["conformance"] + 1)
DEFERRED_UP = {("mockserver.cli", "mockserver.conformance.command")}


def layer_of(module: str) -> int:
    parts = module.split(".")
    assert parts[0] == "mockserver"
    if len(parts) == 1:
        return TOP["__init__"]
    return LAYERS[parts[1]]


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(relative.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        found.append((name, path))
    return found


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_point_down_the_layers(module: str, path: Path) -> None:
    own = layer_of(module)
    for imported in imports(path):
        if imported.split(".")[0] != "mockserver":
            if own <= LAYERS["media"]:
                assert not imported.startswith(FORBIDDEN_IN_DOMAIN), (
                    f"{module} (domain or media) imports {imported}"
                )
            continue
        if (module, imported) in DEFERRED_UP:
            continue
        assert layer_of(imported) <= own, f"{module} imports the higher layer {imported}"


def test_only_the_cli_reaches_the_contract_suite_and_only_when_asked() -> None:
    for module, path in modules():
        if module.startswith("mockserver.conformance"):
            continue
        tree = ast.parse(path.read_text())
        top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        for imported in imports(path):
            if imported.startswith("mockserver.conformance"):
                assert module == "mockserver.cli", f"{module} imports {imported}"
        for node in top_level:  # the cli's own import of it is inside main()
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = [node.module or ""]
            assert not any(n.startswith("mockserver.conformance") for n in names), module


def test_domain_reads_no_wall_clock_or_global_random() -> None:
    for path in (PACKAGE / "domain").glob("*.py"):
        source = path.read_text()
        if path.name == "clock.py":  # the injected clock implementations live here
            continue
        for banned in ("time.time(", "datetime.now(", "random.random(", "random.uniform("):
            assert banned not in source, f"{path.name} calls {banned}"
