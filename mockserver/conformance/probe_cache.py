"""The rule probes' bodies, kept on disk from one run to the next.

Finding the minimal body that breaks each request rule costs hypothesis about 0.8 s of CPU per
run (two of the bodies carry a 14 MB image). The bodies depend only on the strategies, the
contract and the libraries that draw and encode them, so a run keeps them in the user's cache
directory (``$XDG_CACHE_HOME/wan-mock/contract/``, beside ``serve``'s videos), in a gzipped JSON
file named by a digest of all of those, and the next run reads them instead of making them again.
A missing, damaged or unwritable cache costs only the time to make the bodies; a change to any
input gives another name, so a stale body is never read.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import hypothesis
import PIL

from mockserver import __about__
from mockserver.domain import contract, images
from mockserver.launch import user_cache_dir
from mockserver.resources import contract_path
from mockserver.testing import strategies

# What the bodies are made from: the code that draws them and the contract it reads.
_SOURCES = (
    Path(__file__).with_name("probes.py"),
    *(Path(str(module.__file__)) for module in (strategies, images, contract)),
)


def fingerprint() -> str:
    """A digest of everything the bodies depend on."""
    digest = hashlib.sha256()
    versions = (__about__.__version__, hypothesis.__version__, PIL.__version__, sys.version)
    digest.update(repr(versions).encode())
    for source in _SOURCES:
        digest.update(source.read_bytes())
    digest.update(contract_path().read_bytes())
    return digest.hexdigest()[:32]


def default_directory(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where runs keep the bodies: ``contract`` in wan-mock's user cache directory (None
    without a home directory)."""
    base = user_cache_dir(environ)
    return None if base is None else Path(base) / "contract"


class BodyCache:
    """Bodies by probe key: read from ``directory`` when a run before made them, else made
    here (and written back by :meth:`save`). ``directory`` None: nothing is kept."""

    def __init__(self, directory: Path | None) -> None:
        self.path = None if directory is None else directory / f"probes-{fingerprint()}.json.gz"
        self._bodies = self._read()
        self._made = False

    def body(self, key: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The body for ``key``: the stored one, or ``make()``'s (then stored)."""
        found = self._bodies.get(key)
        if found is None:
            found = self._bodies[key] = make()
            self._made = True
        return found

    def save(self) -> None:
        """Write the bodies down if any was made here (whole or not at all; errors ignored)."""
        if self.path is None or not self._made:
            return
        data = gzip.compress(json.dumps(self._bodies).encode(), compresslevel=1, mtime=0)
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, partial = tempfile.mkstemp(dir=self.path.parent, prefix=".probes-")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                os.replace(partial, self.path)  # several runs at once: the last one wins
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)
        self._made = False

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None:
            return {}
        try:
            stored = json.loads(gzip.decompress(self.path.read_bytes()))
        except (OSError, EOFError, zlib.error, ValueError):  # missing, cut short, damaged
            return {}
        if not isinstance(stored, dict):
            return {}
        return {k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, dict)}
