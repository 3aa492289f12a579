"""The target of a run: one base URL, spoken to over httpx, with the budget and the manners
that make it safe to point at the real, billed API.

Every response the run gets, from httpx here or from schemathesis, is shown to an
:class:`~mockserver.conformance.observer.Observer` (for the drift report). Secrets given to
:class:`Redactor` are replaced in every string that leaves the run.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from mockserver.conformance.budget import GatedTransport, Spend, carries
from mockserver.conformance.observer import Observer
from mockserver.conformance.results import Tally

_EXPLANATIONS = ("detail", "error", "message")  # where clients look for why, in this order


def check_base_url(url: str) -> str:
    """``url`` if it is an http(s) base URL without credentials; else ValueError, whose message
    never repeats a password (credentials belong in the key's variable, never in the URL:
    httpx would send them as Basic auth on every request)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ValueError(f"not an http(s) base URL: {_without_userinfo(url)!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) base URL: {_without_userinfo(url)!r}")
    if parsed.userinfo:
        raise ValueError(
            f"the base URL carries credentials ({_without_userinfo(url)}): pass the key in "
            "its environment variable (--token-env), never in the URL"
        )
    return url


def _without_userinfo(url: str) -> str:
    return re.sub(r"(?<=://)[^/@]*@", "***@", url)


class NoAnswer(RuntimeError):
    """One request got no answer in time (or the connection broke mid-answer): a failed check
    (``contract.answers_in_time``), never the end of the run."""


class Redactor:
    """Replaces each secret by ``***`` (tokens must never reach output, logs or reports)."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class EnvironmentProxies(httpx.BaseTransport):
    """Sends each request through the proxy the environment names for its host, or directly
    (loopback, ``NO_PROXY``, no proxy named): the target and the video links it hands out
    (which may be on any host) alike."""

    def __init__(self) -> None:
        self._direct = httpx.HTTPTransport()
        self._proxied: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._for(request.url).handle_request(request)

    def _for(self, url: httpx.URL) -> httpx.HTTPTransport:
        host = url.host
        if host in ("127.0.0.1", "::1", "localhost") or urllib.request.proxy_bypass(host):
            return self._direct
        proxy = urllib.request.getproxies().get(url.scheme)
        if not proxy:
            return self._direct
        if proxy not in self._proxied:
            self._proxied[proxy] = httpx.HTTPTransport(proxy=proxy)
        return self._proxied[proxy]

    def close(self) -> None:
        self._direct.close()
        for transport in self._proxied.values():
            transport.close()


class _Unanswered:
    """What :func:`curl` needs of a request that got no response."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request


def parse_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def curl(response: Any) -> str:
    """A shell command that repeats the request ``response`` answered (unredacted: the run
    redacts everything it writes). A body over 2,000 characters is cut, and says so."""
    request = getattr(response, "request", None)
    if not isinstance(request, httpx.Request):
        return ""
    parts = ["curl", "-X", request.method, shlex.quote(str(request.url))]
    for name, value in request.headers.items():
        if name.lower() not in _CURL_SKIPS:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    content = request.content
    if content:
        text = content.decode("utf-8", "backslashreplace")
        if len(text) > 2000:
            text = text[:2000]
            parts.insert(0, f"# body of {len(content)} bytes cut to 2,000 characters:")
        parts += ["--data-raw", shlex.quote(text)]
    return " ".join(parts)


_CURL_SKIPS = frozenset({"host", "content-length", "accept-encoding", "connection", "user-agent"})


# Alibaba's upstream allows 5 task submissions and 20 task queries a second: a run sends at
# most 4 creates (its min_gap) and 10 queries a second to a billed target.
QUERY_GAP = 0.1
QUICK = 2.0  # seconds a request that needs no work to refuse may wait (or --timeout, if less)
QUICK_BYTES = 64 * 1024


def needs_no_work(request: httpx.Request) -> bool:
    """A small body that is not JSON at all: any server refuses it at once (some mock servers
    never answer it; waiting the whole ``--timeout`` for each would stall a run)."""
    body = request.content
    if not body or len(body) > QUICK_BYTES:
        return False
    try:
        json.loads(body)
    except ValueError:  # not UTF-8 or not JSON
        return True
    return False


