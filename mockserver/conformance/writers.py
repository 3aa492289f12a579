"""Reports on disk: ``report.json`` (the record ``drift`` reads back), ``report.md`` for
people, ``junit.xml`` for CI systems (one test case per check)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mockserver.conformance.results import Report, dump

MARK = {"pass": "pass", "fail": "**FAIL**", "skip": "skip"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    counts, budget = report.counts(), report.budget
    kind = "live API" if report.live else "wan-mock fake"
    lines = [
        f"# Contract run against {report.target}",
        "",
        f"Target: {kind}. Started {report.started_at}, took {report.seconds:.1f} s. "
        f"Checks: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped.",
        "",
        f"Budget: {budget.creates} tasks created of {budget.max_creates} allowed"
        + (
            f", plus {budget.unplanned_creates} invalid requests accepted"
            if budget.unplanned_creates
            else ""
        )
        + f"; {budget.requests} requests in all.",
        "",
        "| Check | Result | Passed | Failed | Notes |",
        "|---|---|---|---|---|",
    ]
    for check in report.checks:
        notes = "; ".join(check.reasons) if check.outcome != "pass" else check.description
        lines.append(
            f"| `{check.name}` | {MARK[check.outcome]} | {check.passed} | {check.failed} "
            f"| {_cell(notes)} |"
        )
    lines += ["", "## Observed", "", "| What | Seen |", "|---|---|"]
    for name, value in observation_rows(report):
        lines.append(f"| {name} | {_cell(value)} |")
    return "\n".join(lines) + "\n"


def observation_rows(report: Report) -> list[tuple[str, str]]:
    seen = report.observations
    rows = [
        ("status spellings", ", ".join(seen.status_spellings) or "none"),
        ("status paths", "; ".join(" > ".join(p) for p in seen.status_sequences) or "none"),
        ("create status codes", ", ".join(map(str, seen.create_status_codes)) or "none"),
        ("timestamp formats", ", ".join(seen.timestamp_formats) or "none"),
        ("failed task error at", ", ".join(seen.error_placement) or "none"),
        ("response headers", ", ".join(seen.response_headers) or "none"),
        ("content types", ", ".join(seen.content_types) or "none"),
        ("Retry-After", ", ".join(seen.retry_after) or "none seen"),
    ]
    for status, shapes in sorted(seen.error_shapes.items()):
        rows.append((f"error body of {status}", " or ".join(shapes)))
    for status, seconds in sorted(seen.task_seconds.items()):
        rows.append((f"seconds to {status}", timing(seconds)))
    return rows


def timing(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    ordered = sorted(seconds)
    median = ordered[len(ordered) // 2]
    tasks = f"{len(ordered)} task" + ("s" if len(ordered) > 1 else "")
    return f"{tasks}, min {ordered[0]:.1f}, median {median:.1f}, max {ordered[-1]:.1f}"


def junit(report: Report) -> str:
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name="wan-mock contract",
        tests=str(len(report.checks)),
        failures=str(counts["fail"]),
        skipped=str(counts["skip"]),
        time=f"{report.seconds:.3f}",
        timestamp=report.started_at,
    )
    ET.SubElement(
        ET.SubElement(suite, "properties"), "property", name="target", value=report.target
    )
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname="contract", name=check.name)
        if check.outcome == "fail":
            failure = ET.SubElement(case, "failure", message=check.description)
            failure.text = "\n".join(check.reasons)
        elif check.outcome == "skip":
            ET.SubElement(case, "skipped", message="; ".join(check.reasons))
    return junit_document(suite)


def junit_document(suite: ET.Element) -> str:
    """A JUnit XML document holding one test suite."""
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(report: Report, directory: Path) -> list[Path]:
    """Write the three reports into ``directory`` (made if missing); returns their paths."""
    return write_files(
        directory,
        {
            "report.json": dump(report),
            "report.md": markdown(report).encode(),
            "junit.xml": junit(report).encode(),
        },
    )


def write_files(directory: Path, files: dict[str, bytes]) -> list[Path]:
    """Write each named content into ``directory`` (made if missing); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return [directory / name for name in files]
