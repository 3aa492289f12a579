"""The contract suite: checks any base URL (the fake or the live API) against the contract
and the task lifecycle, within a budget, and compares runs (drift).

Imported only by the CLI (lazily) and by tests: it pulls in schemathesis and hypothesis, which
``wan-mock serve`` must not pay for.
"""

from mockserver.conformance.drift import Drift, compare
from mockserver.conformance.plans import Plan, RunOptions, make_plan
from mockserver.conformance.results import CheckResult, Observations, Report
from mockserver.conformance.results import load as load_report
from mockserver.conformance.runner import run
from mockserver.conformance.writers import write_reports

__all__ = [
    "CheckResult",
    "Drift",
    "Observations",
    "Plan",
    "Report",
    "RunOptions",
    "compare",
    "load_report",
    "make_plan",
    "run",
    "write_reports",
]
