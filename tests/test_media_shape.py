"""The shape of a result video: size from tier and image, and what makes two videos the same."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mockserver.domain.generation import GenerationRequest, ImageRef, Resolution
from mockserver.domain.tasks import Plan, Status, Task
from mockserver.media.shape import output_size, video_spec

URL = ImageRef(source="url", url="https://example.com/a.jpg")


def image(width: int, height: int) -> ImageRef:
    return ImageRef("base64", None, "PNG", width, height, 1000, f"digest-{width}x{height}")


@pytest.mark.parametrize(
    ("resolution", "ref", "size"),
    [
        pytest.param("720P", image(750, 1000), (816, 1104), id="documented-example"),
        pytest.param("720P", URL, (1280, 720), id="url-is-16:9"),
        pytest.param("1080P", URL, (1920, 1072), id="url-1080P"),
        pytest.param("720P", image(1920, 1080), (1280, 720), id="16:9"),
        pytest.param("1080P", image(1080, 1920), (1072, 1920), id="9:16-1080P"),
        pytest.param("720P", image(1000, 1000), (960, 960), id="square"),
        pytest.param("1080P", image(1000, 1000), (1440, 1440), id="square-1080P"),
        pytest.param("720P", image(640, 480), (1104, 816), id="4:3"),
        pytest.param("720P", image(2000, 360), (2256, 400), id="widest-allowed"),
        pytest.param("1080P", image(360, 2000), (608, 3392), id="tallest-allowed"),
    ],
)
def test_output_size(resolution: Resolution, ref: ImageRef, size: tuple[int, int]) -> None:
    width, height = output_size(resolution, ref)
    assert (width, height) == size
    assert width % 16 == 0
    assert height % 16 == 0


@pytest.mark.parametrize("resolution", ["720P", "1080P"])
@pytest.mark.parametrize("aspect", [(360, 2000), (750, 1000), (1, 1), (16, 9), (2000, 361)])
def test_pixels_stay_within_the_tier(resolution: Resolution, aspect: tuple[int, int]) -> None:
    tier = {"720P": 1280 * 720, "1080P": 1920 * 1080}[resolution]
    width, height = output_size(resolution, image(*aspect))
    # Rounding down to multiples of 16 loses at most a strip of 16 px along each side.
    assert tier * 0.9 < width * height <= tier
    assert abs(width / height - aspect[0] / aspect[1]) / (aspect[0] / aspect[1]) < 0.05


def task(task_id: str = "00000000-0000-4000-8000-000000000001", **fields: Any) -> Task:
    request = msgspec.structs.replace(GenerationRequest(prompt="a cat", image=URL), **fields)
    return Task(task_id, "key", 0.0, request, Plan((Status.PENDING,), (0.0,)))


def test_the_spec_follows_the_request() -> None:
    spec = video_spec(task(resolution="1080P", duration=10, audio=False))
    assert (spec.width, spec.height, spec.duration, spec.frames) == (1920, 1072, 10, 300)
    assert spec.audio is False
    assert spec.first is None
    assert video_spec(task(audio=False, audio_url="https://e.com/a.mp3")).audio is True


def test_base64_inputs_are_named_by_digest() -> None:
    spec = video_spec(task(image=image(750, 1000), last_frame=image(640, 480)))
    assert (spec.first, spec.last) == ("digest-750x1000", "digest-640x480")
    assert (spec.width, spec.height) == (816, 1104)


def test_equal_requests_share_a_key_and_any_difference_changes_it() -> None:
    base = video_spec(task())
    # Another task with the same request: the same pictures and sound, one shared encode.
    assert video_spec(task("00000000-0000-4000-8000-000000000002")).key == base.key
    variants = [
        task(duration=10),
        task(resolution="1080P"),
        task(audio=False),
        task(prompt="a dog"),
        task(seed=5),
        task(image=image(750, 1000)),
    ]
    keys = {video_spec(variant).key for variant in variants}
    assert base.key not in keys
    assert len(keys) == len(variants)


def test_the_camera_move_follows_the_seed_when_given_else_the_prompt() -> None:
    one = video_spec(task("00000000-0000-4000-8000-000000000001", seed=42))
    two = video_spec(task("00000000-0000-4000-8000-000000000002", seed=42, prompt="a dog"))
    assert one.motion == two.motion
    assert video_spec(task(seed=43)).motion != one.motion
    assert video_spec(task(prompt="a dog")).motion != video_spec(task()).motion
