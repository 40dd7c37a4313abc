"""What the messages of contract v1 are: topic names, vocabularies, the input records, the error.

The contract itself lives in the ``schemas`` package, one JSON Schema (draft 2020-12) per topic
payload; :func:`load_schema` reads it from wherever the package is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import schemas

__all__ = [
    "CATALOG_TOPIC",
    "FEEDBACK_TOPIC",
    "OUTCOMES",
    "RANKINGS_TOPIC",
    "SIGNALS",
    "SIGNALS_TOPIC",
    "CatalogTombstone",
    "EventError",
    "Feedback",
    "InventorySignal",
    "Product",
    "load_schema",
]

CATALOG_TOPIC = "catalog.items"
SIGNALS_TOPIC = "inventory.signals"
FEEDBACK_TOPIC = "substitutions.feedback"
RANKINGS_TOPIC = "substitutions.rankings"

SIGNALS = ("found", "not_found", "out_of_stock", "in_stock")
OUTCOMES = ("accepted", "rejected", "refunded")


class EventError(ValueError):
    """Why a message was refused; for an input, the text goes to the dead-letter topic."""

    __module__ = "online_learning.contract"  # its public home, also in tracebacks


@dataclass(slots=True, frozen=True)
class Product:
    """A catalog item (topic ``catalog.items``). ``tags`` are lower-cased.

    ``popularity`` is the grocer's own demand figure for the item (units sold over a recent
    period, say), if it sends one: it seeds the item's popularity until the demand the stream
    shows outweighs it (:mod:`online_learning.popularity`).
    """

    item_id: str
    name: str
    aisle: str
    department: str
    price: float | None = None
    size: float | None = None
    unit: str | None = None
    brand: str | None = None
    tags: frozenset[str] = frozenset()
    popularity: float | None = None


@dataclass(slots=True, frozen=True)
class CatalogTombstone:
    """A catalog deletion: the item with this id no longer exists."""

    item_id: str


@dataclass(slots=True, frozen=True)
class InventorySignal:
    """An availability observation for one item in one store (topic ``inventory.signals``)."""

    store_id: str
    item_id: str
    signal: str
    ts: float
    quantity: int | None = None
    source: str | None = None


@dataclass(slots=True, frozen=True)
class Feedback:
    """A customer's verdict on one substitution (topic ``substitutions.feedback``)."""

    event_id: str
    store_id: str
    item_id: str
    substitute_id: str
    outcome: str
    ts: float
    order_id: str | None = None
    customer_id: str | None = None
    ranking_id: str | None = None
    position: int | None = None


def load_schema(name: str) -> dict[str, Any]:
    """The v1 JSON Schema for topic ``name``, from the installed ``schemas`` package.

    Examples
    --------
    >>> load_schema("inventory.signals")["title"]
    'inventory.signals v1'
    """
    return schemas.load(name)
