"""Reports on disk: ``report.json`` (the record ``drift`` reads back), ``report.md`` for
people, ``junit.xml`` for CI systems (one test case per check, valid against the common
``junit-10.xsd``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mockserver.conformance.results import Report, dump

MARK = {"pass": "pass", "fail": "**FAIL**", "skip": "skip"}
FAILURE_TYPE = "ContractViolation"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def summary(report: Report) -> str:
    """One line: the verdicts, the rules not exercised and what was spent."""
    counts, budget = report.counts(), report.budget
    unexercised = report.rules_not_exercised()
    text = (
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped; "
        f"{len(unexercised)} of {len(report.rules)} rules not exercised; "
        f"{budget.creates} creates sent that a correct server could accept (cap "
        f"{budget.max_creates}), {budget.accepted_creates} answered 2xx"
    )
    if budget.unplanned_creates:
        text += (
            f", and {budget.unplanned_creates} creates meant to be refused were answered 2xx "
            "(each may be billed)"
        )
    return text + f"; {budget.requests} requests"


def markdown(report: Report) -> str:
    kind = "live API" if report.live else "wan-mock fake"
    lines = [f"# Contract run against {report.target}", ""]
    if report.aborted:
        lines += [f"**Aborted**: {report.aborted}. What follows is what was seen before.", ""]
    lines += [
        f"Target: {kind}. Started {report.started_at}, took {report.seconds:.1f} s.",
        "",
        summary(report) + ".",
        "",
    ]
    lines += [f"Notice: {n}" for n in _unique(report.notices)]
    lines += [f"Kept back: {k}" for k in _unique(report.budget.kept_back)]
    if report.notices or report.budget.kept_back:
        lines.append("")
    lines += ["| Check | Result | Passed | Failed | Notes |", "|---|---|---|---|---|"]
    for check in report.checks:
        notes = "; ".join(_unique(check.reasons)) if check.outcome != "pass" else check.description
        lines.append(
            f"| `{check.name}` | {MARK[check.outcome]} | {check.passed} | {check.failed} "
            f"| {_cell(notes)} |"
        )
    failures = [c for c in report.checks if c.outcome == "fail" and c.curls]
    if failures:
        lines += ["", "## Failing requests", "", "The key is shown as `***`.", ""]
        for check in failures:
            lines += [f"### `{check.name}`", "", "```bash", *_unique(check.curls), "```", ""]
    missing = report.rules_not_exercised()
    if missing:
        lines += ["", "## Rules not exercised", ""]
        lines += [f"- `{key}`" for key in missing]
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
        ("failed task error at", ", ".join(seen.error_placement) or "no failed task seen"),
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
    errors = 1 if report.aborted else 0
    suite = ET.Element(
        "testsuite",
        name="wan-mock contract",
        tests=str(len(report.checks) + errors),
        failures=str(counts["fail"]),
        errors=str(errors),
        skipped=str(counts["skip"]),
        time=f"{report.seconds:.3f}",
        timestamp=report.started_at[:19],  # the schema's xs:dateTime without a zone
    )
    ET.SubElement(
        ET.SubElement(suite, "properties"), "property", name="target", value=report.target
    )
    if report.aborted:
        case = ET.SubElement(suite, "testcase", classname="contract", name="run", time="0.000")
        error = ET.SubElement(case, "error", message=report.aborted, type="RunAborted")
        error.text = report.aborted
    for check in report.checks:
        case = ET.SubElement(
            suite, "testcase", classname="contract", name=check.name, time=f"{check.seconds:.3f}"
        )
        if check.outcome == "fail":
            failure = ET.SubElement(case, "failure", message=check.description, type=FAILURE_TYPE)
            failure.text = "\n".join(_unique(check.reasons) + _unique(check.curls))
        elif check.outcome == "skip":
            ET.SubElement(case, "skipped", message="; ".join(_unique(check.reasons)))
    return junit_document(suite)


def junit_document(suite: ET.Element) -> str:
    """A JUnit XML document holding one test suite, with the totals on its root."""
    root = ET.Element("testsuites", name=suite.get("name", ""))
    for total in ("tests", "failures", "errors"):
        root.set(total, suite.get(total, "0"))
    root.set("time", suite.get("time", "0.000"))
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
