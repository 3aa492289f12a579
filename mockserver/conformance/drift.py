"""Drift: where two targets (or two recorded runs) behave differently.

Only what the API says is compared (spellings, codes, shapes, headers, formats, check
outcomes); timings always differ a little, so they are shown side by side but never count as
drift. Something one side never saw (no failed task, no 429, a skipped check) is "not seen":
it is listed apart and is no difference, unlike something seen to be absent (a failed task
without an error). Two runs are comparable only when driven alike (the same pacing, no forced
outcomes on one side only): where they were not, the report says how. Each side's failed checks
are listed too: against the live API, those are the places where the real service departs from
the contract.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import msgspec

from mockserver.conformance.results import Report
from mockserver.conformance.writers import junit_document, timing, write_files


class Difference(msgspec.Struct, frozen=True):
    aspect: str
    a: str
    b: str


NOT_SEEN = "not seen"


class Drift(msgspec.Struct, kw_only=True):
    a: str
    b: str
    differences: list[Difference]
    not_seen: list[Difference] = msgspec.field(default_factory=list)  # seen on one side only
    driven_differently: list[Difference] = msgspec.field(default_factory=list)
    departures_a: list[str]  # checks that failed on A: where A departs from the contract
    departures_b: list[str]
    timings: dict[str, list[str]]  # terminal status -> [A, B]

    @property
    def same(self) -> bool:
        return not self.differences


def _text(values: list[Any]) -> str | None:
    """The values as text, or None when nothing was seen."""
    return ", ".join(map(str, values)) or None


def aspects(report: Report) -> dict[str, str | None]:
    """Every compared aspect of a run, as text; None where the run saw nothing to say."""
    seen = report.observations
    found: dict[str, str | None] = {
        "status spellings": _text(seen.status_spellings),
        "create status codes": _text(seen.create_status_codes),
        "timestamp formats": _text(seen.timestamp_formats),
        # "none" is a failed task seen without an error: absent, which is not "not seen".
        "failed task error at": _text(seen.error_placement),
        "response headers": _text(seen.response_headers),
        "content types": _text(seen.content_types),
        "identified as the fake": "yes" if seen.identified_as_fake else "no",
    }
    for status, shapes in seen.error_shapes.items():
        found[f"error body of {status}"] = " or ".join(shapes)
    for check in report.checks:
        found[f"check {check.name}"] = None if check.outcome == "skip" else check.outcome
    return found


def driving(report: Report) -> dict[str, str]:
    if report.driving is None:
        return {"how the run was driven": "not recorded (an older report)"}
    return {k: str(v) for k, v in msgspec.structs.asdict(report.driving).items()}


def compare(a: Report, b: Report) -> Drift:
    left, right = aspects(a), aspects(b)
    differences: list[Difference] = []
    not_seen: list[Difference] = []
    for name in sorted(left.keys() | right.keys()):
        x, y = left.get(name), right.get(name)
        if (x is None and y is None) or x == y:
            continue
        pair = Difference(name, x or NOT_SEEN, y or NOT_SEEN)
        (not_seen if x is None or y is None else differences).append(pair)
    how_a, how_b = driving(a), driving(b)
    driven = [
        Difference(k, how_a.get(k, NOT_SEEN), how_b.get(k, NOT_SEEN))
        for k in sorted(how_a.keys() | how_b.keys())
        if how_a.get(k) != how_b.get(k)
    ]
    statuses = sorted(a.observations.task_seconds.keys() | b.observations.task_seconds.keys())
    timings = {
        s: [timing(r.observations.task_seconds.get(s, [])) for r in (a, b)] for s in statuses
    }
    return Drift(
        a=a.target,
        b=b.target,
        differences=differences,
        not_seen=not_seen,
        driven_differently=driven,
        departures_a=[f"{c.name}: {'; '.join(c.reasons)}" for c in a.failures()],
        departures_b=[f"{c.name}: {'; '.join(c.reasons)}" for c in b.failures()],
        timings=timings,
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(drift: Drift) -> str:
    lines = [f"# Drift: A = {drift.a}, B = {drift.b}", ""]
    if drift.same:
        lines.append("No differences.")
    else:
        lines += [f"{len(drift.differences)} differences.", ""]
        lines += ["| Aspect | A | B |", "|---|---|---|"]
        lines += [f"| {d.aspect} | {_cell(d.a)} | {_cell(d.b)} |" for d in drift.differences]
    if drift.driven_differently:
        lines += ["", "## The two runs were driven differently", ""]
        lines += ["Differences above may come from this rather than from the targets.", ""]
        lines += ["| Setting | A | B |", "|---|---|---|"]
        lines += [f"| {d.aspect} | {d.a} | {d.b} |" for d in drift.driven_differently]
    if drift.not_seen:
        lines += ["", "## Seen on one side only (not compared)", ""]
        lines += ["| Aspect | A | B |", "|---|---|---|"]
        lines += [f"| {d.aspect} | {_cell(d.a)} | {_cell(d.b)} |" for d in drift.not_seen]
    for side, departures in (("A", drift.departures_a), ("B", drift.departures_b)):
        lines += ["", f"## Where {side} departs from the contract", ""]
        lines += [f"- {_cell(d)}" for d in departures] or ["Nowhere: every check passed."]
    if drift.timings:
        lines += ["", "## Task timings (seconds, not compared)", "", "| Status | A | B |"]
        lines += ["|---|---|---|"]
        lines += [f"| {s} | {a} | {b} |" for s, (a, b) in drift.timings.items()]
    return "\n".join(lines) + "\n"


def junit(drift: Drift) -> str:
    suite = ET.Element("testsuite", name="wan-mock drift", tests=str(len(drift.differences)))
    suite.set("failures", str(len(drift.differences)))
    suite.set("errors", "0")
    for difference in drift.differences:
        case = ET.SubElement(suite, "testcase", classname="drift", name=difference.aspect)
        failure = ET.SubElement(case, "failure", message=f"A and B differ: {difference.aspect}")
        failure.text = f"A: {difference.a}\nB: {difference.b}"
    if drift.same:
        ET.SubElement(suite, "testcase", classname="drift", name="no differences")
        suite.set("tests", "1")
    return junit_document(suite)


def write_drift(drift: Drift, directory: Path) -> list[Path]:
    return write_files(
        directory,
        {
            "drift.json": msgspec.json.format(msgspec.json.encode(drift), indent=2) + b"\n",
            "drift.md": markdown(drift).encode(),
            "drift.junit.xml": junit(drift).encode(),
        },
    )
