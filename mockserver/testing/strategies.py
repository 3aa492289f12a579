"""Hypothesis strategies for create requests, for integrators' own tests.

Install the ``strategies`` extra (``pip install "wan-mock[strategies]"``). Images are real,
small Pillow files, cached per format and size. The schema rules are read from the contract::

    from mockserver.testing import strategies as wst

    @given(wst.valid_requests(duration=10))
    def test_client_sends_accepted_bodies(body: dict) -> None: ...

    @given(wst.invalid_requests(rules=["enum", "dimensions"]))
    def test_client_reports_the_rule(case: tuple[dict, str, str]) -> None:
        body, field, rule = case  # the fake's 400 names this field and rule first
"""

from __future__ import annotations

import base64
import functools
import io
import string
from collections.abc import Callable, Collection, Iterable
from typing import Any, Literal

from hypothesis import strategies as st
from PIL import Image

from mockserver.domain.contract import load_contract, request_fields
from mockserver.domain.images import ALLOWED_FORMATS, MAX_IMAGE_BYTES, MAX_SIDE, MIN_SIDE

Encoding = Literal["bare", "data-uri"]
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "WEBP": "image/webp"}


@functools.lru_cache(maxsize=128)
def encode_image(
    fmt: str, size: tuple[int, int], encoding: Encoding = "bare", mode: str = "RGB"
) -> str:
    """A real flat-colour image in base64, bare or as a data URI (cached). BMP is 1 bit per pixel:
    at 24 bits a 2000x2000 BMP is 12 MB, over the limit."""
    mode = "1" if fmt == "BMP" and mode == "RGB" else mode
    colour: Any = 1 if mode == "1" else (30, 120, 200, 128)[: len(mode)]
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    if encoding == "bare":
        return encoded
    return f"data:{MEDIA_TYPES.get(fmt, 'image/' + fmt.lower())};base64,{encoded}"


def _sizes(low: int, high: int) -> list[tuple[int, int]]:
    # Both boundaries and their neighbours, plus common shapes: few sizes, so few encodes.
    shapes = [(low, low), (high, high), (low, high), (high, low), (low + 1, high - 1)]
    shapes += [(1280, 720), (720, 1280), (1024, 1024)]
    return sorted({(w, h) for w, h in shapes if low <= w <= high and low <= h <= high})


def images(
    formats: Iterable[str] = ALLOWED_FORMATS,
    min_side: int = MIN_SIDE,
    max_side: int = MAX_SIDE,
    encoding: Iterable[Encoding] = ("bare", "data-uri"),
) -> st.SearchStrategy[str]:
    """Real base64 images in ``formats``, each side in ``min_side..max_side`` px (the defaults
    are what the API accepts; ``max_side=359`` gives sizes it refuses)."""
    if min_side < 1 or max_side < min_side:
        raise ValueError(f"need 1 <= min_side <= max_side, got {min_side}..{max_side}")
    return st.builds(
        encode_image,
        st.sampled_from(list(formats)),
        st.sampled_from(_sizes(min_side, max_side)),
        st.sampled_from(list(encoding)),
    )


_names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,15}", fullmatch=True)
# Public hosts only: a URL on loopback or a private network fails its task (domain/reachability).
_hosts = st.sampled_from(["example.com", "cdn.example.org", "example.com:8443", "93.184.215.14"])


def _urls(extensions: Collection[str]) -> st.SearchStrategy[str]:
    return st.builds(
        "{}://{}/{}{}{}".format,
        st.sampled_from(["http", "https"]),
        _hosts,
        st.lists(_names, max_size=3).map(lambda parts: "".join(f"{p}/" for p in parts)),
        st.tuples(_names, st.sampled_from(list(extensions))).map(".".join),
        st.one_of(st.just(""), _names.map("?v={}".format)),
    )


def image_urls() -> st.SearchStrategy[str]:
    """Absolute http(s) URLs of image files on public hosts (not fetched unless ``fetch_urls``:
    their tasks succeed)."""
    return _urls(["jpg", "jpeg", "png", "bmp", "webp"])


