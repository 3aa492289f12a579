"""The webhook scheduler: sends what the backend says is due, off the request path.

Under uvicorn a :class:`Dispatcher` runs as one asyncio task started by the app's lifespan. It
sleeps until the earliest pending delivery is due on the fake's clock (at most
:data:`IDLE_S` of wall time, so that work another worker queued is found too) or until the
backend says something new may be due (a create, a forced end, a redelivery), then claims what
is due and sends each attempt with httpx. A create's ``task.created`` therefore leaves within
milliseconds of the create.

A virtual clock never reaches a due time by itself, so moving it through the control plane
(:meth:`Dispatcher.advance`) walks it from one due time to the next and delivers at each:
when the call returns, every attempt that became due in that stretch has been made, retries
included, each at its own moment of the fake's clock. ``POST /_mock/webhooks/flush`` delivers
what is due now (what a create queued under a virtual clock, with no lifespan running).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from mockserver.domain.backend import Backend
from mockserver.domain.behaviour import Dialect
from mockserver.domain.deliveries import CLAIM_BATCH, STALE_S, Attempt, Outcome
from mockserver.domain.errors import StateUnavailable, WebhookNotFound
from mockserver.domain.outbox import Delivery
from mockserver.domain.scenarios import FAILURES
from mockserver.domain.tasks import Status, TaskState
from mockserver.domain.webhooks import EVENTS, DigestForm, KeyReading, envelope, signed_headers
from mockserver.server.dialects import Speaker
from mockserver.server.runtime import ApiRuntime
from mockserver.server.webhook_sender import Sender

DEFAULT_SPEAKER = Speaker(Dialect())
IDLE_S = 1.0  # longest wall-clock sleep between looks at the outbox
MAX_LOGGED_BODY = 16_384  # characters of a delivery's body kept in the log

logger = logging.getLogger(__name__)
# One attempt: (url, body, headers, timeout) to (status, error, milliseconds).
Post = Callable[
    [str, bytes, dict[str, str], float], Awaitable[tuple[int | None, str | None, float]]
]


class Dispatcher:
    """Delivers the backend's due webhook attempts."""

    def __init__(
        self, backend: Backend[ApiRuntime], *, wall: Callable[[], float] = time.time
    ) -> None:
        self.backend = backend
        self.mounts: dict[str, httpx.AsyncBaseTransport] = {}
        self._wall = wall
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None  # the loop's thread
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._sender: Sender | None = None
        self._inflight: set[asyncio.Future[Any]] = set()  # attempts being made, on any loop
        backend.webhooks.listeners.append(self.wake)

    def route(self, prefix: str, transport: httpx.AsyncBaseTransport) -> None:
        """Send deliveries whose URL starts with ``prefix`` through ``transport`` (an
        ``httpx.ASGITransport`` around a test's app, an ``httpx.MockTransport``)."""
        self.mounts[prefix] = transport

    # The background task (the server's lifespan runs it).

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="wan-mock-webhooks")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        sender, self._sender = self._sender, None
        if sender is not None:
            await sender.aclose()
        self._loop = None

    def wake(self) -> None:
        """Something may be due now (called by the backend, from any thread)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        if threading.get_ident() == self._thread:
            event.set()  # a create on the loop itself: no need to wake the loop's selector
        else:
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except StateUnavailable as exc:  # Redis away for a moment: look again shortly
                logger.warning("wan-mock: webhook deliveries wait: %s", exc.detail)
            except Exception:  # a bug must not stop every later delivery
                logger.exception("wan-mock: webhook delivery failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleep_s())

    def _sleep_s(self) -> float:
        clock = self.backend.clock
        try:
            due = self.backend.webhooks.next_due()
        except StateUnavailable:
            return IDLE_S
        if due is None or clock.frozen:
            return IDLE_S
        return min(max((due - clock.now()) / clock.speed, 0.0), IDLE_S)

    # Delivering.

    async def drain(self, at: float | None = None) -> int:
        """Make every attempt due now (or at ``at``, a due time the clock has just been moved
        to); returns how many were made."""
        made = 0
        while True:
            await self._settle()
            now = self.backend.clock.now() if at is None else max(at, self.backend.clock.now())
            batch = self.backend.webhooks.claim(now, self._wall())
            if not batch:
                if self._busy():  # the background task took it meanwhile: wait for that
                    continue
                return made
            # One task's events go one after the other, in the order they became due (a
            # forced end claimed with its task.created); different tasks' go at once.
            by_task: dict[str, list[Delivery]] = {}
            for delivery in batch:
                by_task.setdefault(delivery.task_id, []).append(delivery)
            async with self._session() as post:
                sending = asyncio.gather(*(self._in_order(post, d) for d in by_task.values()))
                self._inflight.add(sending)
                try:
                    await sending
                finally:
                    self._inflight.discard(sending)
            made += len(batch)
            if len(batch) < CLAIM_BATCH and not self._busy():
                return made  # all that was due was in this batch

    async def _settle(self) -> None:
        """Wait for the attempts this loop is already making (the background task's), so
        that a control-plane call sees them finished."""
        while self._busy():
            running = asyncio.get_running_loop()
            await asyncio.wait([f for f in self._inflight if f.get_loop() is running])

    def _busy(self) -> bool:
        running = asyncio.get_running_loop()
        return any(f.get_loop() is running for f in self._inflight)

    async def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward, stopping at each due delivery on the way to
        make it (raises ValueError as the clock does)."""
        backend = self.backend
        target = backend.clock.now() + seconds
        if not 0 <= seconds < float("inf"):
            backend.advance(seconds)  # raises, naming the problem
        await self.drain()
        while True:
            due = backend.webhooks.next_due()
            if due is None or due > target:
                break
            step = due - backend.clock.now()
            if step > 0:
                backend.advance(step)
            if not await self.drain(at=due) and step <= 0:
                break  # due but leased by another worker: it will make that attempt
        remaining = target - backend.clock.now()
        if remaining > 0:
            backend.advance(remaining)
        await self.drain()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Post]:
        """How this batch's attempts are sent: the server's own loop keeps its connections
        in a :class:`Sender`; a test's loop, routes and respx go through httpx."""
        running = asyncio.get_running_loop()
        if running is self._loop and not self.mounts:
            if self._sender is None:  # made on first use: most apps never send a webhook
                self._sender = Sender()
            yield self._sender.post
            return
        async with httpx.AsyncClient(follow_redirects=False, mounts=self._mounts()) as client:
            yield functools.partial(_post, client)

    def _mounts(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {_pattern(prefix): transport for prefix, transport in self.mounts.items()}

    async def _in_order(self, post: Post, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await self._deliver(post, delivery)

    async def _deliver(self, post: Post, delivery: Delivery) -> None:
        backend = self.backend
        webhooks = backend.webhooks
        clock = backend.clock
        try:
            endpoint = webhooks.endpoint(delivery.endpoint_id)
        except WebhookNotFound:
            endpoint = None
        task = backend.store.get(delivery.task_id)
        if endpoint is None or task is None:
            gone = "endpoint was removed" if endpoint is None else "task no longer exists"
            attempt = _attempt(delivery, "", clock.now(), None, gone, 0.0, "failed")
            webhooks.record(delivery, attempt, clock.now())
            return
        runtime = backend.runtime
        speaker, dialect = runtime.speaker, runtime.settings.dialect
        # The state the event reports: as created, or as it ended (its end is the plan's
        # last step; reading the clock at that instant could fall a rounding short of it).
        created = delivery.event == "task.created"
        state = task.state_at(task.created_at if created else float("inf"))
        video = None
        if state.succeeded:
            base = runtime.settings.public_url or delivery.origin or ""
            video = base + backend.links.path(task.id)
        payload = speaker.envelope(state, video)
        body = envelope(
            delivery.event, delivery.event_id, speaker.timestamp(delivery.occurred_at), payload
        )
        now = clock.now()
        fault = delivery.fault
        if fault == "drop":
            dropped = _attempt(
                delivery, endpoint.url, now, None, "never sent", 0.0, "dropped", fault=fault
            )
            webhooks.record(delivery, dropped, now)
            return
        secret, stamp = endpoint.secret, int(now)
        if fault == "stale":
            stamp -= STALE_S
        elif fault == "bad-signature":
            secret = "whsec_not-" + secret  # a key the receiver does not hold
        elif fault == "replaying" and delivery.signed_at is not None:
            stamp = delivery.signed_at  # the very request sent before
        headers = signed_headers(
            secret,
            delivery.event_id,
            stamp,
            body,
            key=dialect.webhook_key,
            digest=dialect.webhook_digest,
        )
        timeout = runtime.settings.webhook_timeout
        status, error, took = await post(endpoint.url, body, headers, timeout)
        if fault == "replaying":
            outcome: Outcome = "replayed"
        else:
            outcome = webhooks.outcome_of(delivery, status)
        if fault not in ("stale", "bad-signature"):
            delivery.signed_at = stamp
        attempt = _attempt(
            delivery, endpoint.url, now, status, error, took, outcome, headers, body, fault
        )
        webhooks.record(delivery, attempt, clock.now())
        if fault == "duplicate" and outcome == "delivered":
            status, error, took = await post(endpoint.url, body, headers, timeout)
            again = _attempt(
                delivery, endpoint.url, now, status, error, took, "duplicate", headers, body, fault
            )
            webhooks.log.append(again)


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int | None, str | None, float]:
    """One POST: the status, or why there was none, and the milliseconds it took."""
    status: int | None = None
    error: str | None = None
    started = time.perf_counter()
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout)
        status = response.status_code
    except httpx.TimeoutException:
        error = f"no answer within {timeout:g} s"
    except (httpx.HTTPError, OSError, AssertionError) as exc:
        # AssertionError: a test's respx router refusing an unmocked host
        error = f"{type(exc).__name__}: {exc}"
    return status, error, (time.perf_counter() - started) * 1000


