"""Routing httpx traffic to the in-process fake with respx, beside the test's own respx routers.

respx asks the routers it has started in turn and moves on to the next one only when a router
raises ``AllMockedAssertionError``. wan-mock takes two places in that chain:

- the **front**, a router on httpx's clients (respx's ``using="httpx"``), which respx consults
  before any router on httpcore (respx's default, and what ``respx.mock`` and ``respx_mock``
  start). It answers the fake's hosts, whatever other routers run and in whichever order they
  started, and sends every other request on.
- the **fallback**, a router on httpcore that wan-mock keeps last in respx's chain, so that
  every router of the test has seen a request before it: loopback goes through, and a request
  nobody matched is refused with :class:`UnmockedRequest` (or goes through with pass-through).
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from urllib.parse import urlsplit

import httpx
import respx
from respx.models import AllMockedAssertionError

from mockserver.testing.bridge import AppTransport

DEFAULT_BASE_URLS = ("https://api.mulerouter.ai", "https://api.mulerun.com")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class UnmockedRequest(AllMockedAssertionError):
    """A request left the test for a host wan-mock does not fake, and no router matched it.

    It is respx's own "not mocked" error, so respx asks the next router when there is one.
    """


def is_last(router: respx.MockRouter) -> bool:
    """Whether ``router`` is the last of the started routers respx asks (of its own mocker)."""
    routers = router.Mocker.routers if router.Mocker is not None else []
    return bool(routers) and routers[-1] is router


class Fallback(respx.MockRouter):
    """The last router on httpcore: loopback and (with pass-through) every other host go
    through, anything else is refused naming the request and the fake's hosts."""

    def __init__(self, hosts: frozenset[str], *, passthrough: bool) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=True)
        self.hosts = hosts
        # Loopback is this machine, not the network: local servers (``wan_server`` among them)
        # stay reachable while the fake guards every other host.
        self.route(host__in=LOOPBACK).pass_through()
        if passthrough:
            self.route().pass_through()
        else:
            self.route().mock(side_effect=self._refuse)

    def keep_last(self) -> None:
        """Moves this router behind any router the test started after it."""
        if self.Mocker is not None and not is_last(self):
            self.Mocker.unregister(self)
            self.Mocker.register(self)

    def _refuse(self, request: httpx.Request) -> httpx.Response:
        hosts = ", ".join(sorted(self.hosts))
        raise UnmockedRequest(
            f"wan-mock: {request.method} {request.url} was not sent: the test fakes only "
            f"{hosts}. Add the base URL with --wan-mock-base-url (or the wan_mock_base_urls "
            "ini option), or let other hosts through with "
            "@pytest.mark.wan_mock(passthrough=True) / --wan-mock-passthrough."
        )


class Front(respx.MockRouter):
    """The router on httpx's clients: the fake answers its hosts, the rest goes on."""

    def __init__(self, transport: AppTransport, hosts: frozenset[str], fallback: Fallback) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=True, using="httpx")
        self.transport = transport
        self.hosts = hosts
        self.fallback = fallback
        self.route().mock(side_effect=self._onward)

    def ours(self, request: httpx.Request) -> bool:
        return request.url.netloc.decode("ascii") in self.hosts

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.ours(request):
            return self.transport.handle_request(request)
        return super().handler(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if self.ours(request):
            return await self.transport.handle_async_request(request)
        return await super().async_handler(request)

    def _onward(self, request: httpx.Request) -> httpx.Request | None:
        # The request goes to httpcore next, where the test's routers must come first.
        self.fallback.keep_last()
        # Returning the request passes it through; None declines it, so that a router on
        # httpx's clients started after this one still gets its turn.
        return request if is_last(self) else None


class WanRouter:
    """wan-mock's two routers, started and stopped together (a context manager)."""

    def __init__(
        self, transport: AppTransport, base_urls: Iterable[str], *, passthrough: bool = False
    ) -> None:
        self.hosts = frozenset(urlsplit(url).netloc for url in base_urls)
        self.fallback = Fallback(self.hosts, passthrough=passthrough)
        self.front = Front(transport, self.hosts, self.fallback)

    def __enter__(self) -> WanRouter:
        self.fallback.start()
        self.front.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.front.stop(quiet=exc_type is not None)
        self.fallback.stop(quiet=exc_type is not None)
