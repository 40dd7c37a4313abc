"""Decoders for the input events of contract v1, and the dead-letter record.

The contract itself lives in ``schemas/<topic>.v1.json`` (JSON Schema draft 2020-12). The
decoders here are written by hand rather than running ``jsonschema`` per message: a schema
validator costs tens of microseconds per event, which at stream rates is most of the budget,
while plain dict lookups and type checks cost a few. The price is two descriptions of the same
contract, so ``tests/online_learning/contract/test_inputs.py`` holds them together with property
tests: for any payload, a decoder accepts exactly when the schema does.

Beyond what JSON Schema can say, decoders also refuse non-finite numbers (NaN, infinities).
Every refusal is an :class:`EventError` whose text names the topic and field; the stream
sends that text to the dead-letter topic (see :func:`dead_letter_payload`).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import orjson

import schemas

__all__ = [
    "DEAD_LETTER_MAX_PAYLOAD",
    "OUTCOMES",
    "SIGNALS",
    "CatalogTombstone",
    "EventError",
    "Feedback",
    "InventorySignal",
    "Product",
    "dead_letter_payload",
    "decode_catalog",
    "decode_feedback",
    "decode_signal",
    "load_schema",
]

SIGNALS = ("found", "not_found", "out_of_stock", "in_stock")
OUTCOMES = ("accepted", "rejected", "refunded")

_CATALOG = "catalog.items"
_SIGNALS = "inventory.signals"
_FEEDBACK = "substitutions.feedback"

# Limits shared with the schema files; change both together (the tests will notice).
_ID_MAX = 200
_NAME_MAX = 1000
_TEXT_MAX = 200
_TAG_MAX = 100
_TAGS_MAX = 50

_ABSENT: Any = object()


class EventError(ValueError):
    """Why an input message was refused; the text goes to the dead-letter topic."""

    __module__ = "online_learning.contract"  # its public home, also in tracebacks


@dataclass(slots=True, frozen=True)
class Product:
    """A catalog item (topic ``catalog.items``). ``tags`` are lower-cased."""

    item_id: str
    name: str
    aisle: str
    department: str
    price: float | None = None
    size: float | None = None
    unit: str | None = None
    brand: str | None = None
    tags: frozenset[str] = frozenset()


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
    ...     b' "aisle": "dairy", "department": "fresh", "price": 1, "tags": ["Organic", "UHT"]}')
    >>> p.item_id, p.price, sorted(p.tags)
    ('milk-1l', 1.0, ['organic', 'uht'])
    >>> decode_catalog(b"milk-1l", None)
    CatalogTombstone(item_id='milk-1l')
    >>> decode_catalog(None, b'{"item_id": "milk-1l", "name": "Milk 1 l", "aisle": "dairy"}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: catalog.items: missing required field 'department'
    """
    if value is None:
        return CatalogTombstone(_tombstone_key(key))
    t = _CATALOG
    obj = _parse(t, value)
    price = obj.get("price", _ABSENT)
    size = obj.get("size", _ABSENT)
    unit = obj.get("unit", _ABSENT)
    brand = obj.get("brand", _ABSENT)
    tags = obj.get("tags", _ABSENT)
    return Product(
        item_id=_text(t, "item_id", _required(t, obj, "item_id"), _ID_MAX),
        name=_text(t, "name", _required(t, obj, "name"), _NAME_MAX),
        aisle=_text(t, "aisle", _required(t, obj, "aisle"), _TEXT_MAX),
        department=_text(t, "department", _required(t, obj, "department"), _TEXT_MAX),
        price=None if price is _ABSENT else _positive(t, "price", price),
        size=None if size is _ABSENT else _positive(t, "size", size),
        unit=None if unit is _ABSENT else _text(t, "unit", unit, _TEXT_MAX),
        brand=None if brand is _ABSENT else _text(t, "brand", brand, _TEXT_MAX),
        tags=frozenset() if tags is _ABSENT else _tags(t, tags),
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
    t = _SIGNALS
    obj = _parse(t, value)
    quantity = obj.get("quantity", _ABSENT)
    source = obj.get("source", _ABSENT)
    return InventorySignal(
        store_id=_text(t, "store_id", _required(t, obj, "store_id"), _ID_MAX),
        item_id=_text(t, "item_id", _required(t, obj, "item_id"), _ID_MAX),
        signal=_choice(t, "signal", _required(t, obj, "signal"), SIGNALS),
        ts=_timestamp(t, "ts", _required(t, obj, "ts")),
        quantity=None if quantity is _ABSENT else _count(t, "quantity", quantity),
        source=None if source is _ABSENT else _text(t, "source", source, _TEXT_MAX),
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
    t = _FEEDBACK
    obj = _parse(t, value)
    order_id = obj.get("order_id", _ABSENT)
    customer_id = obj.get("customer_id", _ABSENT)
    ranking_id = obj.get("ranking_id", _ABSENT)
    position = obj.get("position", _ABSENT)
    return Feedback(
        event_id=_text(t, "event_id", _required(t, obj, "event_id"), _ID_MAX),
        store_id=_text(t, "store_id", _required(t, obj, "store_id"), _ID_MAX),
        item_id=_text(t, "item_id", _required(t, obj, "item_id"), _ID_MAX),
        substitute_id=_text(t, "substitute_id", _required(t, obj, "substitute_id"), _ID_MAX),
        outcome=_choice(t, "outcome", _required(t, obj, "outcome"), OUTCOMES),
        ts=_timestamp(t, "ts", _required(t, obj, "ts")),
        order_id=None if order_id is _ABSENT else _text(t, "order_id", order_id, _ID_MAX),
        customer_id=(
            None if customer_id is _ABSENT else _text(t, "customer_id", customer_id, _ID_MAX)
        ),
        ranking_id=None if ranking_id is _ABSENT else _text(t, "ranking_id", ranking_id, _ID_MAX),
        position=None if position is _ABSENT else _count(t, "position", position),
    )


def load_schema(name: str) -> dict[str, Any]:
    """The v1 JSON Schema for topic ``name``, from the installed ``schemas`` package.

    Examples
    --------
    >>> load_schema("inventory.signals")["title"]
    'inventory.signals v1'
    """
    return schemas.load(name)


DEAD_LETTER_MAX_PAYLOAD = 256 * 1024


def dead_letter_payload(
    topic: str,
    partition: int,
    offset: int,
    error: str,
    raw: bytes | None,
    ts: float,
    max_payload: int = DEAD_LETTER_MAX_PAYLOAD,
) -> dict[str, Any]:
    """Build a ``substitutions.deadletter`` record for a refused input message.

    ``raw`` is kept as text when it is valid UTF-8 and as base64 otherwise, so the record is
    always valid JSON and the original bytes can be recovered exactly; a tombstone (``None``)
    becomes ``""``. A value longer than ``max_payload`` bytes keeps only its first
    ``max_payload`` bytes (``payload_truncated`` true, ``payload_size`` the original size):
    base64 grows a value by a third, and a record over the broker's message size limit could
    not be dead-lettered at all. The original stays at topic/partition/offset for a replay.

    Examples
    --------
    >>> dead_letter_payload("inventory.signals", 0, 42, "inventory.signals: not UTF-8",
    ...                     b"\\xff\\x00", 1700000000.0)["payload"]
    '/wA='
    >>> dead_letter_payload("inventory.signals", 0, 43, "...", b'{"a": 1}', 1.0)["payload"]
    '{"a": 1}'
    >>> big = dead_letter_payload("inventory.signals", 0, 44, "...", b"x" * 10, 1.0, max_payload=4)
    >>> big["payload"], big["payload_truncated"], big["payload_size"]
    ('xxxx', True, 10)
    """
    size = 0 if raw is None else len(raw)
    kept = b"" if raw is None else bytes(raw[:max_payload])
    try:
        payload, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    record: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "error": error,
        "payload": payload,
        "payload_encoding": encoding,
        "ts": ts,
    }
    if size > max_payload:
        record["payload_truncated"] = True
        record["payload_size"] = size
    return record


# --- field checks -----------------------------------------------------------------------------
# Each takes the topic and field name only to build the error text. Types are tested with
# ``type(x) is ...`` because orjson returns exact built-in types and ``bool`` is an ``int``.


def _parse(topic: str, value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise EventError(f"{topic}: value is null (a tombstone), expected a JSON object")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:  # also raised past orjson's nesting limit (1024)
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise EventError(f"{topic}: not UTF-8") from None
        raise EventError(f"{topic}: not valid JSON: {exc}") from None
    if type(obj) is not dict:
        raise EventError(f"{topic}: payload must be a JSON object, got {_describe(obj)}")
    return obj


def _tombstone_key(key: bytes | None) -> str:
    if key is None:
        raise EventError(f"{_CATALOG}: tombstone without a key, cannot tell which item to remove")
    try:
        item_id = bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        raise EventError(f"{_CATALOG}: tombstone key is not UTF-8") from None
    if not 0 < len(item_id) <= _ID_MAX:
        raise EventError(
            f"{_CATALOG}: tombstone key must be an item id of 1 to {_ID_MAX} characters,"
            f" got {len(item_id)}"
        )
    return item_id


def _required(topic: str, obj: dict[str, Any], field: str) -> Any:
    value = obj.get(field, _ABSENT)
    if value is _ABSENT:
        raise EventError(f"{topic}: missing required field '{field}'")
    return value


def _text(topic: str, field: str, value: Any, max_len: int) -> str:
    if type(value) is not str:
        raise EventError(f"{topic}: field '{field}' must be a string, got {_describe(value)}")
    if not 0 < len(value) <= max_len:
        raise EventError(
            f"{topic}: field '{field}' must be 1 to {max_len} characters, got {len(value)}"
        )
    return value


def _choice(topic: str, field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if type(value) is not str or value not in allowed:
        raise EventError(
            f"{topic}: field '{field}' must be one of {', '.join(allowed)}, got {_describe(value)}"
        )
    return value


def _number(topic: str, field: str, value: Any, rule: str) -> float:
    kind = type(value)
    if kind is float:
        # orjson 3 already refuses NaN and out-of-range numbers as invalid JSON; this keeps the
        # guarantee if the parser or its options ever change.
        if not math.isfinite(value):
            raise EventError(f"{topic}: field '{field}' must be a finite number, got {value}")
        return value
    if kind is int:
        return float(value)  # orjson ints fit in 64 bits, so this cannot overflow
    raise EventError(f"{topic}: field '{field}' must be a number {rule}, got {_describe(value)}")


def _timestamp(topic: str, field: str, value: Any) -> float:
    ts = _number(topic, field, value, ">= 0")
    if ts < 0:
        raise EventError(f"{topic}: field '{field}' must be epoch seconds >= 0, got {value}")
    return ts


def _positive(topic: str, field: str, value: Any) -> float:
    number = _number(topic, field, value, "> 0")
    if number <= 0:
        raise EventError(f"{topic}: field '{field}' must be a number > 0, got {value}")
    return number


def _count(topic: str, field: str, value: Any) -> int:
    kind = type(value)
    if kind is int and value >= 0:
        result: int = value
        return result
    # JSON Schema counts 2.0 as an integer, so accept it too and keep the two in agreement.
    if kind is float and value.is_integer() and value >= 0:
        return int(value)
    raise EventError(f"{topic}: field '{field}' must be an integer >= 0, got {_describe(value)}")


def _tags(topic: str, value: Any) -> frozenset[str]:
    if type(value) is not list:
        raise EventError(f"{topic}: field 'tags' must be a list of strings, got {_describe(value)}")
    if len(value) > _TAGS_MAX:
        raise EventError(
            f"{topic}: field 'tags' must have at most {_TAGS_MAX} items, got {len(value)}"
        )
    for i, tag in enumerate(value):
        _text(topic, f"tags[{i}]", tag, _TAG_MAX)
    return frozenset(tag.lower() for tag in value)


def _describe(value: Any) -> str:
    """A short, JSON-flavoured rendering of an offending value for error texts."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"
    if kind is int or kind is float:
        return repr(value)
    if kind is list:
        return "an array"
    if kind is dict:
        return "an object"
    return kind.__name__
