"""The contract suite against the real MuleRouter API: an opt-in, never run by default.

Set ``WAN_MOCK_LIVE=1`` and ``MULEROUTER_API_KEY`` (and optionally ``MULEROUTER_BASE_URL``,
``WAN_MOCK_LIVE_REPORT`` for a directory to keep the reports in). The run is the free one: it
creates no task, so it costs nothing, and it fails where the live API departs from the contract.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockserver.conformance import RunOptions, run
from mockserver.conformance.writers import write_reports

LIVE = os.environ.get("WAN_MOCK_LIVE") == "1" and bool(os.environ.get("MULEROUTER_API_KEY"))


@pytest.mark.skipif(not LIVE, reason="opt-in: set WAN_MOCK_LIVE=1 and MULEROUTER_API_KEY")
def test_the_live_api_meets_the_contract_for_free(tmp_path: Path) -> None:
    base_url = os.environ.get("MULEROUTER_BASE_URL", "https://api.mulerouter.ai")
    report = run(RunOptions(base_url, os.environ["MULEROUTER_API_KEY"]))
    write_reports(report, Path(os.environ.get("WAN_MOCK_LIVE_REPORT", tmp_path)))
    assert report.live, "the live API must never be mistaken for the fake"
    assert report.aborted is None, report.aborted
    assert report.budget.creates == 0
    assert report.ok, [(check.name, check.reasons) for check in report.failures()]
