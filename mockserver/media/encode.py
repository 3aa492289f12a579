"""Writing a result video: H.264 and AAC in an MP4, with PyAV's own FFmpeg (no system ffmpeg).

A video is made of a few pieces encoded once and repeated by stream copy with shifted
timestamps. The pictures are one second of the camera's sway, a closed group of pictures
(starting with an IDR frame, referring to nothing outside itself) that loops seamlessly, and,
when a last frame is given, half a second that fades into it; the sound is the fade-in, one
steady packet and the fade-out of ``sound.py``. So a 15 s video costs little more to make than a
one-second one, and every frame is still a real, decodable H.264 frame.

The same spec always gives the same bytes. x264 writes its thread count into the stream, so the
count is fixed rather than taken from the machine; pictures and sound are encoded on threads of
their own, and the packets are put into the file in timestamp order. The index (``moov``) goes
first, so a browser can start playing and seeking before the download ends. The file's comment
holds a placeholder where each download writes its task's id (``stamp.py``).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
from PIL import Image, ImageOps

from mockserver.media import sound
from mockserver.media.frames import FADE, LOOP, ZOOM, Pictures, card, label, open_image, to_planes
from mockserver.media.renders import RenderCancelled
from mockserver.media.shape import FPS, VideoSpec
from mockserver.media.stamp import PLACEHOLDER, STAMP_TAG

T = TypeVar("T")
ENCODER_THREADS = 3
X264_OPTIONS = {"preset": "ultrafast", "tune": "stillimage", "qp": "28"}
# Every piece starts with an IDR frame (forced), and x264 adds no key frame of its own.
X264_PARAMS = "scenecut=0:forced-idr=1"
MARK = "MOCK \u00b7 wan-mock"
AUDIO_BIT_RATE = 96_000
_TIME_BASES = {"video": Fraction(1, FPS), "audio": Fraction(1, sound.SAMPLE_RATE)}


@dataclass(frozen=True, slots=True)
class Encoded:
    """A packet as the encoder gave it: its bytes, timestamp (in its stream's time base) and
    whether it starts a group of pictures."""

    data: bytes
    pts: int
    key: bool


def render(
    spec: VideoSpec,
    first: bytes | None,
    last: bytes | None,
    path: Path,
    cancelled: threading.Event | None = None,
) -> None:
    """Write the video ``spec`` describes to ``path`` (an .mp4 file).

    ``first`` and ``last`` are the input images' bytes, when the fake kept them. When
    ``cancelled`` is set (nobody waits for the video any more), rendering stops at the next
    frame with :class:`RenderCancelled`.
    """
    stop = cancelled or threading.Event()
    pictures = _pictures(spec, first, last)
    loop_frames = min(LOOP, spec.frames)
    ending = pictures.end is not None
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        out.metadata[STAMP_TAG] = PLACEHOLDER
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
        codec = video.codec_context
        codec.time_base = Fraction(1, FPS)
        codec.options = {**X264_OPTIONS, "x264-params": X264_PARAMS}
        codec.thread_count = ENCODER_THREADS
        codec.thread_type = "FRAME"
        codec.color_primaries = codec.color_trc = codec.colorspace = 1  # BT.709, as converted
        sounds: Future[tuple[Encoded, ...]] = Future()
        if spec.audio:
            audio = out.add_stream("aac", rate=sound.SAMPLE_RATE, layout="stereo")
            audio.bit_rate = AUDIO_BIT_RATE
            chord = spec.motion % len(sound.CHORDS)
            # Encoded beside the pictures (the first time for its chord; then it is kept).
            threading.Thread(target=_run, args=(sounds, _sound, chord), daemon=True).start()
        frames = _loop(pictures, loop_frames)
        if ending:
            frames = chain(frames, pictures.ending((spec.frames - FADE) % LOOP))
        encoded = _encode_pictures(video, frames, stop)
        if stop.is_set():
            raise RenderCancelled(f"render of video {spec.key} cancelled")
        laid = _lay_pictures(encoded, loop_frames, spec.frames, FADE if ending else 0)
        packets = [(_packet(piece, video, start, 1), piece.key) for piece, start in laid]
        if spec.audio:
            pieces = sounds.result()
            samples = spec.duration * sound.SAMPLE_RATE
            places = sound.layout([piece.pts for piece in pieces], samples)
            packets += [
                (_packet(pieces[place.packet], audio, place.pts - pieces[place.packet].pts,
                         place.duration), True)
                for place in places
            ]  # fmt: skip
        # Interleaved by decoding time, so sound and pictures alternate through the file.
        for packet, key in sorted(packets, key=_decode_order):
            packet.is_keyframe = key
            out.mux_one(packet)


def _pictures(spec: VideoSpec, first: bytes | None, last: bytes | None) -> Pictures:
    width, height = spec.width, spec.height
    canvas_size = (int(width * ZOOM) // 2 * 2, int(height * ZOOM) // 2 * 2)
    image = open_image(first)
    start = (
        ImageOps.fit(image, canvas_size, Image.Resampling.BILINEAR)
        if image is not None
        else card(*canvas_size, spec)
    )
    end_image = open_image(last)
    end = (
        to_planes(ImageOps.fit(end_image, (width, height), Image.Resampling.BILINEAR))
        if end_image is not None
        else None
    )
    return Pictures(spec, to_planes(start), end, label(MARK, width, height))


def _run(future: Future[T], work: Callable[[int], T], argument: int) -> None:
    """``work(argument)`` into ``future``, its exception included."""
    try:
        future.set_result(work(argument))
    except BaseException as exc:  # handed to whoever waits for the result
        future.set_exception(exc)


def _loop(pictures: Pictures, count: int) -> Iterator[av.VideoFrame]:
    for index, frame in enumerate(pictures.loop()):
        if index == count:
            return
        yield frame


def _encode_pictures(
    video: Any, frames: Iterator[av.VideoFrame], stop: threading.Event
) -> list[Encoded]:
    """Encode each piece's frames; each piece starts with an IDR frame at timestamp 0 of its
    own (the loop first, then the ending if any, one after the other)."""
    packets: list[av.Packet[Any]] = []
    with contextlib.closing(_ahead(frames)) as ahead:
        for index, frame in enumerate(ahead):
            if stop.is_set():
                raise RenderCancelled("render cancelled")
            frame.pts = index
            # The first frame of each piece is an IDR frame: nothing before it is referred to.
            frame.pict_type = av.video.frame.PictureType.I if index in (0, LOOP) else 0
            packets.extend(video.encode(frame))
    packets.extend(video.encode(None))
    return [Encoded(bytes(p), _int(p.pts), p.is_keyframe) for p in packets]


def _lay_pictures(
    encoded: list[Encoded], loop: int, frames: int, fade: int
) -> list[tuple[Encoded, int]]:
    """Each picture packet of the video with the frame it is shown at: the loop repeated (its
    last repeat cut short where needed: a group of pictures cut at its end still decodes), then
    the ending."""
    by_pts = sorted(encoded, key=lambda piece: piece.pts)
    looped, ending = by_pts[:loop], by_pts[loop:]
    laid: list[tuple[Encoded, int]] = []
    for start in range(0, frames - fade, loop):
        laid += [(piece, start) for piece in looped[: frames - fade - start]]
    laid += [(piece, frames - fade - loop) for piece in ending]
    return laid


def _packet(piece: Encoded, stream: Any, shift: int, duration: int) -> av.Packet[Any]:
    """A fresh packet with ``piece``'s bytes, moved ``shift`` ticks later (ticks: frames for
    pictures, samples for sound)."""
    packet = av.Packet(piece.data)
    packet.stream = stream
    packet.time_base = _TIME_BASES[stream.type]
    packet.pts = packet.dts = piece.pts + shift
    packet.duration = duration
    return packet


def _decode_order(item: tuple[av.Packet[Any], bool]) -> tuple[int, int]:
    """Decoding time in audio samples (a whole number for both streams), then the stream."""
    packet = item[0]
    assert packet.dts is not None
    ticks = packet.dts if packet.stream_index else packet.dts * (sound.SAMPLE_RATE // FPS)
    return ticks, packet.stream_index


def _int(value: int | None) -> int:
    assert value is not None
    return value


def _ahead(pictures: Iterator[av.VideoFrame], depth: int = 4) -> Generator[av.VideoFrame]:
    """Make the pictures on a second thread while the encoder works on earlier ones."""
    ready: queue.Queue[av.VideoFrame | BaseException | None] = queue.Queue(maxsize=depth)
    done = threading.Event()  # the consumer stopped early: the producer must not block

    def produce() -> None:
        try:
            for picture in pictures:
                if done.is_set():
                    return
                ready.put(picture)
            ready.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        done.set()
        while producer.is_alive():  # free the slot a blocked put waits for
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)


@functools.lru_cache(maxsize=len(sound.CHORDS))
def _sound(chord: int) -> tuple[Encoded, ...]:
    """The encoded pieces of a chord's sound (kept: they are the same for every video, and the
    same as the output stream's encoder would make, with the same settings)."""
    codec = av.CodecContext.create("aac", "w")
    codec.sample_rate, codec.layout, codec.format = sound.SAMPLE_RATE, "stereo", "fltp"
    codec.bit_rate = AUDIO_BIT_RATE
    codec.time_base = Fraction(1, sound.SAMPLE_RATE)
    samples = sound.signal(chord)
    encoded: list[av.Packet[Any]] = []
    for at in range(0, samples.shape[1], sound.AUDIO_FRAME):
        chunk = np.ascontiguousarray(samples[:, at : at + sound.AUDIO_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = sound.SAMPLE_RATE, at
        encoded.extend(codec.encode(frame))
    encoded.extend(codec.encode(None))
    return tuple(Encoded(bytes(p), _int(p.pts), True) for p in encoded)
