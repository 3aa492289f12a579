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


def documented_fields() -> tuple[str, ...]:
    """The request fields the contract documents, in contract order."""
    schema = load_contract()["components"]["schemas"][REQUEST_SCHEMA]
    return tuple(schema["properties"])