def image_refs() -> st.SearchStrategy[str]:
    """Any accepted ``image``/``last_frame`` value: an image URL or a base64 image."""
    return st.one_of(images(), image_urls())


def audio_urls() -> st.SearchStrategy[str]:
    """Accepted ``audio_url`` values: http(s) URLs of .wav or .mp3 files."""
    return _urls(["wav", "mp3", "WAV", "MP3"])


@functools.cache
def _oversized_bmp() -> str:
    # A real BMP padded past the limit with trailing bytes (about 14 MB of base64; made once).
    raw = base64.b64decode(encode_image("BMP", (400, 400)))
    return base64.b64encode(raw.ljust(MAX_IMAGE_BYTES + 1, b"\0")).decode("ascii")


def _invalid_image_values() -> dict[str, st.SearchStrategy[str]]:
    enc = st.sampled_from(["bare", "data-uri"])
    sides = [(MIN_SIDE - 1, 400), (400, MIN_SIDE - 1), (MAX_SIDE + 1, 400), (400, MAX_SIDE + 1)]
    junk = st.binary(max_size=32).map(lambda b: base64.b64encode(b"not an image" + b).decode())
    text = st.text(string.ascii_letters + string.digits + "+/=", max_size=12)
    img, square = functools.partial(st.builds, encode_image), st.just((400, 400))
    return {
        "format": img(st.sampled_from(["GIF", "TIFF"]), square, enc)
        | junk
        | st.just("data:text/plain;base64,AAAA"),
        "transparency": img(st.just("PNG"), square, enc, st.sampled_from(["RGBA", "LA"])),
        "dimensions": img(st.sampled_from(ALLOWED_FORMATS), st.sampled_from(sides), enc),
        "size": st.builds(_oversized_bmp),
        "base64": st.one_of(
            st.builds("{}!{}".format, text, text),
            st.sampled_from(["data:image/png,AAAA", "data:image/png;base64", "QUJ"]),
        ),
        "url": st.one_of(
            st.builds("{}://example.com/{}.jpg".format, st.sampled_from(["ftp", "file"]), _names),
            st.builds("https://exa mple.com/{}.png".format, _names),
        ),
    }


def invalid_images() -> st.SearchStrategy[tuple[str, str]]:
    """``(value, rule)``: an image input the fake refuses and the rule its 400 names: ``format``
    (GIF, TIFF, not an image, non-image data URI), ``transparency`` (PNG with alpha),
    ``dimensions`` (a side of 359 or 2001 px), ``size`` (over 10 MiB decoded: one cached 14 MB
    sample), ``base64`` (undecodable) or ``url`` (not http(s), or with a space)."""
    return st.one_of([st.tuples(s, st.just(r)) for r, s in _invalid_image_values().items()])


# One small strategy per JSON type (numbers are never integral: 5.0 counts as an integer).
_JSON: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=8),
    "integer": st.integers(-(2**40), 2**40),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x % 1 != 0),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(st.none(), max_size=2),
    "object": st.dictionaries(st.text(max_size=3), st.none(), max_size=2),
}


def _json(types: Iterable[str]) -> st.SearchStrategy[Any]:
    return st.one_of([_JSON[t] for t in sorted(types)])


@functools.cache
def _fields() -> dict[str, dict[str, Any]]:
    """The contract's schema of each request field (read, never restated)."""
    return request_fields()


def _types(schema: dict[str, Any]) -> set[str]:
    return {t} if isinstance(t := schema["type"], str) else set(t)


def _optional_fields() -> dict[str, st.SearchStrategy[Any]]:
    fields, seed = _fields().items(), _fields()["seed"]
    return {
        **{f: _json(_types(s)) for f, s in fields if _types(s) <= {"boolean", "null"}},
        **{f: st.sampled_from(s["enum"]) for f, s in fields if "enum" in s},
        "negative_prompt": st.text(max_size=500),
        "audio_url": st.one_of(audio_urls(), st.none()),
        "seed": st.integers(seed["minimum"], seed["maximum"]),
        "last_frame": image_refs(),
    }


