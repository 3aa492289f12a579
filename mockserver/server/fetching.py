"""Downloading URL inputs as the real service does (``fetch_urls``).

Each of ``image``, ``last_frame`` and ``audio_url`` given as a URL is downloaded over http(s)
with a deadline (``fetch_timeout``), a size cap (10 MB for an image, 15 MB for audio) and at
most :data:`MAX_REDIRECTS` redirects, followed here one by one. Every hop goes through
:class:`CheckedTransport`, which applies the reachability rule (domain/reachability.py) before
any connection: to the host as written, then to every address the name resolves to, and then
connects to the checked address itself (the name is resolved once, so a DNS answer that changes
in between cannot send the download elsewhere). What arrives is checked like a base64 input
(images) or probed with PyAV (audio). A downloaded image is the video's first frame, as a base64
one is.

Downloads run on a small pool of threads of their own (:data:`FETCHES_AT_ONCE`), never on the
event loop; a create waiting for its downloads does not hold up other requests. Without
``fetch_urls`` nothing here runs and the fake opens no connection at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import msgspec

from mockserver.__about__ import __version__
from mockserver.domain.errors import InvalidRequest
from mockserver.domain.generation import ImageRef
from mockserver.domain.images import MAX_IMAGE_BYTES, check_image_bytes
from mockserver.domain.reachability import (
    InputProblem,
    IPAddress,
    address_reason,
    host_reason,
    parse_ipv4,
)
from mockserver.domain.settings import Settings
from mockserver.domain.validation import ParsedCreate
from mockserver.media.probe import MAX_AUDIO_BYTES, AudioRejected, probe_audio

MAX_REDIRECTS = 3
FETCHES_AT_ONCE = 4
USER_AGENT = f"wan-mock/{__version__} (downloading a task input)"
# The code the real service reports for images whose size is wrong (seen publicly).
DIMENSIONS_CODE = 3001

Resolver = Callable[[str, int], Sequence[IPAddress]]


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the operating system's resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


class Unreadable(Exception):
    """An input the service could not read; ``reason`` follows the field's label."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True, slots=True)
class Policy:
    """The reachability rule as the settings make it."""

    enforce: bool  # dialect unreachable_urls == "fail"
    loopback: bool  # allow_private_urls

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(settings.dialect.unreachable_urls == "fail", settings.allow_private_urls)


class CheckedTransport(httpx.BaseTransport):
    """Refuses a request whose host, or any address it resolves to, the service could not
    reach (before connecting), and connects to the address it checked."""

    def __init__(self, inner: httpx.BaseTransport, policy: Policy, resolve: Resolver) -> None:
        self.inner = inner
        self.policy = policy
        self.resolve = resolve

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        policy = self.policy
        if policy.enforce:
            reason = host_reason(host, loopback=policy.loopback)
            if reason is not None:
                raise Unreadable(reason)
        address = _literal(host)
        if address is None:
            try:
                found = self.resolve(host, url.port or (443 if url.scheme == "https" else 80))
            except (OSError, UnicodeError, ValueError):
                raise Unreadable(f"has a host name that does not resolve ({host})") from None
            if not found:
                raise Unreadable(f"has a host name that does not resolve ({host})")
            if policy.enforce:
                for candidate in found:
                    reason = address_reason(candidate, loopback=policy.loopback)
                    if reason is not None:
                        raise Unreadable(f"has a host name ({host}) that {reason}")
            address = found[0]
        request.url = url.copy_with(host=str(address))
        if url.scheme == "https":  # the certificate is still checked against the name
            request.extensions = {**request.extensions, "sni_hostname": host}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _literal(host: str) -> IPAddress | None:
    if ":" in host:
        return ipaddress.IPv6Address(host.strip("[]"))
    parsed = parse_ipv4(host)
    return parsed if isinstance(parsed, ipaddress.IPv4Address) else None


