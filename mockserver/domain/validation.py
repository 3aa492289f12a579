"""Validation of create bodies: the contract's JSON Schema first, then the rules a schema
cannot say (image contents, URL syntax, audio file types).

Each broken rule becomes a :class:`Violation` naming the field and the rule, so a 400 can tell
the client exactly what to fix.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any, cast

import jsonschema_rs

from mockserver.domain.contract import request_schema
from mockserver.domain.errors import InvalidRequest, Violation
from mockserver.domain.generation import GenerationRequest, ImageRef, Resolution, ShotType
from mockserver.domain.images import check_url, read_image

AUDIO_EXTENSIONS = (".wav", ".mp3")
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class ParsedCreate:
    """A valid create request and the decoded bytes of its base64 images, by digest (the task
    keeps only the digests; the bytes go to whatever renders the result video)."""

    request: GenerationRequest
    images: Mapping[str, bytes] = default(default_factory=dict)


class RequestValidator:
    """Turns a decoded JSON body into a :class:`GenerationRequest`, or raises a 400."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self._schema = jsonschema_rs.validator_for(request_schema(strict=strict))

    def validate(self, payload: Any) -> GenerationRequest:
        """The parsed request, or :class:`InvalidRequest` listing every broken rule."""
        return self.parse(payload).request

    def parse(self, payload: Any) -> ParsedCreate:
        """:meth:`validate`, keeping the decoded bytes of base64 images."""
        if not isinstance(payload, dict):
            raise InvalidRequest.single(
                "body", "type", f"body: must be a JSON object, got {_json_type(payload)}"
            )
        violations = self._schema_violations(payload)
        # Content checks run even when the schema failed, for the fields whose type was right,
        # so that one answer lists everything to fix.
        flagged = {v.field for v in violations}
        content: dict[str, Any] = {}
        for field, check in _CONTENT_CHECKS:
            value = payload.get(field)
            if isinstance(value, str) and field not in flagged:
                try:
                    content[field] = check(field, value)
                except InvalidRequest as exc:
                    violations.extend(exc.violations)
        if violations:
            raise InvalidRequest(violations)
        images: dict[str, bytes] = {}
        for name in ("image", "last_frame"):
            if isinstance(content.get(name), tuple):
                ref, data = content[name]
                content[name] = ref
                if data is not None and ref.digest is not None:
                    images[ref.digest] = data
        return ParsedCreate(_build(payload, content), images)

    def _schema_violations(self, payload: dict[str, Any]) -> list[Violation]:
        try:
            if self._schema.is_valid(payload):
                return []
            return [v for error in self._schema.iter_errors(payload) for v in _violations(error)]
        except ValueError:
            # The schema library refuses values nested past its recursion limit (a few hundred
            # levels; the JSON parser allows more). No documented field takes an array or an
            # object, so emptying every container changes no verdict: validate that instead.
            shallow = {
                k: type(v)() if isinstance(v, dict | list) else v for k, v in payload.items()
            }
            return self._schema_violations(shallow)


def _check_audio_url(field: str, value: str) -> str:
    check_url(field, value)
    path = value.split("?", 1)[0].split("#", 1)[0].lower()
    if not path.endswith(AUDIO_EXTENSIONS):
        raise InvalidRequest.single(
            field, "extension", f"{field}: must point to a .wav or .mp3 file"
        )
    return value


_CONTENT_CHECKS: tuple[tuple[str, Callable[[str, str], Any]], ...] = (
    ("image", read_image),
    ("last_frame", read_image),
    ("audio_url", _check_audio_url),
)


