"""The tools integrators feed the contract: where they are, and how the tests run them.

``openapi-python-client`` comes with the test extra (pip); openapi-typescript, TypeScript's
``tsc``, Redocly's and Stoplight Spectral's command lines come from npm into ``.tools/``
(``./scripts/test`` installs the pinned versions). A test that needs a missing tool skips,
except under CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "contracts" / "openapi.yaml"
NODE_BIN = ROOT / ".tools" / "node_modules" / ".bin"
# No telemetry, update checks or colour: the tools must stay offline and their output parseable.
QUIET = {
    "REDOCLY_TELEMETRY": "off",
    "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
    "DO_NOT_TRACK": "1",
}
TIMEOUT = 300.0  # seconds for one tool run on a loaded two-core machine


def tool(name: str) -> Path:
    """The installed command ``name`` (the venv's scripts first, then ``.tools``); skips the
    test when it is missing, or fails it under CI."""
    for folder in (Path(sys.executable).parent, NODE_BIN):
        path = folder / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return Path(found)
    message = f"{name} is not installed (./scripts/test installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(argv: list[str | Path], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a tool to its end and returns what it said (stdout and stderr together)."""
    return subprocess.run(
        [str(part) for part in argv],
        cwd=cwd,
        env={**os.environ, **QUIET},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
