"""Decoders for the input events of contract v1: raw Kafka key and value to a record.

The decoders are written by hand rather than running ``jsonschema`` per message: a schema
validator costs tens of microseconds per event, which at stream rates is most of the budget,
while plain dict lookups and type checks cost a few. The price is two descriptions of the same
contract, so ``tests/online_learning/contract/test_decode.py`` holds them together with
property tests: for any payload, a decoder accepts exactly when the schema does.

Beyond what JSON Schema can say, decoders also refuse non-finite numbers (NaN, infinities).
Every refusal is an :class:`EventError` whose text names the topic and field; the stream
sends that text to the dead-letter topic (see :func:`dead_letter_payload`).
"""

from __future__ import annotations

from online_learning.contract.fields import (
    ABSENT,
    ID_MAX,
    NAME_MAX,
    TEXT_MAX,
    choice,
    count,
    event_time,
    non_negative,
    parse_object,
    positive,
    required,
    tags,
    text,
)
from online_learning.contract.records import (
    CATALOG_TOPIC,
    FEEDBACK_TOPIC,
    OUTCOMES,
    SIGNALS,
    SIGNALS_TOPIC,
    CatalogTombstone,
    EventError,
    Feedback,
    InventorySignal,
    Product,
)

__all__ = ["decode_catalog", "decode_feedback", "decode_signal"]


def decode_catalog(key: bytes | None, value: bytes | None) -> Product | CatalogTombstone:
    """Decode a ``catalog.items`` message.

    A null value is a tombstone and the key names the removed item. When a value is present
    the key is not checked against ``item_id``: keying is the producer's business.

    Parameters
    ----------
    key
        The raw Kafka key (the item id, UTF-8).
    value
        The raw Kafka value: a UTF-8 JSON object, or ``None`` for a tombstone.

    Raises
    ------
    EventError
        If the message breaks ``schemas/catalog.items.v1.json`` or holds a non-finite number,
        or if a tombstone has no usable key.

    Examples
    --------
    >>> p = decode_catalog(b"milk-1l", b'{"item_id": "milk-1l", "name": "Milk 1 l",'
    ...     b' "aisle": "dairy", "department": "fresh", "price": 1, "tags": ["Organic", "UHT"],'
    ...     b' "popularity": 120}')
    >>> p.item_id, p.price, sorted(p.tags), p.popularity
    ('milk-1l', 1.0, ['organic', 'uht'], 120.0)
    >>> decode_catalog(b"milk-1l", None)
    CatalogTombstone(item_id='milk-1l')
    >>> decode_catalog(None, b'{"item_id": "milk-1l", "name": "Milk 1 l", "aisle": "dairy"}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: catalog.items: missing required field 'department'
    """
    if value is None:
        return CatalogTombstone(_tombstone_key(key))
    t = CATALOG_TOPIC
    obj = parse_object(t, value)
    price = obj.get("price", ABSENT)
    size = obj.get("size", ABSENT)
    unit = obj.get("unit", ABSENT)
    brand = obj.get("brand", ABSENT)
    tag_list = obj.get("tags", ABSENT)
    popularity = obj.get("popularity", ABSENT)
    return Product(
        item_id=text(t, "item_id", required(t, obj, "item_id"), ID_MAX),
        name=text(t, "name", required(t, obj, "name"), NAME_MAX),
        aisle=text(t, "aisle", required(t, obj, "aisle"), TEXT_MAX),
        department=text(t, "department", required(t, obj, "department"), TEXT_MAX),
        price=None if price is ABSENT else positive(t, "price", price),
        size=None if size is ABSENT else positive(t, "size", size),
        unit=None if unit is ABSENT else text(t, "unit", unit, TEXT_MAX),
        brand=None if brand is ABSENT else text(t, "brand", brand, TEXT_MAX),
        tags=frozenset() if tag_list is ABSENT else tags(t, tag_list),
        popularity=None if popularity is ABSENT else non_negative(t, "popularity", popularity),
    )


