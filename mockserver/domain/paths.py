"""Where things live on the fake: the API's paths (as in the contract), result files and the
control plane. Every layer that builds or matches a path takes it from here."""

from __future__ import annotations

from typing import Final

GENERATION_PATH: Final = "/vendors/alibaba/v1/wan2.6-i2v/generation"
"""Create a task (POST); append ``/{task_id}`` to poll it (GET)."""
TASK_PATH: Final = GENERATION_PATH + "/{task_id}"
"""The poll path as a route template."""
FILES_PREFIX: Final = "/files"
"""Result videos: ``/files/{task_id}/{token}/{RESULT_NAME}``, served by the fake itself; the
token is what makes the link unguessable (domain/links.py)."""
RESULT_NAME: Final = "result_000.mp4"
RESULT_ROUTE: Final = FILES_PREFIX + "/{task_id}/{token}/{name}"
CONTROL_PREFIX: Final = "/_mock"
"""The control plane (and nothing of the API) lives under this prefix."""
DASHBOARD_PATH: Final = CONTROL_PREFIX + "/ui"
"""The dashboard, a page for a browser, part of the control plane."""
CONTRACT_PATH: Final = "/openapi.json"
VENDOR_HOSTS: Final = ("api.mulerouter.ai", "api.mulerun.com")
"""Where the real service answers (the second is its MuleRun twin)."""


def task_path(task_id: str) -> str:
    return f"{GENERATION_PATH}/{task_id}"


def result_path(task_id: str, token: str) -> str:
    return f"{FILES_PREFIX}/{task_id}/{token}/{RESULT_NAME}"