def valid_requests(**overrides: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Create bodies the API accepts, every optional field sometimes present. ``overrides`` pin
    fields to a value or a strategy: ``valid_requests(duration=10, image=images(["PNG"]))``."""
    prompts = st.one_of(st.text(min_size=1, max_size=100), st.integers(1, 2000).map("a".__mul__))
    required: dict[str, st.SearchStrategy[Any]] = {"prompt": prompts, "image": image_refs()}
    optional = _optional_fields()
    for field, value in overrides.items():
        optional.pop(field, None)
        required[field] = value if isinstance(value, st.SearchStrategy) else st.just(value)
    return st.fixed_dictionaries(required, optional=optional)


# How to break each keyword of a field's schema. Every boolean and null an enum allows is listed,
# so an enum is broken with its other types.
_BREAK: dict[str, Callable[[dict[str, Any]], st.SearchStrategy[Any]]] = {
    "type": lambda s: _json(_JSON.keys() - _types(s)),
    "enum": lambda s: _json(_types(s) - {"boolean", "null"}).filter(lambda v: v not in s["enum"]),
    "minLength": lambda s: st.just("x" * (s["minLength"] - 1)),
    "maxLength": lambda s: st.integers(1, 100).map(lambda n: "x" * (s["maxLength"] + n)),
    "minimum": lambda s: st.integers(-(2**63), s["minimum"] - 1),
    "maximum": lambda s: st.integers(s["maximum"] + 1, 2**63 - 1),
}


def _breaks() -> list[tuple[str, str, st.SearchStrategy[Any]]]:
    """(field, rule, bad value): every keyword of the contract's schema, then content rules."""
    required = load_contract()["components"]["schemas"]["GenerationRequest"]["required"]
    cases: list[tuple[str, str, st.SearchStrategy[Any]]]
    cases = [(f, "required", st.just(None)) for f in required]
    cases += [(f, k, b(s)) for f, s in _fields().items() for k, b in _BREAK.items() if k in s]
    cases += [
        ("audio_url", "url", st.sampled_from(["ftp://example.com/a.mp3", "http://a b/c.wav"])),
        ("audio_url", "extension", _urls(["ogg", "wav.txt", "mp4"])),
    ]
    bad_images = _invalid_image_values()
    return cases + [(f, r, s) for f in ("image", "last_frame") for r, s in bad_images.items()]


def rules() -> list[tuple[str, str]]:
    """Every ``(field, rule)`` pair :func:`invalid_requests` can break, in a stable order (the
    contract suite sends one body for each)."""
    return [(field, rule) for field, rule, _ in _breaks()]


def invalid_requests(
    *, fields: Iterable[str] | None = None, rules: Iterable[str] | None = None
) -> st.SearchStrategy[tuple[dict[str, Any], str, str]]:
    """``(body, field, rule)``: a valid body with exactly one rule broken, and the ``field`` and
    ``rule`` the fake's 400 names first (a wrong type on an enum field also breaks the enum; the
    fake reports ``type`` first). ``fields`` and ``rules`` narrow the choice.
    """
    by_field, by_rule = (None if x is None else set(x) for x in (fields, rules))
    cases = [c for c in _breaks() if c[0] in (by_field or c[:1]) and c[1] in (by_rule or c[1:2])]
    if not cases:
        raise ValueError(f"no rule matches fields={fields!r}, rules={rules!r}")

    @st.composite
    def broken(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
        field, rule, values = draw(st.sampled_from(cases))
        body = {k: v for k, v in draw(valid_requests()).items() if k != field}
        if rule != "required":
            body[field] = draw(values)
        return body, field, rule

    return broken()


__all__ = ["MEDIA_TYPES", "audio_urls", "encode_image", "image_refs", "image_urls", "images"]
__all__ += ["invalid_images", "invalid_requests", "rules", "valid_requests"]
