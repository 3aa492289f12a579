"""``wan_mock.webhooks``: a test's handle on the fake's webhook deliveries.

Endpoints are registered through the control plane, so a served fake (``wan_server``) and an
in-process one (``wan_mock``) are driven the same way. In process, a delivery can also go
straight to an ASGI app the test names (or any httpx transport) with :meth:`route`: no server,
no port. Both fixtures run a virtual clock, so deliveries are made when the test moves it
(``wan_mock.advance``), forces an end, or calls :meth:`deliver_due`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from mockserver.control import Control, WebhookAttempt, WebhookEndpoint

if TYPE_CHECKING:
    from mockserver.server.webhooks import Dispatcher


class WanWebhooks:
    """Endpoints, deliveries and the delivery log of one fake."""

    def __init__(self, control: Control, dispatcher: Dispatcher | None = None) -> None:
        self.control = control
        self._dispatcher = dispatcher

    def add(
        self,
        url: str,
        events: list[str] | None = None,
        *,
        key: str | None = None,
        secret: str | None = None,
        app: Any = None,
    ) -> WebhookEndpoint:
        """Register an endpoint; its ``secret`` (made up unless given) is in the answer. With
        ``app`` (an ASGI app or an httpx transport), deliveries to ``url``'s host go to it."""
        if app is not None:
            self.route(url, app)
        return self.control.add_webhook(url, events, key=key, secret=secret)

    def route(self, url: str, app: Any) -> None:
        """Deliver to ``url``'s scheme and host through ``app``, in process: an ASGI app
        (called like a server would call it) or an ``httpx.AsyncBaseTransport``."""
        if self._dispatcher is None:
            raise RuntimeError(
                "wan-mock: webhooks.route() needs the in-process fake (wan_mock); a served "
                "fake (wan_server) delivers over HTTP to a URL on loopback"
            )
        transport = app if isinstance(app, httpx.AsyncBaseTransport) else httpx.ASGITransport(app)
        self._dispatcher.route(url, transport)

    def endpoints(self) -> list[WebhookEndpoint]:
        return self.control.webhooks()

    def remove(self, endpoint_id: str) -> None:
        self.control.delete_webhook(endpoint_id)

    @property
    def attempts(self) -> list[WebhookAttempt]:
        """Every delivery attempt in this test, oldest first."""
        return self.control.deliveries()

    def delivered(self) -> list[WebhookAttempt]:
        """The attempts a receiver answered with a 2xx."""
        return [a for a in self.attempts if a.outcome == "delivered"]

    def deliver_due(self) -> int:
        """Make every attempt due now; returns how many were made."""
        return self.control.deliver_due()

    def redeliver(self, event_id: str) -> int:
        return self.control.redeliver(event_id)