def _attempt(
    delivery: Delivery,
    url: str,
    at: float,
    status: int | None,
    error: str | None,
    took_ms: float,
    outcome: Outcome,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    fault: str | None = None,
) -> Attempt:
    return Attempt(
        delivery_id=delivery.id,
        event_id=delivery.event_id,
        event=delivery.event,
        task_id=delivery.task_id,
        endpoint_id=delivery.endpoint_id,
        url=url,
        attempt=delivery.attempts + 1,
        at=at,
        status=status,
        error=error,
        duration_ms=round(took_ms, 3),
        outcome=outcome,
        headers=tuple((headers or {}).items()),
        body=body[:MAX_LOGGED_BODY].decode("utf-8", "replace"),
        fault=fault,
    )


def _pattern(prefix: str) -> str:
    """httpx mounts match ``scheme://host[:port]``; a prefix is cut to that."""
    scheme, _, rest = prefix.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def sample_delivery(
    event: str,
    secret: str,
    now: float,
    *,
    ident: str | None = None,
    signed_at: int | None = None,
    key: KeyReading = "utf8",
    digest: DigestForm = "hex",
) -> tuple[dict[str, str], bytes]:
    """The headers and body of one delivery of ``event`` about a made-up task, as the fake
    sends them (``wan-mock webhook trigger`` and the receiver checks send these). The task's
    payload is the default dialect's poll answer; ``signed_at`` signs at another moment."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}; use {', '.join(EVENTS)}")
    task_id = str(uuid.uuid4())
    status = {"task.created": Status.PENDING, "task.succeeded": Status.SUCCEEDED}.get(
        event, Status.FAILED
    )
    started = now if status is Status.PENDING else now - 90.0
    state = TaskState(
        task_id, status, started, now, FAILURES[3002] if status is Status.FAILED else None
    )
    video = f"https://wan-mock.invalid/files/{task_id}/sample/output.mp4"
    speaker = DEFAULT_SPEAKER
    payload = speaker.envelope(state, video if state.succeeded else None)
    ident = ident or "evt_" + secrets.token_hex(12)
    body = envelope(event, ident, speaker.timestamp(now), payload)
    stamp = int(now) if signed_at is None else signed_at
    return signed_headers(secret, ident, stamp, body, key=key, digest=digest), body
