"""A download's ``Range`` header: checked (every refusal is the fake's JSON error, naming the
header and the rule) and turned into the byte ranges to send, as Starlette's file response
reads it: overlapping ranges merged, more than ``MAX_RANGES`` answered with the whole file.
"""

from __future__ import annotations

from mockserver.domain.errors import InvalidRequest, RangeNotSatisfiable

MAX_RANGES = 100


def byte_ranges(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """The (start, end) byte ranges ``header`` asks for (end exclusive), in order and not
    overlapping, or None for the whole file. Raises for a malformed ``Range`` (400) or one
    no byte of the file satisfies (416)."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise _malformed(header)
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        start, dash, end = part.strip().partition("-")
        if not dash or not (start or end):
            raise _malformed(header)
        first, last = _number(start, header), _number(end, header)
        if first is not None and last is not None and first > last:
            raise _malformed(header)
        # Every range must hit the file (not just one of them).
        if (first is not None and first >= size) or (first is None and last == 0):
            raise RangeNotSatisfiable(size)
        if first is None:  # the last ``last`` bytes
            assert last is not None
            ranges.append((max(size - last, 0), size))
        else:
            ranges.append((first, size if last is None else min(last + 1, size)))
    if len(ranges) > MAX_RANGES:
        return None
    return _merged(ranges)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(ranges) == 1:
        return ranges
    merged = [min(ranges)]
    for start, end in sorted(ranges)[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


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
