"""Encoders for the input events of contract v1: what a producer writes to each input topic.

The inverse of :mod:`online_learning.contract.decode`: for a record the decoders built,
decoding its encoding gives the record back (``tests/online_learning/contract`` checks it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from online_learning.contract.records import (
    FEEDBACK_TOPIC,
    SIGNALS_TOPIC,
    CompletedOrder,
    CustomerNeeds,
    Feedback,
    InventorySignal,
    ItemChoice,
    PreferenceTombstone,
    Product,
    SubstitutionRequest,
    preference_key,
)

__all__ = [
    "encode_event",
    "encode_order",
    "encode_preference",
    "encode_product",
    "encode_request",
    "event_payload",
    "order_payload",
    "preference_payload",
    "product_payload",
    "request_payload",
]


def product_payload(p: Product, *, derived: bool = False) -> dict[str, Any]:
    """The ``catalog.items`` payload of a product.

    By default only what a feed of names sends (id, name, aisle, department, price, and the
    grocer's popularity figure when it has one): the worker fills size, unit, brand and tags
    from the name (``online_learning.catalog.enrich``), so the simulator and the benchmarks
    leave them out as a real feed would. ``derived=True`` writes those too, every field that
    is set (tags sorted), so the payload decodes back to ``p`` itself.

    >>> milk = Product("milk-1l", "Acme Milk 1 l", "milk", "dairy", 1.2, brand="acme",
    ...                tags=frozenset({"uht", "organic"}), popularity=120.0)
    >>> product_payload(milk)
    {'item_id': 'milk-1l', 'name': 'Acme Milk 1 l', 'aisle': 'milk', 'department': 'dairy', \
'price': 1.2, 'popularity': 120.0}
    >>> product_payload(milk, derived=True)["tags"]
    ['organic', 'uht']
    """
    payload: dict[str, Any] = {
        "item_id": p.item_id,
        "name": p.name,
        "aisle": p.aisle,
        "department": p.department,
    }
    if p.price is not None:
        payload["price"] = p.price
    if p.popularity is not None:
        payload["popularity"] = p.popularity
    if derived:
        for name in ("size", "unit", "brand"):
            value = getattr(p, name)
            if value is not None:
                payload[name] = value
        if p.tags:
            payload["tags"] = sorted(p.tags)
    return payload


def event_payload(event: InventorySignal | Feedback) -> dict[str, Any]:
    """A signal or feedback event as its contract payload: every field that is set.

    A feedback's ``reason`` codes are written only if there are any; ``comment_truncated``
    describes what the decoder did, not what a producer sends, and is never written.

    >>> event_payload(InventorySignal("s1", "42", "found", 1.0))
    {'store_id': 's1', 'item_id': '42', 'signal': 'found', 'ts': 1.0}
    >>> event_payload(Feedback("e1", "s1", "42", "43", "rejected", 1.0, reason=("quality",)))
    {'event_id': 'e1', 'store_id': 's1', 'item_id': '42', 'substitute_id': '43', \
'outcome': 'rejected', 'ts': 1.0, 'reason': ['quality']}
    """
    payload = {
        name: value for name, value in dataclasses.asdict(event).items() if value is not None
    }
    if isinstance(event, Feedback):
        del payload["comment_truncated"]
        if event.reason:
            payload["reason"] = list(event.reason)
        else:
            del payload["reason"]
    return payload


def encode_product(p: Product, *, derived: bool = False) -> tuple[bytes, bytes]:
    """(key, value) of a ``catalog.items`` message: keyed by item id (see :func:`product_payload`).

    >>> encode_product(Product("42", "Oat Milk", "milk", "dairy"))
    (b'42', b'{"item_id":"42","name":"Oat Milk","aisle":"milk","department":"dairy"}')
    """
    return p.item_id.encode(), orjson.dumps(product_payload(p, derived=derived))


def encode_event(event: InventorySignal | Feedback) -> tuple[str, bytes, bytes]:
    """(contract topic, key, value) of an input event, as a producer writes it: keyed by store.

    >>> encode_event(InventorySignal("s1", "42", "found", 1.0))
    ('inventory.signals', b's1', b'{"store_id":"s1","item_id":"42","signal":"found","ts":1.0}')
    """
    topic = SIGNALS_TOPIC if isinstance(event, InventorySignal) else FEEDBACK_TOPIC
    return topic, event.store_id.encode(), orjson.dumps(event_payload(event))


def order_payload(order: CompletedOrder) -> dict[str, Any]:
    """An ``orders.completed`` payload: every field that is set, lines in order.

    >>> from online_learning.contract.records import OrderLine
    >>> order_payload(CompletedOrder("o1", "s1", 2.0, (OrderLine("rye", "rejected", "spelt"),)))
    {'order_id': 'o1', 'store_id': 's1', 'ts': 2.0, \
'lines': [{'item_id': 'rye', 'outcome': 'rejected', 'substitute_id': 'spelt'}]}
    """
    payload: dict[str, Any] = {"order_id": order.order_id, "store_id": order.store_id}
    if order.customer_id is not None:
        payload["customer_id"] = order.customer_id
    payload["ts"] = order.ts
    payload["lines"] = [
        {name: value for name, value in dataclasses.asdict(line).items() if value is not None}
        for line in order.lines
    ]
    return payload


def encode_order(order: CompletedOrder) -> tuple[bytes, bytes]:
    """(key, value) of an ``orders.completed`` message: keyed by store, like the other inputs."""
    return order.store_id.encode(), orjson.dumps(order_payload(order))


def preference_payload(record: ItemChoice | CustomerNeeds) -> dict[str, Any]:
    """A ``customers.preferences`` payload: an item's choice, or the customer's needs (sorted).

    >>> preference_payload(ItemChoice("c1", "milk", "specific", ("oat", "soy"), 1.0))
    {'customer_id': 'c1', 'item_id': 'milk', 'choice': 'specific', \
'substitute_ids': ['oat', 'soy'], 'ts': 1.0}
    >>> preference_payload(CustomerNeeds("c1", frozenset({"vegan", "halal"}), 2.0))
    {'customer_id': 'c1', 'needs': ['halal', 'vegan'], 'ts': 2.0}
    """
    if isinstance(record, CustomerNeeds):
        return {"customer_id": record.customer_id, "needs": sorted(record.needs), "ts": record.ts}
    payload: dict[str, Any] = {
        "customer_id": record.customer_id,
        "item_id": record.item_id,
        "choice": record.choice,
    }
    if record.choice == "specific":
        payload["substitute_ids"] = list(record.substitute_ids)
    payload["ts"] = record.ts
    return payload


def encode_preference(
    record: ItemChoice | CustomerNeeds | PreferenceTombstone,
) -> tuple[bytes, bytes | None]:
    """(key, value) of a ``customers.preferences`` message; a tombstone's value is ``None``.

    The key is :func:`~online_learning.contract.records.preference_key`: a tombstone removes
    what a record with the same key put there.

    >>> encode_preference(CustomerNeeds("c1", frozenset(), 3.0))
    (b'c1', b'{"customer_id":"c1","needs":[],"ts":3.0}')
    >>> encode_preference(PreferenceTombstone("c1:milk"))
    (b'c1:milk', None)
    """
    key = preference_key(record).encode()
    if isinstance(record, PreferenceTombstone):
        return key, None
    return key, orjson.dumps(preference_payload(record))


def request_payload(r: SubstitutionRequest) -> dict[str, Any]:
    """A ``substitutions.requests`` payload.

    >>> request_payload(SubstitutionRequest("r1", "o1", "c1", "s1", "milk", 5.0))
    {'request_id': 'r1', 'store_id': 's1', 'item_id': 'milk', 'order_id': 'o1', \
'customer_id': 'c1', 'ts': 5.0}
    """
    return {
        "request_id": r.request_id,
        "store_id": r.store_id,
        "item_id": r.item_id,
        "order_id": r.order_id,
        "customer_id": r.customer_id,
        "ts": r.ts,
    }


def encode_request(r: SubstitutionRequest) -> tuple[bytes, bytes]:
    """(key, value) of a ``substitutions.requests`` message: keyed by store, like the other
    inputs, so a store's requests reach the worker that holds its availability."""
    return r.store_id.encode(), orjson.dumps(request_payload(r))
