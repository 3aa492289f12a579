"""Independent checks of result videos with Debian's ffprobe and ffmpeg (not PyAV, which made
them). Missing tools skip the tests on a developer machine and fail them under CI, where
``scripts/test`` installs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest


def require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        message = f"{tool} is not installed (scripts/test installs it with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def probe(target: Path | str) -> dict[str, Any]:
    """Streams (with decoded frame counts) and format of a file or URL."""
    done = subprocess.run(
        [require("ffprobe"), "-v", "error", "-count_frames", "-print_format", "json",
         "-show_streams", "-show_format", str(target)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def frame(path: Path, index: int, width: int, height: int) -> np.ndarray[Any, Any]:
    """Frame ``index`` decoded to RGB by ffmpeg."""
    done = subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", str(path), "-vf", f"select=eq(n\\,{index})",
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.uint8).reshape(height, width, 3)


def mean_volume(path: Path) -> float:
    """The audio's mean volume in dBFS (very negative for silence)."""
    done = subprocess.run(
        [require("ffmpeg"), "-v", "info", "-i", str(path), "-af", "volumedetect", "-vn",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    match = re.search(r"mean_volume: (-?[\d.]+) dB", done.stderr)
    assert match is not None, done.stderr
    return float(match.group(1))
