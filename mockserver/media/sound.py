"""The sound track: a soft chord that fades in and out, encoded once as a few AAC blocks.

Every chord here repeats itself exactly every 1,024 samples (its notes are whole multiples of
48,000 / 1,024 Hz), which is one AAC frame. So once the chord has sounded for a few frames, the
encoder turns each further frame into the same packet, and a track of any length is made of
three encoded pieces: the fade-in, one steady packet repeated as often as needed, and the
fade-out. About half a second of audio is encoded whatever the duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE_RATE = 48_000
AUDIO_FRAME = 1024  # AAC's frame size, and the period of every chord
_BASE_HZ = SAMPLE_RATE / AUDIO_FRAME  # 46.875 Hz
# Four chords, as multiples of the base: major (4:5:6 and 3:4:5 inverted), and minor (10:12:15).
CHORDS = ((4, 5, 6), (6, 8, 10), (8, 10, 12), (10, 12, 15))
FADE_IN = 4 * AUDIO_FRAME  # about 85 ms
STEADY = 4 * AUDIO_FRAME  # long enough that a packet inside it sees nothing but the chord
FADE_OUT = 8 * AUDIO_FRAME  # about 170 ms
SILENCE = 2 * AUDIO_FRAME  # after the fade-out, so the last packets are quiet whatever cut
LEVEL = 0.3
# The piece of the encoded signal each packet stands for: a packet with timestamp ``t`` (samples)
# decodes to samples t..t+1024, made from the input around them. The steady packet is taken from
# the middle of the steady part; the fade-in piece ends just before it, the fade-out piece starts
# just after it.
STEADY_AT = FADE_IN + 2 * AUDIO_FRAME


def signal(chord: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The signal the pieces are encoded from (stereo, float32): fade-in, steady, fade-out,
    silence."""
    total = FADE_IN + STEADY + FADE_OUT + SILENCE
    t = np.arange(total, dtype=np.float64)
    notes = CHORDS[chord % len(CHORDS)]
    wave = sum(np.sin(2 * np.pi * _BASE_HZ * note * t / SAMPLE_RATE) for note in notes)
    envelope = np.zeros(total)
    envelope[:FADE_IN] = _ramp(FADE_IN)
    envelope[FADE_IN : FADE_IN + STEADY] = 1.0
    fade_end = FADE_IN + STEADY + FADE_OUT
    envelope[FADE_IN + STEADY : fade_end] = _ramp(FADE_OUT)[::-1]
    mono = (LEVEL * wave / len(notes) * envelope).astype(np.float32)
    return np.stack([mono, mono])


def _ramp(length: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A raised-cosine rise from 0 to 1 over ``length`` samples (no click)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)


@dataclass(frozen=True, slots=True)
class Placed:
    """An encoded packet's place on the track: index into the encoded packets, timestamp and
    length in samples."""

    packet: int
    pts: int
    duration: int


def layout(timestamps: list[int], samples: int) -> list[Placed]:
    """Where the encoded packets (by their timestamps, in samples, the encoder's priming packet
    first) go on a track of exactly ``samples`` samples: the fade-in, the steady packet as
    often as needed, then the fade-out, the last packet cut to end on time."""
    steady = timestamps.index(STEADY_AT)
    intro = [index for index, pts in enumerate(timestamps) if pts < STEADY_AT]
    outro = [index for index, pts in enumerate(timestamps) if pts > STEADY_AT]
    fade_end = FADE_IN + STEADY + FADE_OUT
    # Repeats of the steady packet: as many as leave the fade-out ending within the track.
    repeats = max(1, (samples - fade_end) // AUDIO_FRAME + 1)
    shift = (repeats - 1) * AUDIO_FRAME
    placed = [Placed(index, timestamps[index], AUDIO_FRAME) for index in intro]
    placed += [Placed(steady, STEADY_AT + n * AUDIO_FRAME, AUDIO_FRAME) for n in range(repeats)]
    placed += [Placed(index, timestamps[index] + shift, AUDIO_FRAME) for index in outro]
    kept = [place for place in placed if place.pts < samples]
    last = kept[-1]
    kept[-1] = Placed(last.packet, last.pts, samples - last.pts)
    return kept
