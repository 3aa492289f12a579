"""The OpenAPI contract, read once, and the request schema the fake validates against.

The fake does not restate the request rules: it validates create bodies with the schema in
``contracts/openapi.yaml``, so the contract and the fake cannot drift apart. The one exception is
the form of image and audio references: the contract gives them patterns (the forms every
client can rely on, and the only ones schema-driven generators draw), while the fake checks
them with its own code (validation.py), which accepts what the service does and names the rule
a value breaks; so the patterns and the alternatives they sit in are left out here.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import yaml

from mockserver.resources import contract_path

REQUEST_SCHEMA = "GenerationRequest"
IMAGE_SCHEMA = "ImageInput"
# The keywords of a reference field that the fake's own checks replace.
_REFERENCE_FORMS = ("oneOf", "pattern")


@functools.cache
def load_contract() -> dict[str, Any]:
    """The contract as a plain dict (parsed once per process; callers must not mutate it)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with contract_path().open("rb") as handle:
        document = yaml.load(handle, Loader=loader)
    if not isinstance(document, dict):
        raise ValueError("the contract is not a YAML mapping")
    return document


def request_schema(*, strict: bool) -> dict[str, Any]:
    """A self-contained JSON Schema for create bodies; ``strict`` forbids undocumented fields."""
    components = copy.deepcopy(load_contract()["components"])
    schemas = components["schemas"]
    for reference in (schemas[IMAGE_SCHEMA], schemas[REQUEST_SCHEMA]["properties"]["audio_url"]):
        for keyword in _REFERENCE_FORMS:
            reference.pop(keyword, None)
    if strict:
        components["schemas"][REQUEST_SCHEMA]["additionalProperties"] = False
    return {"$ref": f"#/components/schemas/{REQUEST_SCHEMA}", "components": components}


def request_fields() -> dict[str, dict[str, Any]]:
    """Each request field's schema, ``$ref`` resolved, a ``oneOf`` of single-typed alternatives
    (``multi_shots``: a boolean or a word) seen as one schema: their types, and every value
    when each alternative is enumerable (so a test-data generator reads ``type`` and ``enum``
    whatever the contract's spelling)."""
    schemas = load_contract()["components"]["schemas"]
    fields = schemas[REQUEST_SCHEMA]["properties"].items()
    resolved = {f: schemas[s["$ref"].rsplit("/", 1)[1]] if "$ref" in s else s for f, s in fields}
    return {field: _flat(schema) for field, schema in resolved.items()}


_ENUMERABLE: dict[str, list[Any]] = {"boolean": [True, False], "null": [None]}


def _flat(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema or "oneOf" not in schema:
        return schema
    alternatives = schema["oneOf"]
    flat = {k: v for k, v in schema.items() if k != "oneOf"}
    flat["type"] = [a["type"] for a in alternatives]
    if all("enum" in a or a["type"] in _ENUMERABLE for a in alternatives):
        flat["enum"] = [v for a in alternatives for v in a.get("enum") or _ENUMERABLE[a["type"]]]
    return flat


def documented_fields() -> tuple[str, ...]:
    """The request fields the contract documents, in contract order."""
    schema = load_contract()["components"]["schemas"][REQUEST_SCHEMA]
    return tuple(schema["properties"])
