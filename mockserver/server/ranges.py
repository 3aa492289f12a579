"""Checking a download's ``Range`` header before the file response serves it.

Starlette's file response answers ranges itself, but its refusals are plain text or empty;
every refusal here is the fake's JSON error, naming the header and the rule.
"""

from __future__ import annotations

from mockserver.domain.errors import InvalidRequest, RangeNotSatisfiable


def check_range(header: str | None, size: int) -> None:
    """Raise for a malformed ``Range`` (400) or one no byte of the file satisfies (416)."""
    if header is None:
        return
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise _malformed(header)
    satisfiable = False
    for part in spec.split(","):
        start, dash, end = part.strip().partition("-")
        if not dash or not (start or end) or not (start + end).isascii():
            raise _malformed(header)
        if (start and not start.isdigit()) or (end and not end.isdigit()):
            raise _malformed(header)
        if start and end and int(start) > int(end):
            raise _malformed(header)
        if (start and int(start) < size) or (not start and int(end) > 0):
            satisfiable = True
    if not satisfiable:
        raise RangeNotSatisfiable(size)


def _malformed(header: str) -> InvalidRequest:
    shown = header if len(header) <= 60 else header[:60] + "..."
    return InvalidRequest.single(
        "Range", "format", f"Range: must be bytes=<start>-<end>[, ...], got {shown!r}"
    )
