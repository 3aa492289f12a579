"""Files that ship with the package: the OpenAPI contract.

In a wheel they sit inside the package (hatch force-includes them); in a source checkout they
are read from the repository's ``contracts/`` folder, so an editable install
and a built wheel serve the same bytes.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"wan-mock is installed without its data files (looked in {names})")


def contract_path() -> Path:
    """The OpenAPI 3.1 contract of the real API (``contracts/openapi.yaml``)."""
    return _first_existing(
        _PACKAGE / "contracts" / "openapi.yaml", _CHECKOUT / "contracts" / "openapi.yaml"
    )
