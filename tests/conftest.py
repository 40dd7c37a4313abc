"""Builders shared by every test package: products and input payloads, made the way the
contract's encoders make them, so a test sends exactly what a real producer would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from online_learning.contract import Feedback, InventorySignal, Product, event_payload


def milk(
    item_id: str,
    name: str = "Whole Milk",
    price: float | None = None,
    brand: str | None = None,
    *,
    size: float | None = None,
    unit: str | None = None,
    tags: Iterable[str] = (),
) -> Product:
    """A product in the milk aisle (department "dairy eggs")."""
    return Product(
        item_id,
        name,
        "milk",
        "dairy eggs",
        price=price,
        size=size,
        unit=unit,
        brand=brand,
        tags=frozenset(tags),
    )


def signal_payload(store: str, item: str, kind: str, ts: float | None = None) -> dict[str, Any]:
    """An ``inventory.signals`` payload; ``ts`` is now unless given."""
    return event_payload(InventorySignal(store, item, kind, time.time() if ts is None else ts))


def feedback_payload(
    store: str,
    item: str,
    substitute: str,
    outcome: str,
    *,
    event_id: str | None = None,
    ts: float | None = None,
) -> dict[str, Any]:
    """A ``substitutions.feedback`` payload; a fresh event id and now unless given."""
    return event_payload(
        Feedback(
            event_id or uuid.uuid4().hex,
            store,
            item,
            substitute,
            outcome,
            time.time() if ts is None else ts,
        )
    )
