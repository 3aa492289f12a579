"""The fenced code blocks of README.md and docs/, each with the marker on the line above it.

A marker says how a block is checked: ``<!-- example: NAME -->`` (run by a test that names it),
``<!-- output: NAME -->`` (compared with the fake's real answer), ``<!-- config -->`` (loaded
as a config file), ``<!-- excerpt: PATH -->`` (found verbatim in PATH) or
``<!-- not run: REASON -->``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("example", "output", "excerpt", "not run", "config")

_MARKER = re.compile(r"<!-- (example|output|excerpt|not run): (.+?) -->|<!-- (config) -->")
_FENCE = re.compile(r"^\s*```(\S*)\s*$")
# A fence holding only this line shows the whole file (pymdownx.snippets, paths from the root).
_SNIPPET = re.compile(r'^--8<-- "([^":]+)"$')


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, from 1
    language: str
    kind: str | None  # one of KINDS, or None when the line above is no marker
    name: str  # the marker's value: a name, a path or a reason ("" for config)
    text: str  # as the reader sees it, an included file in place of its snippet line

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks_in(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{path.relative_to(ROOT)}:{index + 1}: the fence never closes"
        marker = _MARKER.fullmatch(lines[index - 1].strip()) if index else None
        kind = (marker.group(1) or marker.group(3)) if marker else None
        name = (marker.group(2) or "") if marker else ""
        body = lines[index + 1 : end]
        include = _SNIPPET.match(body[0].strip()) if len(body) == 1 else None
        text = (ROOT / include.group(1)).read_text() if include else "\n".join(body) + "\n"
        found.append(Block(path, index + 1, opening.group(1), kind, name, text))
        index = end + 1
    return found


@cache
def all_blocks() -> tuple[Block, ...]:
    """Every fenced block of the docs, in reading order."""
    return tuple(block for path in doc_files() for block in _blocks_in(path))


def find_block(marker: str) -> Block:
    """The one block marked ``<!-- marker -->``, e.g. ``find_block("example: quickstart")``."""
    kind, _, name = marker.partition(": ")
    found = [b for b in all_blocks() if b.kind == kind and b.name == name]
    assert len(found) == 1, f"{len(found)} doc blocks are marked {marker!r}: " + ", ".join(
        b.where for b in found
    )
    return found[0]


def doc_block(marker: str) -> str:
    """The text of the one block marked ``<!-- marker -->`` in README.md or docs/."""
    return find_block(marker).text
