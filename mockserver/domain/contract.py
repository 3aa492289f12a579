"""The OpenAPI contract, read once, and the request schema the fake validates against.

The fake does not restate the request rules: it validates create bodies with the schema in
``contracts/openapi.yaml``, so the contract and the fake cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import yaml

from mockserver.resources import contract_path

REQUEST_SCHEMA = "GenerationRequest"


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
    if strict:
        components["schemas"][REQUEST_SCHEMA]["additionalProperties"] = False
    return {"$ref": f"#/components/schemas/{REQUEST_SCHEMA}", "components": components}


def documented_fields() -> tuple[str, ...]:
    """The request fields the contract documents, in contract order."""
    schema = load_contract()["components"]["schemas"][REQUEST_SCHEMA]
    return tuple(schema["properties"])
