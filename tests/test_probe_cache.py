"""The rule probes' bodies kept on disk: the next run reads what a run made, the same bodies;
a damaged, unwritable or stale cache only costs making them again."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from mockserver.conformance import probe_cache
from mockserver.conformance.probe_cache import BodyCache, default_directory, fingerprint
from mockserver.conformance.probes import rule_probes


def _never() -> dict[str, Any]:
    raise AssertionError("made again, though a run before kept it")


def test_a_run_reads_the_very_bodies_a_run_before_made(tmp_path: Path) -> None:
    fresh = {key: make() for key, make in rule_probes()}
    first = BodyCache(tmp_path)
    assert {key: make() for key, make in rule_probes(first)} == fresh
    first.save()
    assert first.path is not None
    assert first.path.is_file()
    assert first.path.stat().st_size < 1_000_000  # the 14 MB images are mostly padding
    second = BodyCache(tmp_path)
    assert {key: second.body(key, _never) for key in fresh} == fresh


def test_nothing_is_written_when_nothing_was_made(tmp_path: Path) -> None:
    cache = BodyCache(tmp_path)
    cache.save()
    assert list(tmp_path.iterdir()) == []
    cache.body("k", lambda: {"prompt": ""})
    cache.save()
    assert [p.name for p in tmp_path.iterdir()] == [f"probes-{fingerprint()}.json.gz"]


@pytest.mark.parametrize(
    "content",
    [b"", b"not gzip", gzip.compress(b"{not json"), gzip.compress(b"[1, 2]")[:-3],
     gzip.compress(b'["a list"]'), gzip.compress(b'{"k": "not a body"}')],
    ids=["empty", "not gzip", "not JSON", "cut short", "not an object", "not a body"],
)  # fmt: skip
def test_a_damaged_cache_is_made_again_and_mended(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / f"probes-{fingerprint()}.json.gz"
    path.write_bytes(content)
    cache = BodyCache(tmp_path)
    assert cache.body("k", lambda: {"prompt": ""}) == {"prompt": ""}
    cache.save()
    assert BodyCache(tmp_path).body("k", _never) == {"prompt": ""}


def test_an_unwritable_place_keeps_nothing_and_breaks_nothing(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory would be")
    cache = BodyCache(blocked / "contract")
    assert cache.body("k", lambda: {"prompt": ""}) == {"prompt": ""}
    cache.save()  # no error
    none = BodyCache(None)
    assert none.body("k", lambda: {"prompt": "x"}) == {"prompt": "x"}
    none.save()


def test_a_change_to_what_the_bodies_are_made_from_names_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "strategies.py"
    source.write_text("A = 1\n")
    monkeypatch.setattr(probe_cache, "_SOURCES", (source,))
    before = fingerprint()
    source.write_text("A = 2\n")
    assert fingerprint() != before


def test_the_place_is_in_the_users_cache_directory() -> None:
    assert default_directory({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/wan-mock/contract")
    assert default_directory({"HOME": "/h"}) == Path("/h/.cache/wan-mock/contract")
    assert default_directory({}) is None
