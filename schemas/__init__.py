"""The event contract v1 as JSON Schema (draft 2020-12): one ``<topic>.v1.json`` per payload.

Shipped as package data, so an installed wheel reads the same files as the source tree.

>>> sorted(names())[:3]
['catalog.items', 'customers.preferences', 'inventory.signals']
>>> load("inventory.signals")["title"]
'inventory.signals v1'
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson

__all__ = ["load", "names"]

_SUFFIX = ".v1.json"


def names() -> list[str]:
    """Topic names that have a schema."""
    return sorted(
        f.name.removesuffix(_SUFFIX) for f in files(__name__).iterdir() if f.name.endswith(_SUFFIX)
    )


def load(name: str) -> dict[str, Any]:
    """The v1 JSON Schema of topic ``name``; FileNotFoundError if the contract has none."""
    resource = files(__name__) / f"{name}{_SUFFIX}"
    if not resource.is_file():
        raise FileNotFoundError(f"no schema for topic {name!r} (known: {', '.join(names())})")
    result: dict[str, Any] = orjson.loads(resource.read_bytes())
    return result
