"""Progress of a long run: one live line on a terminal, plain lines in CI and in logs.

Dependency-free on purpose: a carriage return rewrites the line on a TTY; anywhere else (a
pipe, a file, or when ``CI`` is set) each phase gets one line when it starts and one when it
ends, plus a line of where it stands at least every ``HEARTBEAT`` seconds while it goes on, so
a long wait is never silent in a CI log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

HEARTBEAT = 30.0  # seconds: the longest a plain log stays silent during a phase


class Progress:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        env: Mapping[str, str] | None = None,
        heartbeat: float = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        env = env if env is not None else {}
        self.live = bool(getattr(self.stream, "isatty", lambda: False)()) and not env.get("CI")
        self.heartbeat, self._clock = heartbeat, clock
        self._phase = ""
        self._started = self._said = clock()
        self._width = 0
        self.redact: Callable[[str], str] = lambda text: text

    def phase(self, name: str) -> None:
        self._end_line()
        self._phase, self._started = name, self._clock()
        self._said = self._started
        if self.live:
            self._rewrite(f"{name} ...")
        else:
            self._write(f"{name} ...\n")

    def notice(self, text: str) -> None:
        """A line that must be seen (a setting raised, a run aborted), on any stream."""
        self._end_line()
        self._write(f"notice: {text}\n")

    def step(self, done: int, total: int, note: str = "") -> None:
        if self.live:
            bar = "#" * (20 * done // max(total, 1))
            self._rewrite(f"{self._phase} [{bar:<20}] {done}/{total}")
            return
        now = self._clock()
        if now - self._said >= self.heartbeat:
            self._said = now
            took = now - self._started
            self._write(
                f"{self._phase}: {done}/{total} after {took:.0f} s"
                + (f"; {note}" if note else "")
                + "\n"
            )

    def finish(self, note: str = "") -> None:
        took = self._clock() - self._started
        line = f"{self._phase}: done in {took:.1f} s" + (f" ({note})" if note else "")
        if self.live:
            self._rewrite(line)
            self._end_line()
        else:
            self._write(line + "\n")

    def _rewrite(self, text: str) -> None:
        padding = " " * max(0, self._width - len(text))
        self._write(f"\r{text}{padding}")
        self._width = len(text)

    def _end_line(self) -> None:
        if self.live and self._width:
            self._write("\n")
            self._width = 0

    def _write(self, text: str) -> None:
        self.stream.write(self.redact(text))
        self.stream.flush()


class Silent(Progress):
    """No output at all (the pytest use, where the report is the result)."""

    def _write(self, text: str) -> None:
        pass
