"""``WanMock``: what a test holds, whichever fixture made it.

The same methods drive an in-process fake (``wan_mock``, ``wan_fake``) and a served one
(``wan_server``), because both go through the one control plane (``mockserver.Control``). An
in-process fake (``WanFake``) can also be plugged into a respx router or an httpx client of the
test's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from mockserver.control import ClockState, Control, JournalEntry, TaskDetail
from mockserver.domain.paths import GENERATION_PATH
from mockserver.testing.bridge import AppTransport
from mockserver.testing.webhooks import WanWebhooks

if TYPE_CHECKING:
    from mockserver.server.webhooks import Dispatcher


class WanMock:
    """A running fake under the test's control. ``base_url`` is where clients should point."""

    def __init__(
        self, base_url: str, control: Control, *, dispatcher: Dispatcher | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.control = control
        self.webhooks = WanWebhooks(control, dispatcher)  # endpoints, deliveries, their log

    @property
    def api_url(self) -> str:
        """The create endpoint's full URL (append ``/<task_id>`` to poll)."""
        return self.base_url + GENERATION_PATH

    # Time: virtual in tests, so nothing waits for real seconds.

    def advance(self, seconds: float) -> ClockState:
        """Move the fake's clock forward; tasks progress as if that much time had passed."""
        return self.control.advance(seconds)

    def freeze(self) -> ClockState:
        return self.control.freeze()

    def resume(self) -> ClockState:
        return self.control.resume()

    def now(self) -> ClockState:
        return self.control.clock()

    # Outcomes.

    def succeed(self, task_id: str) -> str:
        """End a task now as succeeded."""
        return self.control.succeed(task_id)

    def fail(self, task_id: str, code: int | str | None = None) -> str:
        """End a task now as failed (a documented code such as 3002, or ``"safety"``)."""
        return self.control.fail(task_id, code)

    def queue(self, scenario: str, count: int = 1) -> None:
        """The next ``count`` tasks created get ``scenario`` (e.g. ``"fail:3002"``)."""
        self.control.queue(scenario, count)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings now (e.g. ``failure_rate=0.5``, ``dialect="legacy"``)."""
        return self.control.update_settings(**settings)

    def reset(self) -> None:
        self.control.reset()

    # Traffic.

    @property
    def calls(self) -> list[JournalEntry]:
        """Every API request the fake answered in this test, oldest first."""
        return self.control.journal()

    def tasks(self) -> list[TaskDetail]:
        """Every task created in this test, with its parsed request, plan and history."""
        return [self.control.task(summary.id) for summary in self.control.tasks()]

    def assert_task_created(self, **expected: Any) -> TaskDetail:
        """The task whose request has all of ``expected`` (e.g. ``prompt="A cat"``,
        ``resolution="1080P"``); fails showing every task that was created instead."""
        __tracebackhide__ = True
        tasks = self.tasks()
        for task in tasks:
            if all(task.request.get(name) == value for name, value in expected.items()):
                return task
        seen = "\n".join(
            f"  - {t.id}: " + ", ".join(f"{n}={t.request.get(n)!r}" for n in expected)
            for t in tasks
        )
        wanted = ", ".join(f"{n}={v!r}" for n, v in expected.items())
        raise AssertionError(
            f"wan-mock: no task was created with {wanted}; "
            + (f"{len(tasks)} task(s) were:\n{seen}" if tasks else "no task was created at all")
        )

    def assert_called(self, method: str, path_contains: str = "", times: int | None = None) -> None:
        """At least one (or exactly ``times``) request(s) with ``method`` to a matching path."""
        __tracebackhide__ = True
        calls = self.calls
        matching = [c for c in calls if c.method == method and path_contains in c.path]
        if (times is None and matching) or (times is not None and len(matching) == times):
            return
        seen = "\n".join(f"  - {c.method} {c.path} -> {c.status}" for c in calls) or "  (none)"
        count = "at least once" if times is None else f"{times} time(s)"
        raise AssertionError(
            f"wan-mock: expected {method} *{path_contains}* {count}, saw {len(matching)}; "
            f"all calls:\n{seen}"
        )


class WanFake(WanMock):
    """An in-process fake (``wan_mock``, ``wan_fake``): the app, served by ``transport``."""

    def __init__(
        self,
        base_urls: Sequence[str],
        control: Control,
        transport: AppTransport,
        *,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        super().__init__(base_urls[0], control, dispatcher=dispatcher)
        self.base_urls = tuple(url.rstrip("/") for url in base_urls)
        # An httpx transport, sync and async, whose server is the fake:
        # ``httpx.Client(transport=fake.transport)`` reaches it whatever URL the client uses.
        self.transport = transport

    @property
    def hosts(self) -> frozenset[str]:
        """The hosts (with a port when the base URL gives one) the fake answers."""
        return frozenset(urlsplit(url).netloc for url in self.base_urls)

    def side_effect(self, request: httpx.Request) -> httpx.Response:
        """The fake as a respx side effect, for a route of your own router:
        ``router.route(host="api.mulerouter.ai").mock(side_effect=fake.side_effect)``.

        It serves sync and async clients alike: the app runs on the transport's own event
        loop, so an async caller's loop waits while the fake answers (never for real time,
        as the fake's clock is virtual)."""
        return self.transport.handle_request(request)