def decode_signal(value: bytes | None) -> InventorySignal:
    """Decode an ``inventory.signals`` message value.

    Raises
    ------
    EventError
        If the value is null, breaks ``schemas/inventory.signals.v1.json`` or holds a
        non-finite number.

    Examples
    --------
    >>> decode_signal(b'{"store_id": "s1", "item_id": "milk-1l", "signal": "not_found",'
    ...     b' "ts": 1700000000, "quantity": 0, "picker": "ignored"}')
    InventorySignal(store_id='s1', item_id='milk-1l', signal='not_found', ts=1700000000.0, \
quantity=0, source=None)
    >>> decode_signal(b'{"store_id": "s1", "item_id": "milk-1l", "signal": "lost", "ts": 1}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: inventory.signals: field 'signal' must be one of \
found, not_found, out_of_stock, in_stock, got 'lost'
    """
    t = SIGNALS_TOPIC
    obj = parse_object(t, value)
    quantity = obj.get("quantity", ABSENT)
    source = obj.get("source", ABSENT)
    return InventorySignal(
        store_id=text(t, "store_id", required(t, obj, "store_id"), ID_MAX),
        item_id=text(t, "item_id", required(t, obj, "item_id"), ID_MAX),
        signal=choice(t, "signal", required(t, obj, "signal"), SIGNALS),
        ts=event_time(t, "ts", required(t, obj, "ts")),
        quantity=None if quantity is ABSENT else count(t, "quantity", quantity),
        source=None if source is ABSENT else text(t, "source", source, TEXT_MAX),
    )


def decode_feedback(value: bytes | None) -> Feedback:
    """Decode a ``substitutions.feedback`` message value.

    Raises
    ------
    EventError
        If the value is null, breaks ``schemas/substitutions.feedback.v1.json`` or holds a
        non-finite number.

    Examples
    --------
    >>> fb = decode_feedback(b'{"event_id": "e1", "store_id": "s1", "item_id": "milk-1l",'
    ...     b' "substitute_id": "milk-2l", "outcome": "accepted", "ts": 1.5, "position": 2}')
    >>> fb.outcome, fb.substitute_id, fb.position, fb.ranking_id
    ('accepted', 'milk-2l', 2, None)
    >>> decode_feedback(b'{"event_id": "e1", "store_id": "s1", "item_id": "milk-1l",'
    ...     b' "substitute_id": "milk-2l", "outcome": "accepted", "ts": 1.5, "position": true}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: substitutions.feedback: field 'position' must be an \
integer >= 0, got true
    >>> decode_feedback(b'[1, 2]')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: substitutions.feedback: payload must be a JSON object, \
got an array
    """
    t = FEEDBACK_TOPIC
    obj = parse_object(t, value)
    order_id = obj.get("order_id", ABSENT)
    customer_id = obj.get("customer_id", ABSENT)
    ranking_id = obj.get("ranking_id", ABSENT)
    position = obj.get("position", ABSENT)
    return Feedback(
        event_id=text(t, "event_id", required(t, obj, "event_id"), ID_MAX),
        store_id=text(t, "store_id", required(t, obj, "store_id"), ID_MAX),
        item_id=text(t, "item_id", required(t, obj, "item_id"), ID_MAX),
        substitute_id=text(t, "substitute_id", required(t, obj, "substitute_id"), ID_MAX),
        outcome=choice(t, "outcome", required(t, obj, "outcome"), OUTCOMES),
        ts=event_time(t, "ts", required(t, obj, "ts")),
        order_id=None if order_id is ABSENT else text(t, "order_id", order_id, ID_MAX),
        customer_id=(
            None if customer_id is ABSENT else text(t, "customer_id", customer_id, ID_MAX)
        ),
        ranking_id=None if ranking_id is ABSENT else text(t, "ranking_id", ranking_id, ID_MAX),
        position=None if position is ABSENT else count(t, "position", position),
    )


def _tombstone_key(key: bytes | None) -> str:
    t = CATALOG_TOPIC
    if key is None:
        raise EventError(f"{t}: tombstone without a key, cannot tell which item to remove")
    try:
        item_id = bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        raise EventError(f"{t}: tombstone key is not UTF-8") from None
    if not 0 < len(item_id) <= ID_MAX:
        raise EventError(
            f"{t}: tombstone key must be an item id of 1 to {ID_MAX} characters, got {len(item_id)}"
        )
    return item_id
