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
    for part in spec.split(","):
        start, dash, end = part.strip().partition("-")
        if not dash or not (start or end):
            raise _malformed(header)
        first, last = _number(start, header), _number(end, header)
        if first is not None and last is not None and first > last:
            raise _malformed(header)
        # Every range must hit the file, as the file response demands (not just one of them).
        if (first is not None and first >= size) or (first is None and last == 0):
            raise RangeNotSatisfiable(size)


# Longer offsets are no byte position at all (and more than the file response can parse).
_MAX_DIGITS = 19


def _number(text: str, header: str) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS:
        raise _malformed(header)
    return int(text)


def _malformed(header: str) -> InvalidRequest:
    shown = header if len(header) <= 60 else header[:60] + "..."
    return InvalidRequest.single(
        "Range", "format", f"Range: must be bytes=<start>-<end>[, ...], got {shown!r}"
    )
