"""Routing httpx traffic to the in-process fake with respx.

respx patches every httpx client, made before or after the test starts. Requests to the fake's
hosts are answered by the app (sync clients through a loop thread, async ones on their own
loop); loopback addresses go through untouched; anything else fails loudly, naming the request
and what is mocked, unless pass-through is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx
import respx
from respx.models import AllMockedAssertionError

from mockserver.testing.bridge import AppTransport

DEFAULT_BASE_URLS = ("https://api.mulerouter.ai", "https://api.mulerun.com")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class UnmockedRequest(AllMockedAssertionError):
    """A request left the test for a host wan-mock does not fake. (respx's own kind of refusal:
    another respx router the test started, for its own hosts, is asked next.)"""


class WanRouter(respx.MockRouter):
    """A respx router that hands the fake's hosts to the app and guards every other host."""

    def __init__(
        self, transport: AppTransport, base_urls: Iterable[str], *, passthrough: bool = False
    ) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=True)
        self.transport = transport
        self.hosts = frozenset(urlsplit(url).netloc for url in base_urls)
        # Loopback is this machine, not the network: local servers (``wan_server`` among them)
        # stay reachable while the fake guards every other host.
        for host in LOOPBACK:
            self.route(host=host).pass_through()
        if passthrough:
            self.route().pass_through()
        else:
            self.route().mock(side_effect=self._refuse)

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

    def _refuse(self, request: httpx.Request) -> httpx.Response:
        hosts = ", ".join(sorted(self.hosts))
        raise UnmockedRequest(
            f"wan-mock: {request.method} {request.url} was not sent: the test fakes only "
            f"{hosts}. Add the base URL with --wan-mock-base-url (or the wan_mock_base_urls "
            "ini option), or let other hosts through with "
            "@pytest.mark.wan_mock(passthrough=True) / --wan-mock-passthrough."
        )
