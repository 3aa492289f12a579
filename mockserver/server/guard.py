"""Who may use the control plane: the rules checked before any ``/_mock`` handler runs.

A fake on a developer's machine is reachable by every web page the developer opens. A page can
send a "simple" cross-origin request (a ``text/plain`` POST) without asking first, and with DNS
rebinding it can even read answers, under a name of its own that resolves to 127.0.0.1. So the
control plane, whatever the admin token says:

- answers only a ``Host`` that names the fake: a loopback name, a configured public name
  (``public_names``, the host of ``public_url``) or the very address the request came in on
  (an IP address cannot be rebound; in process, the name the client called);
- refuses cross-origin requests: an ``Origin`` other than the ``Host``, or a browser's
  ``Sec-Fetch-Site: cross-site`` or ``same-site``;
- takes state-changing calls only as ``application/json``, which no page can send to another
  origin without a CORS preflight the fake never grants;

and then asks for the admin token when one is set, or a loopback client when none is. A browser
cannot add the token's header to the pages it opens, so the dashboard's address also takes it
once as ``?admin_token=``, which the dashboard trades for a ``SameSite=Strict`` cookie the
guard takes too (a cookie no other site's page makes the browser send). The API
is not guarded by the Host rule: reading anything there takes an API key, and clients reach it
under names the fake cannot know (a container's service name). Every refusal is answered
through the control plane's error renderer and names its rule.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver.domain.backend import Backend
from mockserver.domain.errors import AdminRequired, ForeignRequest, UnsupportedMediaType
from mockserver.domain.paths import DASHBOARD_PATH
from mockserver.server.errors import ErrorRenderer, problem_for

ADMIN_HEADER = b"x-wan-mock-admin-token"
ADMIN_COOKIE = "wan_mock_admin_token"  # set by the dashboard (server/dashboard.py)
ADMIN_PARAM = "admin_token"  # taken on the dashboard's entry page only
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# "testclient" is what Starlette's in-process test client reports as the client's address.
LOCAL_CLIENTS = frozenset({"localhost", "testclient"})


class ControlGuard:
    """ASGI middleware around the control plane: refuses what :func:`check` refuses."""

    def __init__(self, app: ASGIApp, backend: Backend[Any], errors: ErrorRenderer) -> None:
        self.app = app
        self.backend = backend
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check(scope, self.backend)
            except (ForeignRequest, UnsupportedMediaType, AdminRequired) as exc:
                problem = problem_for(exc, scope["method"], scope["path"])
                await self.errors.response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def check(scope: Scope, backend: Backend[Any]) -> None:
    """Raises the first rule ``scope`` (an HTTP request to the control plane) breaks."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    host = _text(headers.get(b"host"))
    server = scope.get("server")
    server_host = str(server[0]).lower() if server else None
    if host is not None:
        name, _ = split_host(host)
        if not (_is_loopback(name) or name in backend.runtime.public_names or name == server_host):
            raise ForeignRequest(
                f"Host {host!r} is not a loopback name or a public name of this fake; the "
                "control plane answers only its own names, so that a web page cannot reach it "
                "by DNS rebinding (add the name with --public-name)"
            )
    _check_origin(scope, headers, host)
    if scope["method"] in CHANGES:
        declared = _text(headers.get(b"content-type")) or ""
        media = declared.split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise UnsupportedMediaType(
                f"Content-Type: {scope['method']} on the control plane needs "
                f"application/json, got {media or 'none'!r} (a web page cannot send JSON to "
                "another origin without asking first)"
            )
    _check_admin(scope, headers, backend)


def _check_origin(scope: Scope, headers: dict[bytes, bytes], host: str | None) -> None:
    site = (_text(headers.get(b"sec-fetch-site")) or "").strip().lower()
    if site in ("cross-site", "same-site"):
        raise ForeignRequest(
            f"Sec-Fetch-Site: {site}: the control plane refuses requests a browser sends on "
            "behalf of another site"
        )
    origin = _text(headers.get(b"origin"))
    if origin is None:
        return
    if host is None or not _same_origin(origin.strip(), host, scope.get("scheme", "http")):
        raise ForeignRequest(
            f"Origin {origin!r} is not this fake's own origin ({host!r}); the control plane "
            "refuses cross-origin requests"
        )


def _check_admin(scope: Scope, headers: dict[bytes, bytes], backend: Backend[Any]) -> None:
    token = backend.settings.admin_token
    if token is not None:
        given = headers.get(ADMIN_HEADER) or _browser_token(scope, headers) or b""
        if not hmac.compare_digest(given, token.encode()):
            raise AdminRequired("The control plane needs the admin token in X-Wan-Mock-Admin-Token")
        return
    client = scope.get("client")
    address = str(client[0]) if client else ""
    if not (address in LOCAL_CLIENTS or _is_loopback(address)):
        raise AdminRequired(
            "The control plane answers only loopback clients unless an admin token is set "
            "(--admin-token)"
        )


def _browser_token(scope: Scope, headers: dict[bytes, bytes]) -> bytes | None:
    """The admin token as a browser brings it: the dashboard's cookie, or the query
    parameter of the dashboard's entry page (``GET /_mock/ui?admin_token=...``)."""
    cookies = headers.get(b"cookie")
    if cookies is not None:
        jar = SimpleCookie()
        with contextlib.suppress(CookieError):
            jar.load(cookies.decode("latin-1"))
        if ADMIN_COOKIE in jar:
            value: str = jar[ADMIN_COOKIE].value
            return value.encode()
    if scope["method"] == "GET" and scope["path"] == DASHBOARD_PATH:
        raw: bytes = scope.get("query_string", b"")
        query = parse_qs(raw.decode("latin-1"))
        if ADMIN_PARAM in query:
            return query[ADMIN_PARAM][0].encode()
    return None


def split_host(host: str) -> tuple[str, int | None]:
    """A ``Host`` value (or an origin's authority) as (lower-case name without IPv6 brackets
    and trailing dot, port or None); a malformed port counts as none."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, ""
    number = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else None
    return name.rstrip("."), number


def _same_origin(origin: str, host: str, scheme: str) -> bool:
    """Whether ``origin`` (``scheme://name[:port]``) is the origin the request's ``Host``
    names; ``null`` (a sandboxed or local page) never is."""
    origin_scheme, found, authority = origin.lower().partition("://")
    if not found or "/" in authority or "@" in authority:
        return False
    origin_name, origin_port = split_host(authority)
    name, port = split_host(host)
    if origin_name != name:
        return False
    default = DEFAULT_PORTS.get(origin_scheme)
    return (origin_port or default) == (port or DEFAULT_PORTS.get(scheme, default))


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
