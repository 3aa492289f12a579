"""Result videos: a fresh 1080P 15 s render on first download, a cached one, and render memory.

Starts `wan-mock serve` (virtual clock), creates tasks with a 1920x1080 base64 photo-like image,
sound on, then measures over HTTP on loopback:

- first download: GET of a video never rendered, request sent to last byte received;
- cached: time to the first byte of the answer for a video already rendered;
- memory: the server's peak RSS (VmHWM) while rendering, minus its RSS before the first render;
- behind abandoned renders: ``--abandoned`` (12) clients each ask for another fresh 1080P video
  and hang up before the first byte, then a normal 720P 5 s first download is timed (request
  sent to last byte). Renders nobody waits for any more must not delay it.

    .venv/bin/python benchmarks/render.py [--videos 5] [--cached 200] [--abandoned 12]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import random
import socket
import time
from pathlib import Path
from typing import Any

import _harness as h

from mockserver import Control

FLOOR_FIRST_S = 3.0
FLOOR_CACHED_MS = 10.0
FLOOR_RENDER_MB = 300.0
FLOOR_BEHIND_ABANDONED_S = 5.0


def photo(seed: int, size: tuple[int, int] = (1920, 1080)) -> bytes:
    """A JPEG with gradients, shapes and some grain: closer to a photo than a flat colour,
    which would flatter the encoder."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(30, 300)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise(size, 12).convert("RGB")
    image = Image.blend(image, noise, 0.08)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(h.HOST, port, timeout=120)
    try:
        headers = dict(h.CREATE_HEADERS) if body is not None else dict(h.AUTH_HEADERS)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def create(port: int, seed: int, resolution: str = "1080P", duration: int = 15) -> str:
    body = {
        "prompt": "A lighthouse at dusk, waves rolling in, camera slowly pushes in",
        "image": base64.b64encode(photo(seed)).decode(),
        "resolution": resolution,
        "duration": duration,
        "audio": True,
    }
    status, answer = request(port, "POST", h.CREATE_PATH, json.dumps(body).encode())
    if status != 202:
        raise h.HarnessError(f"create: {status} {answer[:200]!r}")
    task_id: str = json.loads(answer)["task_info"]["id"]
    return task_id


def video_path(port: int, task_id: str) -> str:
    status, answer = request(port, "GET", h.poll_path(task_id))
    task: dict[str, Any] = json.loads(answer)
    if status != 200 or task["task_info"]["status"] != "succeeded":
        raise h.HarnessError(f"task {task_id} did not succeed: {status} {answer[:200]!r}")
    url: str = task["videos"][0]
    return url.split(f"{h.HOST}:{port}", 1)[1]


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the last, bytes) for one GET."""
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()  # returns once the status line and headers are in
    first = time.perf_counter() - started
    data = response.read()
    if response.status != 200:
        raise h.HarnessError(f"GET {path}: {response.status} {data[:200]!r}")
    return first, time.perf_counter() - started, len(data)


def abandon(port: int, path: str) -> None:
    """Ask for ``path`` and hang up before any byte of the answer arrives."""
    with socket.create_connection((h.HOST, port), timeout=10) as sock:
        head = f"GET {path} HTTP/1.1\r\nHost: {h.HOST}:{port}\r\n\r\n"
        sock.sendall(head.encode("latin-1"))
        time.sleep(0.05)  # the server has read the request and started on it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--videos", type=int, default=5, help="fresh renders timed (5)")
    parser.add_argument("--cached", type=int, default=200, help="cached downloads timed (200)")
    parser.add_argument(
        "--abandoned", type=int, default=12, help="first downloads abandoned before one (12)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    args = parser.parse_args(argv)
    if args.videos < 1 or args.cached < 1:
        parser.error("--videos and --cached must be at least 1")

    port = h.free_port()
    cmd = h.wan_mock_cmd(port, "--clock", "virtual", "--seed", "1")
    with h.servers(h.Server("wan-mock", cmd, port)) as (server,):
        server.wait_ready("/openapi.json")
        tasks = [create(port, seed) for seed in range(args.videos)]
        left = [create(port, 100 + seed) for seed in range(args.abandoned)]
        normal = create(port, 99, "720P", 5)
        with Control(server.base_url) as control:
            control.advance(3600)
        paths = [video_path(port, task_id) for task_id in tasks]
        left_paths = [video_path(port, task_id) for task_id in left]
        normal_path = video_path(port, normal)
        before = h.rss_bytes(server.pid)
        firsts: list[float] = []
        sizes: list[int] = []
        for path in paths:
            conn = http.client.HTTPConnection(h.HOST, port, timeout=120)
            _, total, size = timed_get(conn, path)
            conn.close()
            firsts.append(total)
            sizes.append(size)
        render_peak = h.hwm_bytes(server.pid) - before
        conn = http.client.HTTPConnection(h.HOST, port, timeout=30)
        cached = [timed_get(conn, paths[0])[0] * 1000 for _ in range(args.cached)]
        conn.close()
        peak = h.hwm_bytes(server.pid)
        for path in left_paths:
            abandon(port, path)
        conn = http.client.HTTPConnection(h.HOST, port, timeout=300)
        behind = timed_get(conn, normal_path)[1]
        conn.close()

    cached.sort()
    cached_p95 = cached[int(0.95 * (len(cached) - 1))]
    results: dict[str, Any] = {
        "first_download_s": {"median": h.median(firsts), "max": max(firsts), "all": firsts},
        "cached_first_byte_ms": {
            "median": h.median(cached),
            "p95": cached_p95,
        },
        "render_peak_mb": render_peak / 1e6,
        "server_peak_rss_mb": peak / 1e6,
        "video_mb": h.median([float(s) for s in sizes]) / 1e6,
        "behind_abandoned_s": behind,
        "abandoned": args.abandoned,
    }
    checks = [
        ("first download, 1080P 15 s (median s)", h.median(firsts), FLOOR_FIRST_S),
        ("cached, first byte (median ms)", h.median(cached), FLOOR_CACHED_MS),
        ("render memory (peak RSS - RSS before, MB)", render_peak / 1e6, FLOOR_RENDER_MB),
        (
            f"720P 5 s first download after {args.abandoned} abandoned (s)",
            behind,
            FLOOR_BEHIND_ABANDONED_S,
        ),
    ]
    rows = [
        [name, f"{value:.3f}", f"<= {floor:g}", h.verdict(value <= floor)]
        for name, value, floor in checks
    ]
    print(h.render_table(["measure", "value", "floor", "verdict"], rows))
    print(
        f"first downloads: {', '.join(f'{s:.2f}' for s in firsts)} s; "
        f"cached p95 {cached_p95:.2f} ms; "
        f"server peak RSS {peak / 1e6:.0f} MB; video {results['video_mb']:.1f} MB"
    )
    if args.json:
        h.write_json(args.json, results)
    return 0 if all(value <= floor for _, value, floor in checks) else 1


if __name__ == "__main__":
    h.install_sigterm_handler()
    h.run_main(main)
