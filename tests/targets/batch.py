"""Every contract run a test session needs, started at once in one background process.

A run of ``wan-mock contract run`` against a target the project did not write spends most of its
minute asleep (the pace a billed target gets: a quarter second between requests, five between
polls), so the runs overlap well: the session starts them all together when it begins, in a
process of their own (``python -m tests.targets.batch DIR JOB...``), and carries on with the
other tests meanwhile. Each run is still one ``wan-mock`` subprocess behind its own counting
proxy and timed from the outside, exactly as when it ran alone; each result lands in
``DIR/<job>.json`` and the test that asked for it waits for that file (tests/conftest.py:
the ``target_run`` marker and fixture).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.targets.fake import Bug, create_target
from tests.targets.prism import prism_mock
from tests.targets.runs import KILL_AFTER, Run, run_through_proxy
from tests.targets.serving import served

ROOT = Path(__file__).resolve().parents[2]
FINISHED = "finished"  # written by the batch when every run has a result (or an error)
# How long a test waits for its result, from the start of the batch: every run starts at once,
# so this is one run's bound plus the slowest start (Prism: 60 s) plus slack for a busy machine.
WAIT = 2 * KILL_AFTER + 120


@dataclass(frozen=True)
class Job:
    """One contract run: a target (``fake:<bug>``, ``prism:static`` or ``prism:dynamic``) and
    the extra options of ``wan-mock contract run``."""

    target: str
    options: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", " ".join((self.target, *self.options))).strip("-")

    def argv(self) -> list[str]:
        return [self.target, *self.options]

    @classmethod
    def parse(cls, arg: str) -> Job:
        target, *options = json.loads(arg)
        return cls(target, tuple(options))

    def run(self, report_dir: Path) -> Run:
        """Runs the job: its target served for the length of one run through a counting proxy."""
        kind, _, variant = self.target.partition(":")
        if kind == "fake":
            with served(create_target(Bug(variant))) as base_url:
                return run_through_proxy(base_url, report_dir, *self.options)
        if kind == "prism" and variant in ("static", "dynamic"):
            with prism_mock(dynamic=variant == "dynamic") as base_url:
                return run_through_proxy(base_url, report_dir, *self.options)
        raise ValueError(f"unknown target {self.target!r}")


def launch(directory: Path, jobs: list[Job]) -> subprocess.Popen[bytes]:
    """Starts the batch of ``jobs`` in the background; its output goes to ``DIR/batch.log``."""
    directory.mkdir(parents=True, exist_ok=True)
    args = [json.dumps(job.argv()) for job in jobs]
    with (directory / "batch.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.targets.batch", str(directory), *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the session reaches it through terminate()
        )


def result(directory: Path, job: Job, started: float) -> Run:
    """The result of ``job``, waiting for it; raises when the batch failed it or ended or ran out
    of time without it (``started`` is when the batch was launched, ``time.time()``)."""
    done, failed = directory / f"{job.name}.json", directory / f"{job.name}.error"
    while True:
        if done.is_file():
            return Run(**json.loads(done.read_text()))
        if failed.is_file():
            raise RuntimeError(f"the run {job.name} broke:\n{failed.read_text()}")
        if (directory / FINISHED).is_file() or time.time() > started + WAIT:
            log = (directory / "batch.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the batch gave no result for {job.name}; its log ends:\n{log}")
        time.sleep(0.2)


def _write(path: Path, text: str) -> None:
    """Writes ``path`` whole or not at all: a waiting test never reads half a result."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def run_one(directory: Path, job: Job) -> None:
    try:
        run = job.run(directory / job.name)
    except BaseException:
        _write(directory / f"{job.name}.error", traceback.format_exc())
        raise
    _write(directory / f"{job.name}.json", json.dumps(dataclasses.asdict(run)))


def main(argv: list[str]) -> int:
    directory, jobs = Path(argv[0]), [Job.parse(arg) for arg in argv[1:]]
    try:
        # All at once: each run mostly sleeps on its pacing.
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            for future in [pool.submit(run_one, directory, job) for job in jobs]:
                future.exception()  # already written down as DIR/<job>.error
    finally:
        _write(directory / FINISHED, "")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