class Fetcher:
    """Downloads and checks the URL inputs of create requests, a few at a time."""

    def __init__(self, resolve: Resolver = system_resolver) -> None:
        self.resolve = resolve
        self._pool: ThreadPoolExecutor | None = None
        self._ssl: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    async def fetch(
        self, parsed: ParsedCreate, settings: Settings
    ) -> tuple[ParsedCreate, InputProblem | None]:
        """``parsed`` with its URL images downloaded (their facts in the request, their bytes
        beside it), or the first input that could not be read."""
        request, images = parsed.request, dict(parsed.images)
        changes: dict[str, ImageRef] = {}
        for field in ("image", "last_frame"):
            ref = getattr(request, field)
            if ref is None or ref.url is None:
                continue
            try:
                data = await self._run(ref.url, MAX_IMAGE_BYTES, settings)
                facts, _ = check_image_bytes(field, data)
            except Unreadable as exc:
                return parsed, InputProblem(field, exc.reason, exc.code)
            except InvalidRequest as exc:
                violation = exc.violations[0]
                code = DIMENSIONS_CODE if violation.rule == "dimensions" else None
                said = violation.detail.removeprefix(f"{field}: ")
                return parsed, InputProblem(field, f"could not be used: {said}", code)
            changes[field] = msgspec.structs.replace(facts, source="url", url=ref.url)
            if facts.digest is not None:
                images[facts.digest] = data
        if request.audio_url is not None:
            try:
                data = await self._run(request.audio_url, MAX_AUDIO_BYTES, settings)
                probe_audio(data)
            except Unreadable as exc:
                return parsed, InputProblem("audio_url", exc.reason, exc.code)
            except AudioRejected as exc:
                return parsed, InputProblem("audio_url", f"could not be used: it {exc}")
        if changes:
            request = msgspec.structs.replace(request, **changes)
        return ParsedCreate(request, images), None

    async def _run(self, url: str, cap: int, settings: Settings) -> bytes:
        pool = self._executor()
        job = pool.submit(self.download, url, cap, settings.fetch_timeout, Policy.of(settings))
        try:
            return await asyncio.wrap_future(job)
        except (Unreadable, asyncio.CancelledError):
            raise
        except Exception as exc:  # a download must fail its task, never the create (a 500)
            raise Unreadable(f"could not be downloaded ({_why(exc)})") from None

    def download(self, url: str, cap: int, timeout: float, policy: Policy) -> bytes:
        """``url``'s body (at most ``cap`` bytes, within ``timeout`` seconds), following up to
        :data:`MAX_REDIRECTS` redirects, each checked before it is followed; raises
        :class:`Unreadable`."""
        deadline = time.monotonic() + timeout
        inner = httpx.HTTPTransport(verify=self._context(), retries=0)
        transport = CheckedTransport(inner, policy, self.resolve)
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        with httpx.Client(transport=transport, timeout=timeout, headers=headers) as client:
            current = httpx.URL(url)
            for hop in range(MAX_REDIRECTS + 1):
                try:
                    return self._get(client, current, cap, deadline, timeout)
                except _Redirect as moved:
                    if hop == MAX_REDIRECTS:
                        many = f"was redirected more than {MAX_REDIRECTS} times"
                        raise Unreadable(many) from None
                    current = current.join(moved.location)
                    if current.scheme not in ("http", "https"):
                        raise Unreadable(
                            f"was redirected to a URL that is not http(s) ({current.scheme}:)"
                        ) from None
                except Unreadable as exc:
                    if hop == 0:
                        raise
                    raise Unreadable(f"was redirected to a URL that {exc.reason}") from None
                except httpx.TimeoutException:
                    raise Unreadable(f"did not answer within {timeout:g} s") from None
                except (httpx.HTTPError, OSError) as exc:
                    raise Unreadable(f"could not be downloaded ({_why(exc)})") from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _get(
        self, client: httpx.Client, url: httpx.URL, cap: int, deadline: float, timeout: float
    ) -> bytes:
        with client.stream("GET", url) as response:
            if response.is_redirect and "location" in response.headers:
                raise _Redirect(response.headers["location"])
            if response.status_code != 200:
                raise Unreadable(f"answered HTTP {response.status_code} to the download")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise Unreadable(_too_big(int(declared), cap))
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise Unreadable(_too_big(size, cap, more=True))
                if time.monotonic() > deadline:
                    raise Unreadable(f"did not download whole within {timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(FETCHES_AT_ONCE, thread_name_prefix="wan-fetch")
            return self._pool

    def _context(self) -> ssl.SSLContext:
        with self._lock:  # made once: building a context reads the CA bundle (~10 ms)
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            return self._ssl

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _too_big(size: int, cap: int, *, more: bool = False) -> str:
    over = "over" if not more else "more than"
    return f"is {over} {cap // (1024 * 1024)} MB ({size}{'+' if more else ''} bytes)"


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
