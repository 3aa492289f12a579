"""Which URL inputs the real service could never download.

The real service fetches ``image``, ``last_frame`` and ``audio_url`` from the internet, so a URL
on the caller's machine or private network cannot be read there. This module decides that from
the URL's text alone (no DNS): hosts that are addresses outside the public internet, however
they are spelled, and names that only resolve on a local network. The fetcher applies the same
rule to every redirect and to each address a name resolves to.

IPv4 hosts are read the way URL parsers and ``inet_aton`` read them, so ``2130706433``,
``0x7f.1``, ``017700000001`` and ``127.1`` are all 127.0.0.1. An IPv6 address that carries an
IPv4 one (mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``, the old
compatible ``::a.b.c.d``) is judged by the IPv4 address inside.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from mockserver.domain.generation import GenerationRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOCAL_NAMES = ("localhost",)
# Suffixes of names that resolve on a local network only (RFC 6761, 6762, 8375, ICANN's
# .internal, and the .lan home routers use).
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
URL_FIELDS = ("image", "last_frame", "audio_url")

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True, slots=True)
class InputProblem:
    """Why the input in ``field`` could not be read; ``code`` is the task failure code, or
    None for the dialect's code for an unreadable input."""

    field: str
    reason: str
    code: int | None = None

    @property
    def detail(self) -> str:
        """The reason with the field named: ``image URL points to a private address ...``."""
        return f"{label(self.field)} {self.reason}"


def label(field: str) -> str:
    return field if field.endswith("_url") else f"{field} URL"


def unreachable_input(request: GenerationRequest, *, loopback: bool = False) -> InputProblem | None:
    """The first URL input of ``request`` that the real service could not reach, if any;
    ``loopback``: the fake's own machine counts as reachable (a test's image server)."""
    for field, url in (
        ("image", request.image.url),
        ("last_frame", request.last_frame.url if request.last_frame is not None else None),
        ("audio_url", request.audio_url),
    ):
        if url is not None:
            reason = url_reason(url, loopback=loopback)
            if reason is not None:
                return InputProblem(field, reason)
    return None


@functools.lru_cache(maxsize=1024)
def url_reason(url: str, *, loopback: bool = False) -> str | None:
    """Why the service could not reach ``url`` (an http(s) URL already checked for syntax),
    or None when it is a public name or address. Cached: clients send the same URLs again."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        return "has no host the service could reach"
    return host_reason(host, loopback=loopback)


def host_reason(host: str, *, loopback: bool = False) -> str | None:
    """Why ``host`` (a name or an address literal, without brackets) is unreachable from the
    internet, or None when it may be reachable."""
    host = host.lower().rstrip(".") if host != "." else host
    try:
        address: IPAddress | None = ipaddress.IPv6Address(host) if ":" in host else None
    except ValueError:
        return f"has a malformed IPv6 address ({host})"
    if address is None:
        parsed = parse_ipv4(host)
        if parsed is False:
            return f"has a host that is not a valid IPv4 address ({host})"
        address = parsed
    if address is not None:
        return address_reason(address, loopback=loopback)
    if loopback and (host == "localhost" or host.endswith(".localhost")):
        return None
    if host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES):
        return f"points to a local network name ({host}) the service cannot resolve"
    if "." not in host:
        return f"points to a single-label name ({host}) that only resolves on a local network"
    return None


def address_reason(address: IPAddress, *, loopback: bool = False) -> str | None:
    """Why the service cannot reach ``address``, or None for a public one (or a loopback one,
    with ``loopback``)."""
    kind = address_kind(address)
    if kind is None or (loopback and kind == "loopback"):
        return None
    inner = _embedded(address) if isinstance(address, ipaddress.IPv6Address) else None
    shown = f"{inner} inside {address}" if inner is not None else str(address)
    return f"points to {_article(kind)} {kind} address ({shown}) the service cannot reach"


def address_kind(address: IPAddress) -> str | None:
    """The class of a non-public address (loopback, private, ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded(address)
        if inner is not None:
            return address_kind(inner)
        if address in _NAT64_LOCAL:
            return "reserved"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:  # shared address space (100.64.0.0/10), and the like
        return "reserved"
    return None


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | Literal[False] | None:
    """``host`` read as an IPv4 address the way URL parsers do (decimal, ``0x`` hex and
    leading-zero octal parts, one to four of them); None when it is a name, False when it
    ends in a number but is no valid address (no client would resolve it as a name)."""
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts or not _numeric(parts[-1]):
        return None
    if len(parts) > 4:
        return False
    numbers = [_number(part) for part in parts]
    if any(n is None for n in numbers):
        return False
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(values)):
        return False
    value = last
    for index, n in enumerate(head):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _numeric(part: str) -> bool:
    return _number(part) is not None


def _number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0 if base != 10 else None
    if not digits.isascii():
        return None
    if base != 16:  # checked, not tried: a name's last label ("com") is the common case
        valid = digits.isdigit() and (base == 10 or not ("8" in digits or "9" in digits))
        return int(digits, base) if valid else None
    try:
        return int(digits, 16) if digits.isalnum() else None
    except ValueError:
        return None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
