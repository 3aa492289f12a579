"""Reading a downloaded sound track's facts with PyAV, as the real service checks ``audio_url``:
a WAV or MP3 file of 3 to 30 seconds, at most 15 MB.

Only the container's header and index are read (no audio is decoded, unless the container does
not state its duration: then its packets are counted, never their samples).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

MAX_AUDIO_BYTES = 15 * 1024 * 1024
MIN_SECONDS, MAX_SECONDS = 3.0, 30.0
FORMATS = ("wav", "mp3")


@dataclass(frozen=True, slots=True)
class AudioFacts:
    format: str
    seconds: float


class AudioRejected(ValueError):
    """A sound track the service would not use; the message says why, without the field."""


def probe_audio(data: bytes) -> AudioFacts:
    """The format and length of a WAV or MP3 file; raises :class:`AudioRejected`."""
    if len(data) > MAX_AUDIO_BYTES:
        raise AudioRejected(f"is {len(data)} bytes, over the limit of {MAX_AUDIO_BYTES} (15 MB)")
    import av  # deferred: `wan-mock serve` without fetching never loads PyAV for audio

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            names = set(container.format.name.split(","))
            stream = container.streams.audio[0] if container.streams.audio else None
            seconds = _seconds(container, stream)
    except (av.FFmpegError, ValueError, IndexError, OSError):
        raise AudioRejected("is not a readable WAV or MP3 file") from None
    fmt = next((name for name in FORMATS if name in names), None)
    if fmt is None or stream is None:
        raise AudioRejected(f"is not a WAV or MP3 file (it reads as {container.format.name})")
    if seconds is None or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        length = "of unknown length" if seconds is None else f"{seconds:.1f} s long"
        raise AudioRejected(f"is {length}; it must be {MIN_SECONDS:g} to {MAX_SECONDS:g} s")
    return AudioFacts(fmt, seconds)


def _seconds(container: object, stream: object) -> float | None:
    duration = getattr(container, "duration", None)  # microseconds (av.time_base)
    if duration:
        return float(duration) / 1_000_000
    if stream is None:
        return None
    length, base = getattr(stream, "duration", None), getattr(stream, "time_base", None)
    if length and base:
        return float(length * base)
    return None