def _build(body: dict[str, Any], content: dict[str, Any]) -> GenerationRequest:
    image: ImageRef = content["image"]
    last_frame: ImageRef | None = content.get("last_frame")
    audio_url: str | None = content.get("audio_url")
    return GenerationRequest(
        prompt=body["prompt"],
        image=image,
        negative_prompt=body.get("negative_prompt"),
        # Interned: many tasks then share one string instead of holding a copy each.
        resolution=cast(Resolution, sys.intern(body.get("resolution", "720P"))),
        duration=int(body.get("duration", 5)),
        prompt_extend=body.get("prompt_extend", True),
        shot_type=cast(ShotType, sys.intern(_shot_type(body))),
        audio=_default(body.get("audio"), True),
        audio_url=audio_url,
        seed=None if body.get("seed") is None else int(body["seed"]),
        safety_filter=_default(body.get("safety_filter"), True),
        last_frame=last_frame,
    )


def _shot_type(body: dict[str, Any]) -> Any:
    # `shot_type` is the documented field; `multi_shots` (bool or "single"/"multi") is the older
    # spelling some clients send. When both are present the documented one wins.
    if body.get("shot_type") is not None:
        return body["shot_type"]
    legacy = body.get("multi_shots")
    return "multi" if legacy is True or legacy == "multi" else "single"


def _default(value: Any, default: bool) -> bool:
    return default if value is None else bool(value)


def _violations(error: jsonschema_rs.ValidationError) -> list[Violation]:
    path = [str(part) for part in error.instance_path]
    rule = str(error.schema_path[-1]) if error.schema_path else "schema"
    kind: Any = error.kind  # the stubs do not type each kind's attributes
    if rule in ("oneOf", "anyOf") and getattr(kind, "context", None):
        return _alternatives(error, kind.context)
    got: Any = error.instance
    if rule == "required":
        field = ".".join([*path, str(kind.property)])
        return [Violation(field, rule, f"{field}: is required")]
    if rule == "additionalProperties":
        return [
            Violation(
                str(name),
                rule,
                f"{name}: not a documented field (strict mode rejects undocumented fields)",
            )
            for name in kind.unexpected
        ]
    field = ".".join(path) or "body"
    if rule == "type":
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in kind.types)
        detail = f"must be {wanted}, got {_json_type(got)}"
    elif rule == "enum":
        options = ", ".join(json.dumps(option) for option in kind.options)
        detail = f"must be one of {options}; got {_short(got)}"
    elif rule == "minLength":
        detail = "must not be empty" if kind.limit == 1 else f"needs {kind.limit}+ characters"
    elif rule == "maxLength":
        detail = f"must be at most {kind.limit} characters, got {len(got)}"
    elif rule in ("minimum", "maximum"):
        detail = f"must be {'at least' if rule == 'minimum' else 'at most'} {kind.limit}, got {got}"
    else:
        detail = error.message[:200]
    return [Violation(field, rule, f"{field}: {detail}")]


def _alternatives(
    error: jsonschema_rs.ValidationError, branches: list[list[jsonschema_rs.ValidationError]]
) -> list[Violation]:
    """A value no alternative of a ``oneOf`` (a field of several types, such as
    ``multi_shots``) admits: the complaints of the alternatives of its JSON type, or one
    ``type`` violation naming every type allowed when none has its type."""
    typed = [b for b in branches if not any(str(e.schema_path[-1]) == "type" for e in b)]
    if typed:
        return [v for branch in typed for e in branch for v in _violations(e)]
    field = ".".join(str(part) for part in error.instance_path) or "body"
    wanted: list[str] = []
    for branch in branches:
        for failed in branch:
            kind: Any = failed.kind
            if str(failed.schema_path[-1]) == "type":
                wanted += [
                    _TYPE_NAMES.get(t, t) for t in kind.types if _TYPE_NAMES.get(t, t) not in wanted
                ]
    detail = f"must be {' or '.join(wanted)}, got {_json_type(error.instance)}"
    return [Violation(field, "type", f"{field}: {detail}")]


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
    "object": "an object",
    "array": "an array",
    "number": "a number",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["GenerationRequest", "ImageRef", "ParsedCreate", "RequestValidator"]