class Target:
    """An httpx client of ``base_url`` that obeys ``Retry-After`` and reports every answer.

    Every request leaves through the budget's gate (:class:`GatedTransport`), and one that
    gets no answer within ``timeout`` is a failed check, then :class:`NoAnswer`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        observer: Observer,
        spend: Spend | None = None,
        tally: Tally | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        min_gap: float = 0.0,
    ) -> None:
        self.base_url = check_base_url(base_url).rstrip("/")
        self.token = token
        self.observer = observer
        self.spend = spend if spend is not None else Spend(0, cautious=True)
        self.tally = tally
        self.timeout = timeout
        self.requests = 0
        self.answers: list[tuple[int, bool]] = []  # (status, sent with the run's key)
        self.created_ids: set[str] = set()
        self._sleep = sleep
        self._not_before = 0.0
        # For a fake whose clock the run moves: a Retry-After is waited out on that clock
        # (it returns False when the fake refuses, and the wait is real).
        self.move_clock: Callable[[float], bool] | None = None
        self.min_gap = min_gap  # seconds between any two requests (a live API's rate limits)
        # Called before each request: the lifecycle polls its tasks in the gaps of other work.
        self.between: Callable[[], None] | None = None
        self._last = float("-inf")
        inner = transport if transport is not None else EnvironmentProxies()
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=GatedTransport(inner, self.spend, token),
            # The gate must see every request: proxies from the environment would be mounted
            # beside it, so the one proxy that applies sits inside it instead (_transport).
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token if token is not None else self.token}"}

    def call(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """One request to the API, after any wait a previous ``Retry-After`` asked for."""
        self.pause(method)
        request = self.http.build_request(method, path, headers=dict(headers or {}), **kw)
        return self.send(request)

    def send(self, request: httpx.Request) -> httpx.Response:
        """Send a built request (the gate may refuse it: :class:`BudgetExceeded`)."""
        if needs_no_work(request):
            quick = min(QUICK, self.timeout)
            request.extensions["timeout"] = httpx.Timeout(quick).as_dict()
        try:
            response = self.http.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise  # nothing answers at all: the run cannot go on
        except (
            httpx.TimeoutException,
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
        ) as exc:
            self.requests += 1
            what = f"{request.method} {request.url.path}"
            waited = request.extensions.get("timeout", {}).get("read") or self.timeout
            reason = f"{what}: no answer within {waited:g} s ({type(exc).__name__})"
            if self.tally is not None:
                self.tally.fail("contract.answers_in_time", reason, _Unanswered(request))
            raise NoAnswer(reason) from None
        self.requests += 1
        self.answers.append((response.status_code, carries(request, self.token)))
        if self.tally is not None:
            self.tally.ok("contract.answers_in_time", response)
        self.seen(response, create=request.method == "POST")
        if request.method == "POST" and response.status_code < 300:
            self._created(response)
        if response.status_code >= 400 and self.tally is not None:
            self._explained(response)
            check_error_keys(self.tally, response)
        return response

    def _explained(self, response: httpx.Response) -> None:
        body = parse_json(response)
        info = body.get("task_info") if isinstance(body, dict) else None
        said = isinstance(body, dict) and any(body.get(k) for k in _EXPLANATIONS)
        said = said or (isinstance(info, dict) and bool(info.get("error")))
        where = f"{response.request.method} {response.request.url.path}"
        shape = "{" + ", ".join(sorted(body)) + "}" if isinstance(body, dict) else "not JSON"
        assert self.tally is not None
        self.tally.check(
            "contract.error_explained",
            said,
            f"{where} -> {response.status_code} with {shape}: nothing says why",
            response,
        )
        if response.status_code in (429, 503) and response.request.method != "GET":
            value = response.headers.get("retry-after", "")
            self.tally.check(
                "lifecycle.retry_after",
                value.strip().isdigit(),
                f"{where} -> {response.status_code} with Retry-After {value!r}",
                response,
            )

    def _created(self, response: httpx.Response) -> None:
        if self.tally is not None:
            # contracts/openapi.yaml lists 200 too, so that clients accept it; a server that
            # sends it differs from the documentation all the same.
            self.tally.check(
                "lifecycle.accepted_202",
                response.status_code == 202,
                f"POST {response.request.url.path}: a create was accepted with "
                f"{response.status_code}; the documented status is 202",
                response,
            )
        body = parse_json(response)
        info = body.get("task_info") if isinstance(body, dict) else None
        task_id = info.get("id") if isinstance(info, dict) else None
        if not isinstance(task_id, str) or self.tally is None:
            return
        if task_id in self.created_ids:
            reason = f"task id {task_id} was given to two creates"
            self.tally.fail("lifecycle.distinct_ids", reason, response)
        elif self.created_ids:
            self.tally.ok("lifecycle.distinct_ids", response)
        self.created_ids.add(task_id)

    def seen(self, response: httpx.Response, *, create: bool) -> None:
        self.observer.response(
            response.status_code, response.headers, parse_json(response), create=create
        )
        self.note_retry_after(response.status_code, response.headers.get("retry-after"))

    def note_retry_after(self, status: int, value: str | None) -> None:
        if status in (429, 503) and value is not None and value.strip().isdigit():
            seconds = int(value)
            if self.move_clock is not None and self.move_clock(seconds):
                return
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def pause(self, method: str = "POST") -> None:
        """Run the ``between`` hook, then wait out any ``Retry-After`` and keep the gap since
        the previous request: ``min_gap`` before a create (any POST), at most QUERY_GAP before
        a query (a GET: the upstream allows four times as many queries as creates)."""
        hook, self.between = self.between, None  # the hook's own requests do not re-enter it
        if hook is not None:
            try:
                hook()
            finally:
                self.between = hook
        now = time.monotonic()
        gap = self.min_gap if method.upper() != "GET" else min(self.min_gap, QUERY_GAP)
        wait = max(self._not_before, self._last + gap) - now
        if wait > 0:
            self._sleep(wait)
        self._last = now + max(wait, 0.0)


# The top-level keys of the error bodies in the public record (see the contract's Error).
DOCUMENTED_ERROR_KEYS = frozenset(
    {"error_code", "title", "detail", "error", "message", "task_info"}
)


def check_error_keys(tally: Any, response: httpx.Response) -> None:
    """``contract.error_keys``: an error body sends no key the public record does not show, so
    a client written against the fake reads nothing the service never sends. Against the live
    API, a failure lists the keys it does send."""
    body = parse_json(response)
    if not isinstance(body, dict):
        return  # contract.error_explained reports bodies that are not JSON objects
    extra = sorted(set(body) - DOCUMENTED_ERROR_KEYS)
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    tally.check(
        "contract.error_keys",
        not extra,
        f"{where} sent undocumented keys {', '.join(extra)} (all: {', '.join(sorted(body))})",
        response,
    )
