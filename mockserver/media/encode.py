"""Writing a result video: H.264 and AAC in an MP4, with PyAV's own FFmpeg (no system ffmpeg).

The same spec always gives the same bytes. x264 writes its thread count into the stream, so the
count is fixed rather than taken from the machine; frames and audio are produced on their own
threads, and the packets are put into the file in timestamp order. The index (``moov``) goes
first, so a browser can start playing and seeking before the download ends.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageOps

from mockserver.media.frames import ZOOM, card, frames, label, open_image, to_planes
from mockserver.media.renders import RenderCancelled
from mockserver.media.shape import FPS, VideoSpec

SAMPLE_RATE = 48_000
AUDIO_FRAME = 1024  # AAC's frame size
ENCODER_THREADS = 3
X264_OPTIONS = {"preset": "ultrafast", "tune": "stillimage", "crf": "28"}


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
    mark = label(f"MOCK \u00b7 wan-mock \u00b7 task {spec.task_id}", width, height)
    pictures = frames(spec, to_planes(start), end, mark)

    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        codec = video.codec_context
        codec.time_base = Fraction(1, FPS)
        codec.options = dict(X264_OPTIONS)
        codec.thread_count = ENCODER_THREADS
        codec.thread_type = "FRAME"
        codec.color_primaries = codec.color_trc = codec.colorspace = 1  # BT.709, as converted
        sound: list[av.Packet[Any]] = []
        worker: threading.Thread | None = None
        if spec.audio:
            audio = out.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
            audio.bit_rate = 96_000
            worker = threading.Thread(target=_encode_audio, args=(spec, audio, sound, stop))
            worker.start()
        packets: list[av.Packet[Any]] = []
        try:
            with contextlib.closing(_ahead(pictures)) as ahead:
                for index, frame in enumerate(ahead):
                    if stop.is_set():
                        raise RenderCancelled(f"render of task {spec.task_id} cancelled")
                    frame.pts = index
                    packets.extend(video.encode(frame))
            packets.extend(video.encode(None))
        finally:
            if worker is not None:
                worker.join()  # before the file closes: it encodes into the file's stream
        if stop.is_set():
            raise RenderCancelled(f"render of task {spec.task_id} cancelled")
        # Interleaved by decoding time, so sound and pictures alternate through the file.
        for packet in sorted(packets + sound, key=_decode_time):
            out.mux(packet)


def _decode_time(packet: av.Packet[Any]) -> Fraction:
    assert packet.dts is not None
    assert packet.time_base is not None
    return packet.dts * packet.time_base


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


def _encode_audio(
    spec: VideoSpec, stream: Any, packets: list[av.Packet[Any]], stop: threading.Event
) -> None:
    samples = tone(spec.duration, spec.motion)
    for at in range(0, samples.shape[1], AUDIO_FRAME):
        if stop.is_set():
            return
        chunk = np.ascontiguousarray(samples[:, at : at + AUDIO_FRAME])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = SAMPLE_RATE, at
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))


def tone(duration: int, motion: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A soft major chord (stereo, float32) that fades in and out: clearly audible, and
    different between tasks so that a player showing the wrong task's video sounds wrong."""
    t = np.arange(duration * SAMPLE_RATE, dtype=np.float64) / SAMPLE_RATE
    root = (220.0, 261.63, 293.66, 329.63)[motion % 4]
    chord = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1.0, 1.25, 1.5)) / 3
    envelope = np.minimum(1.0, np.minimum(t / 0.3, (duration - t) / 0.5))
    mono = (0.3 * chord * envelope).astype(np.float32)
    return np.stack([mono, mono])
