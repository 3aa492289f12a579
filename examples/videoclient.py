"""A small client for the MuleRouter wan2.6-i2v image-to-video API.

It knows nothing about wan-mock: point it at ``https://api.mulerouter.ai`` with a real key, or
at a fake. Three calls make a video::

    with VideoClient(api_key) as client:
        task_id = client.create("A black cat looks at the sky", "https://example.com/cat.jpg")
        result = client.wait(task_id)
        client.download(result.video_url, "cat.mp4")

What it copes with, because the real service does all of it:

- every documented status spelling (``pending``/``queued``, ``running``/``processing``,
  ``succeeded``/``completed``, ``failed``), a create answered 202 or 200, and error details
  in ``task_info.error`` or a top-level ``error``;
- 429 and 503 with ``Retry-After`` (seconds or an HTTP date); polls and downloads also retry
  other 5xx answers and transport errors, a bounded number of times in a row. A create is
  retried only when it certainly made no task: a 429/503 answer or a connection never made;
- polling with exponential backoff, capped, until ``max_wait`` has passed.

Time passes only through ``sleep`` (``time.sleep`` by default), and the time waited is the
larger of what was slept and what the wall clock says, so a test can pass a sleeper that moves
a fake's clock instead of sleeping and still see every timeout.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import httpx

DEFAULT_BASE_URL: Final = "https://api.mulerouter.ai"
API_PATH: Final = "/vendors/alibaba/v1/wan2.6-i2v/generation"

IN_PROGRESS: Final = frozenset({"pending", "queued", "running", "processing"})
SUCCEEDED: Final = frozenset({"succeeded", "completed"})
FAILED: Final = frozenset({"failed"})

# Answers worth asking again: the server was busy or broken, not the request.
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
# A create answered with these certainly made no task, so it is safe to send again.
CREATE_RETRYABLE_STATUSES: Final = frozenset({429, 503})

Sleep = Callable[[float], object]


class VideoError(Exception):
    """Anything this client reports."""


class APIError(VideoError):
    """The API answered with an error status (after any retries)."""

    def __init__(
        self,
        status: int,
        code: int | str | None,
        title: str | None,
        detail: str | None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"HTTP {status} (code {code}): {title or 'error'}: {detail or ''}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.retry_after = retry_after


class TaskFailed(VideoError):
    """The task ended ``failed``; ``code``, ``title`` and ``detail`` say why."""

    def __init__(
        self, task_id: str, code: int | str | None, title: str | None, detail: str | None
    ) -> None:
        super().__init__(f"task {task_id} failed (code {code}): {title or ''}: {detail or ''}")
        self.task_id = task_id
        self.code = code
        self.title = title
        self.detail = detail


class TaskTimeout(VideoError):
    """The task was still unfinished when ``max_wait`` ran out."""

    def __init__(self, task_id: str, waited: float, last_status: str) -> None:
        super().__init__(
            f"task {task_id} still {last_status!r} after {waited:.1f} s; gave up waiting"
        )
        self.task_id = task_id
        self.waited = waited
        self.last_status = last_status


class ProtocolError(VideoError):
    """An answer this client cannot make sense of (not JSON, no task id, unknown status)."""


@dataclass(frozen=True, slots=True)
class VideoResult:
    """A finished task: its id, the status as spelled by the API and the result URLs."""

    task_id: str
    status: str
    videos: tuple[str, ...]
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def video_url(self) -> str:
        if not self.videos:
            raise ProtocolError(f"task {self.task_id} succeeded but lists no video")
        return self.videos[0]


class VideoClient:
    """A client for one API key at one base URL. Use it as a context manager (or ``close()``).

    ``max_retries`` bounds how many failed attempts in a row one call tolerates; the wait before
    each retry is ``Retry-After`` when the API sends it (at most ``max_retry_after``), else an
    exponential backoff from ``retry_backoff`` seconds.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 5,
        retry_backoff: float = 1.0,
        max_retry_after: float = 60.0,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._origin = httpx.URL(self.base_url)
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> VideoClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The API.

    def create(self, prompt: str, image: str, **options: Any) -> str:
        """Start a task; returns its id. ``options`` are the API's optional fields, e.g.
        ``resolution="1080P"``, ``duration=10``, ``negative_prompt=...``, ``seed=42``."""
        body = {"prompt": prompt, "image": image, **options}
        response = self._send(
            "POST",
            self.base_url + API_PATH,
            json=body,
            retry_statuses=CREATE_RETRYABLE_STATUSES,
            retry_transport=(httpx.ConnectError, httpx.ConnectTimeout),
            sleep=self.sleep,
        )
        task_id = _task_info(_json(response)).get("id")
        if not isinstance(task_id, str) or not task_id:
            raise ProtocolError(f"the create answer has no task id: {response.text[:200]}")
        return task_id

    def status(self, task_id: str, *, sleep: Sleep | None = None) -> dict[str, Any]:
        """The task envelope as the API sends it (transient errors retried)."""
        response = self._send(
            "GET",
            f"{self.base_url}{API_PATH}/{task_id}",
            retry_statuses=RETRYABLE_STATUSES,
            retry_transport=(httpx.TransportError,),
            sleep=sleep or self.sleep,
        )
        return _json(response)

    def wait(
        self,
        task_id: str,
        *,
        poll_interval: float = 2.0,
        max_interval: float = 30.0,
        backoff: float = 1.5,
        max_wait: float = 900.0,
        sleep: Sleep | None = None,
    ) -> VideoResult:
        """Poll until the task is finished: its result once succeeded, :class:`TaskFailed`
        once failed, :class:`TaskTimeout` when ``max_wait`` seconds pass first.

        The pause between polls starts at ``poll_interval`` and grows ``backoff`` times per
        poll up to ``max_interval``. ``sleep`` (the client's sleeper by default) is the only
        way time passes; retry pauses count towards ``max_wait`` too.
        """
        if poll_interval <= 0 or max_interval <= 0 or backoff < 1 or max_wait < 0:
            raise ValueError("poll_interval, max_interval > 0; backoff >= 1; max_wait >= 0")
        pause = sleep or self.sleep
        started = time.monotonic()
        slept = 0.0

        def sleeper(seconds: float) -> None:
            nonlocal slept
            slept += seconds
            pause(seconds)

        def waited() -> float:
            return max(slept, time.monotonic() - started)

        interval = poll_interval
        while True:
            envelope = self.status(task_id, sleep=sleeper)
            info = _task_info(envelope)
            status = str(info.get("status", "")).lower()
            if status in SUCCEEDED:
                videos = envelope.get("videos") or []
                return VideoResult(
                    task_id=task_id,
                    status=status,
                    videos=tuple(str(url) for url in videos),
                    created_at=info.get("created_at"),
                    updated_at=info.get("updated_at"),
                )
            if status in FAILED:
                code, title, detail = _task_error(envelope)
                raise TaskFailed(task_id, code, title, detail)
            if status not in IN_PROGRESS:
                raise ProtocolError(f"task {task_id} has an unknown status {status!r}")
            remaining = max_wait - waited()
            if remaining <= 0:
                raise TaskTimeout(task_id, waited(), status)
            sleeper(min(interval, remaining))
            interval = min(interval * backoff, max_interval)

    def download(self, url: str, path: str | os.PathLike[str]) -> Path:
        """Stream the video at ``url`` into ``path`` (written whole or not at all).

        The API key goes only to the API's own origin, never to a storage host.
        """
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        headers = self._auth if _same_origin(httpx.URL(url), self._origin) else {}
        failures = 0
        while True:
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    if response.status_code in RETRYABLE_STATUSES and failures < self.max_retries:
                        response.read()
                        failures += 1
                        self.sleep(self._retry_delay(response, failures))
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise _api_error(response)
                    with partial.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
            except httpx.TransportError:
                partial.unlink(missing_ok=True)
                if failures >= self.max_retries:
                    raise
                failures += 1
                self.sleep(self._backoff(failures))
                continue
            partial.replace(target)
            return target

    # Plumbing.

    def _send(
        self,
        method: str,
        url: str,
        *,
        retry_statuses: frozenset[int],
        retry_transport: tuple[type[httpx.TransportError], ...],
        sleep: Sleep,
        json: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        failures = 0
        while True:
            try:
                response = self._http.request(method, url, json=json, headers=self._auth)
            except retry_transport:
                if failures >= self.max_retries:
                    raise
                failures += 1
                sleep(self._backoff(failures))
                continue
            if response.status_code < 400:
                return response
            if response.status_code not in retry_statuses or failures >= self.max_retries:
                raise _api_error(response)
            failures += 1
            sleep(self._retry_delay(response, failures))

    def _retry_delay(self, response: httpx.Response, failures: int) -> float:
        after = retry_after(response.headers.get("retry-after"))
        if after is None:
            return self._backoff(failures)
        return min(after, self.max_retry_after)

    def _backoff(self, failures: int) -> float:
        return float(min(self.retry_backoff * 2 ** (failures - 1), self.max_retry_after))


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(
            f"HTTP {response.status_code}: not JSON: {response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise ProtocolError(f"HTTP {response.status_code}: not a JSON object: {body!r}")
    return body


def _task_info(envelope: Mapping[str, Any]) -> dict[str, Any]:
    info = envelope.get("task_info")
    if not isinstance(info, dict):
        raise ProtocolError(f"no task_info in {envelope!r}")
    return info


def _error_fields(error: Mapping[str, Any]) -> tuple[int | str | None, str | None, str | None]:
    code = error.get("code", error.get("error_code"))
    title, detail = error.get("title"), error.get("detail")
    return (
        code if isinstance(code, int | str) else None,
        title if isinstance(title, str) else None,
        detail if isinstance(detail, str) else None,
    )


def _task_error(envelope: Mapping[str, Any]) -> tuple[int | str | None, str | None, str | None]:
    """A failed task's (code, title, detail): ``task_info.error``, else the top-level error."""
    info = envelope.get("task_info")
    for error in (info.get("error") if isinstance(info, dict) else None, envelope.get("error")):
        if isinstance(error, dict):
            return _error_fields(error)
    return None, None, None


def _api_error(response: httpx.Response) -> APIError:
    """An error answer in any of the shapes seen: ``{error_code, title, detail}``, a failed
    task envelope, or ``{"detail": ...}``."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code: int | str | None = None
    title: str | None = response.reason_phrase or None
    detail: str | None = response.text[:200] or None
    if isinstance(body, dict):
        info = body.get("task_info")
        error = info.get("error") if isinstance(info, dict) else None
        source = error if isinstance(error, dict) else body
        found_code, found_title, found_detail = _error_fields(source)
        code = found_code
        title = found_title or title
        detail = found_detail or detail
    wait = retry_after(response.headers.get("retry-after"))
    return APIError(response.status_code, code, title, detail, retry_after=wait)


def _same_origin(url: httpx.URL, origin: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)
