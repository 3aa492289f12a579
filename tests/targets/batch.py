"""Every contract run a test session needs, started together in the background.

A run of ``wan-mock contract run`` against a target the project did not write spends most of its
minute asleep (the pace a billed target gets: a quarter second between requests, five between
polls), so the runs overlap well. The session starts them as it begins, in waves of AT_ONCE, from
a process of their own (``python -m tests.targets DIR JOB...``, which gives each run a
process too), and carries on with the other tests meanwhile. Each run is still one ``wan-mock``
subprocess behind its own counting proxy, timed from the outside, as when it ran alone; its
result lands in ``DIR/<job>.json`` and the test that asked for it waits for that file
(tests/conftest.py: the ``target_run`` marker and fixture).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
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
DEADLINE = "deadline"  # when the batch must be over (time.time()), written before it starts
SLACK = 120.0  # seconds beyond the runs' own bounds: Prism's start (60 s), a busy machine
# Runs going at once: each needs a few seconds of CPU (most of it at its start), so sixteen
# starting together on two busy cores would eat into their own time limit; in waves of this
# many, the slowest first, the batch still ends within about two runs' time.
AT_ONCE = int(os.environ.get("WAN_MOCK_TARGET_RUNS_AT_ONCE", "8"))
SLOWEST = ("prism:", "fake:stuck-pending")  # a minute or more (Prism's timeout, the kill)


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
    waves = math.ceil(len(jobs) / max(1, AT_ONCE))
    _write(directory / DEADLINE, str(time.time() + waves * KILL_AFTER + SLACK))
    args = [json.dumps(job.argv()) for job in jobs]
    with (directory / "batch.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.targets", str(directory), *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the session reaches it through terminate()
        )


def deadline(directory: Path) -> float:
    """When the batch in ``directory`` must be over; waits a little for another process that
    is launching it to say."""
    path, given_up = directory / DEADLINE, time.time() + SLACK
    while not path.is_file():
        if time.time() > given_up:
            raise RuntimeError(f"no batch of contract runs was launched in {directory}")
        time.sleep(0.1)
    return float(path.read_text())


def result(directory: Path, job: Job) -> Run:
    """The result of ``job``, waiting for it; raises when the batch failed it or ended or ran out
    of time without it."""
    done, failed = directory / f"{job.name}.json", directory / f"{job.name}.error"
    ends = deadline(directory)
    while True:
        if done.is_file():
            return Run(**json.loads(done.read_text()))
        if failed.is_file():
            raise RuntimeError(f"the run {job.name} broke:\n{failed.read_text()}")
        if (directory / FINISHED).is_file() or time.time() > ends:
            log = (directory / "batch.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the batch gave no result for {job.name}; its log ends:\n{log}")
        time.sleep(0.2)


def _write(path: Path, text: str) -> None:
    """Writes ``path`` whole or not at all: a waiting test never reads half a result."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def run_one(directory: Path, job: Job) -> None:
    """Runs ``job`` in this process and writes down its result or what broke it."""
    try:
        run = job.run(directory / job.name)
    except BaseException:
        _write(directory / f"{job.name}.error", traceback.format_exc())
        raise
    _write(directory / f"{job.name}.json", json.dumps(dataclasses.asdict(run)))


# Each run's process is forked from a server that has imported this module (and so the targets,
# the proxy and uvicorn) once: sixteen fresh interpreters importing them cost about 6 s of CPU.
_PROCESSES = multiprocessing.get_context("forkserver")
_PROCESSES.set_forkserver_preload([__name__])  # run as `python -m tests.targets`


def run_apart(directory: Path, job: Job) -> None:
    """Runs ``job`` in a process of its own (its target and proxy have a core's worth of Python
    to themselves, as when the run was alone in a test); a process that dies without a word is
    written down as the job's error."""
    process = _PROCESSES.Process(target=run_one, args=(directory, job), name=job.name)
    process.start()
    process.join()
    written = [directory / f"{job.name}.{kind}" for kind in ("json", "error")]
    if not any(path.is_file() for path in written):
        _write(
            directory / f"{job.name}.error",
            f"the run's process ended with {process.exitcode} (its output: batch.log)",
        )


def main(argv: list[str]) -> int:
    directory, jobs = Path(argv[0]), [Job.parse(arg) for arg in argv[1:]]
    jobs.sort(key=lambda job: not job.target.startswith(SLOWEST))
    try:
        with ThreadPoolExecutor(max_workers=max(1, AT_ONCE)) as pool:
            for future in [pool.submit(run_apart, directory, job) for job in jobs]:
                future.result()
    finally:
        _write(directory / FINISHED, "")
    return 0
