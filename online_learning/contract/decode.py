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

from typing import Any

from online_learning.contract.fields import (
    ABSENT,
    ID_MAX,
    NAME_MAX,
    TAG_MAX,
    TAGS_MAX,
    TEXT_MAX,
    choice,
    codes,
    comment,
    count,
    describe,
    event_time,
    non_negative,
    parse_object,
    positive,
    probability,
    required,
    tags,
    text,
)
from online_learning.contract.records import (
    CATALOG_TOPIC,
    CHOICES,
    FEEDBACK_TOPIC,
    LINE_OUTCOMES,
    LINES_MAX,
    ORDERS_TOPIC,
    OUTCOMES,
    PICKS_MAX,
    PREFERENCES_TOPIC,
    REASONS,
    REASONS_MAX,
    REQUESTS_TOPIC,
    SIGNALS,
    SIGNALS_TOPIC,
    SUBSTITUTE_OUTCOMES,
    CatalogTombstone,
    CompletedOrder,
    CustomerNeeds,
    EventError,
    Feedback,
    InventorySignal,
    ItemChoice,
    OrderLine,
    PreferenceTombstone,
    Product,
    SubstitutionRequest,
)
from online_learning.product_text import normalize_tag

__all__ = [
    "decode_catalog",
    "decode_feedback",
    "decode_order",
    "decode_preference",
    "decode_request",
    "decode_signal",
]

# The longest key a preference record can have: "customer_id:item_id".
_PREFERENCE_KEY_MAX = 2 * ID_MAX + 1


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
        return CatalogTombstone(_tombstone_key(CATALOG_TOPIC, key, "item", "an item id", ID_MAX))
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

    ``comment`` is untrusted text, cleaned as :func:`~online_learning.contract.fields.comment`
    says: control characters other than newline and tab removed, cut to its first
    :data:`~online_learning.contract.fields.COMMENT_MAX` characters (``comment_truncated``),
    refused only if it holds NUL. ``reason`` codes are kept once each, in the order of
    :data:`~online_learning.contract.records.REASONS`.

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
    >>> fb = decode_feedback(b'{"event_id": "e2", "store_id": "s1", "item_id": "milk-1l",'
    ...     b' "substitute_id": "milk-2l", "outcome": "rejected", "ts": 1.5, "comment":'
    ...     b' "way too pricey\\\\r\\\\n\\\\ud83d\\\\ude20", "reason": ["too_expensive"]}')
    >>> fb.comment, fb.reason, fb.comment_truncated
    ('way too pricey\\n😠', ('too_expensive',), False)
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
    propensity = obj.get("propensity", ABSENT)
    note = obj.get("comment", ABSENT)
    reason = obj.get("reason", ABSENT)
    kept, cut = (None, False) if note is ABSENT else comment(t, "comment", note)
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
        propensity=(
            None
            if propensity is ABSENT
            else probability(t, "propensity", propensity, above_zero=True)
        ),
        comment=kept,
        reason=() if reason is ABSENT else codes(t, "reason", reason, REASONS, REASONS_MAX),
        comment_truncated=cut,
    )


def decode_order(value: bytes | None) -> CompletedOrder:
    """Decode an ``orders.completed`` message value.

    A line names ``substitute_id`` exactly when its outcome is substituted, rejected or
    refunded; a found or missing line that names one (even as null) is refused, since it
    contradicts itself and the contract never writes null for an absent field.

    Raises
    ------
    EventError
        If the value is null, breaks ``schemas/orders.completed.v1.json`` or holds a
        non-finite number.

    Examples
    --------
    >>> order = decode_order(b'{"order_id": "o1", "store_id": "s1", "ts": 1700000000,'
    ...     b' "lines": [{"item_id": "milk-1l", "outcome": "found"},'
    ...     b' {"item_id": "rye", "outcome": "refunded", "substitute_id": "spelt"}]}')
    >>> [line.outcome for line in order.lines], order.perfect
    (['found', 'refunded'], False)
    >>> decode_order(b'{"order_id": "o1", "store_id": "s1", "ts": 1,'
    ...     b' "lines": [{"item_id": "rye", "outcome": "substituted"}]}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: orders.completed: missing required field \
'lines[0].substitute_id' (outcome 'substituted' names the substitute)
    """
    t = ORDERS_TOPIC
    obj = parse_object(t, value)
    customer_id = obj.get("customer_id", ABSENT)
    return CompletedOrder(
        order_id=text(t, "order_id", required(t, obj, "order_id"), ID_MAX),
        store_id=text(t, "store_id", required(t, obj, "store_id"), ID_MAX),
        ts=event_time(t, "ts", required(t, obj, "ts")),
        lines=_order_lines(required(t, obj, "lines")),
        customer_id=(
            None if customer_id is ABSENT else text(t, "customer_id", customer_id, ID_MAX)
        ),
    )


def _order_lines(value: Any) -> tuple[OrderLine, ...]:
    t = ORDERS_TOPIC
    if type(value) is not list:
        raise EventError(f"{t}: field 'lines' must be a list of lines, got {describe(value)}")
    if not 0 < len(value) <= LINES_MAX:
        raise EventError(f"{t}: field 'lines' must have 1 to {LINES_MAX} lines, got {len(value)}")
    lines = []
    for i, line in enumerate(value):
        at = f"lines[{i}]"
        if type(line) is not dict:
            raise EventError(f"{t}: field '{at}' must be an object, got {describe(line)}")
        item_id = line.get("item_id", ABSENT)
        if item_id is ABSENT:
            raise EventError(f"{t}: missing required field '{at}.item_id'")
        outcome = line.get("outcome", ABSENT)
        if outcome is ABSENT:
            raise EventError(f"{t}: missing required field '{at}.outcome'")
        outcome = choice(t, f"{at}.outcome", outcome, LINE_OUTCOMES)
        substitute_id = line.get("substitute_id", ABSENT)
        if outcome in SUBSTITUTE_OUTCOMES:
            if substitute_id is ABSENT:
                raise EventError(
                    f"{t}: missing required field '{at}.substitute_id'"
                    f" (outcome '{outcome}' names the substitute)"
                )
            substitute = text(t, f"{at}.substitute_id", substitute_id, ID_MAX)
        elif substitute_id is not ABSENT:
            raise EventError(
                f"{t}: field '{at}.substitute_id' must be absent for outcome '{outcome}',"
                f" got {describe(substitute_id)}"
            )
        else:
            substitute = None
        lines.append(OrderLine(text(t, f"{at}.item_id", item_id, ID_MAX), outcome, substitute))
    return tuple(lines)


def decode_preference(
    key: bytes | None, value: bytes | None
) -> ItemChoice | CustomerNeeds | PreferenceTombstone:
    """Decode a ``customers.preferences`` message.

    A record with ``item_id`` is an item's choice, one without is the customer's needs. A null
    value is a tombstone: it removes whatever record its key held (the worker stores records by
    message key, see :func:`~online_learning.contract.records.preference_key`). When a value is
    present the key is not checked against it: keying is the producer's business.

    Parameters
    ----------
    key
        The raw Kafka key (``customer_id`` or ``customer_id:item_id``, UTF-8).
    value
        The raw Kafka value: a UTF-8 JSON object, or ``None`` for a tombstone.

    Raises
    ------
    EventError
        If the message breaks ``schemas/customers.preferences.v1.json`` or holds a non-finite
        number, if ``substitute_ids`` names the item itself, if a need is left empty by
        :func:`~online_learning.product_text.normalize_tag`, or if a tombstone has no usable key.

    Examples
    --------
    >>> decode_preference(b"c1:milk", b'{"customer_id": "c1", "item_id": "milk",'
    ...     b' "choice": "specific", "substitute_ids": ["oat", "soy"], "ts": 1700000000}')
    ItemChoice(customer_id='c1', item_id='milk', choice='specific', \
substitute_ids=('oat', 'soy'), ts=1700000000.0)
    >>> sorted(decode_preference(b"c1", b'{"customer_id": "c1", "ts": 1,'
    ...     b' "needs": ["Lactose-Free", "lactose free", "Halal"]}').needs)
    ['halal', 'lactose_free']
    >>> decode_preference(b"c1:milk", None)
    PreferenceTombstone(key='c1:milk')
    >>> decode_preference(b"c1:milk", b'{"customer_id": "c1", "item_id": "milk",'
    ...     b' "choice": "best_match", "substitute_ids": ["oat"], "ts": 1}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: customers.preferences: field 'substitute_ids' must be \
absent for choice 'best_match', got an array
    """
    t = PREFERENCES_TOPIC
    if value is None:
        return PreferenceTombstone(
            _tombstone_key(t, key, "record", "a record's key", _PREFERENCE_KEY_MAX)
        )
    obj = parse_object(t, value)
    customer_id = text(t, "customer_id", required(t, obj, "customer_id"), ID_MAX)
    ts = event_time(t, "ts", required(t, obj, "ts"))
    item_id = obj.get("item_id", ABSENT)
    chosen = obj.get("choice", ABSENT)
    picks = obj.get("substitute_ids", ABSENT)
    needs = obj.get("needs", ABSENT)
    if item_id is ABSENT:
        # a customer-wide record: nothing item-specific may ride along with the needs
        if chosen is not ABSENT:
            raise EventError(
                f"{t}: field 'choice' must be absent without 'item_id' (a customer-wide record),"
                f" got {describe(chosen)}"
            )
        if picks is not ABSENT:
            raise EventError(
                f"{t}: field 'substitute_ids' must be absent without 'item_id'"
                f" (a customer-wide record), got {describe(picks)}"
            )
        if needs is ABSENT:
            raise EventError(
                f"{t}: missing required field 'needs' (a record without 'item_id' is"
                " customer-wide; [] clears the needs)"
            )
        return CustomerNeeds(customer_id, _needs(needs), ts)
    item = text(t, "item_id", item_id, ID_MAX)
    if needs is not ABSENT:
        raise EventError(
            f"{t}: field 'needs' must be absent in an item's record (needs are customer-wide),"
            f" got {describe(needs)}"
        )
    if chosen is ABSENT:
        raise EventError(f"{t}: missing required field 'choice' (an item's record says it)")
    chosen = choice(t, "choice", chosen, CHOICES)
    if chosen != "specific":
        if picks is not ABSENT:
            raise EventError(
                f"{t}: field 'substitute_ids' must be absent for choice '{chosen}',"
                f" got {describe(picks)}"
            )
        return ItemChoice(customer_id, item, chosen, (), ts)
    if picks is ABSENT:
        raise EventError(
            f"{t}: missing required field 'substitute_ids' (choice 'specific' names them)"
        )
    return ItemChoice(customer_id, item, chosen, _picks(item, picks), ts)


def _picks(item_id: str, value: Any) -> tuple[str, ...]:
    t = PREFERENCES_TOPIC
    if type(value) is not list:
        raise EventError(
            f"{t}: field 'substitute_ids' must be a list of item ids, got {describe(value)}"
        )
    if not 0 < len(value) <= PICKS_MAX:
        raise EventError(
            f"{t}: field 'substitute_ids' must have 1 to {PICKS_MAX} items, got {len(value)}"
        )
    picks = tuple(text(t, f"substitute_ids[{i}]", v, ID_MAX) for i, v in enumerate(value))
    for i, pick in enumerate(picks):
        if pick in picks[:i]:
            raise EventError(f"{t}: field 'substitute_ids[{i}]' repeats {describe(pick)}")
    if item_id in picks:
        raise EventError(
            f"{t}: field 'substitute_ids' must not name the item itself, got {describe(item_id)}"
        )
    return picks


def _needs(value: Any) -> frozenset[str]:
    t = PREFERENCES_TOPIC
    if type(value) is not list:
        raise EventError(f"{t}: field 'needs' must be a list of tags, got {describe(value)}")
    if len(value) > TAGS_MAX:
        raise EventError(f"{t}: field 'needs' must have at most {TAGS_MAX} items, got {len(value)}")
    needs = set()
    for i, raw in enumerate(value):
        tag = normalize_tag(text(t, f"needs[{i}]", raw, TAG_MAX))
        if not tag:
            # a need nobody can spell as a product tag would match nothing and silently
            # block every substitute
            raise EventError(
                f"{t}: field 'needs[{i}]' must hold a letter a-z or a digit once case and"
                f" accents are folded, got {describe(raw)}"
            )
        needs.add(tag)
    return frozenset(needs)


def decode_request(value: bytes | None) -> SubstitutionRequest:
    """Decode a ``substitutions.requests`` message value.

    Raises
    ------
    EventError
        If the value is null, breaks ``schemas/substitutions.requests.v1.json`` or holds a
        non-finite number.

    Examples
    --------
    >>> decode_request(b'{"request_id": "r1", "store_id": "s1", "item_id": "milk",'
    ...     b' "order_id": "o1", "customer_id": "c1", "ts": 1700000000.5}')
    SubstitutionRequest(request_id='r1', order_id='o1', customer_id='c1', store_id='s1', \
item_id='milk', ts=1700000000.5)
    >>> decode_request(b'{"request_id": "r1", "store_id": "s1", "item_id": "milk", "ts": 1}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: substitutions.requests: missing required field 'order_id'
    """
    t = REQUESTS_TOPIC
    obj = parse_object(t, value)
    return SubstitutionRequest(
        request_id=text(t, "request_id", required(t, obj, "request_id"), ID_MAX),
        store_id=text(t, "store_id", required(t, obj, "store_id"), ID_MAX),
        item_id=text(t, "item_id", required(t, obj, "item_id"), ID_MAX),
        order_id=text(t, "order_id", required(t, obj, "order_id"), ID_MAX),
        customer_id=text(t, "customer_id", required(t, obj, "customer_id"), ID_MAX),
        ts=event_time(t, "ts", required(t, obj, "ts")),
    )


def _tombstone_key(topic: str, key: bytes | None, what: str, spelt: str, max_len: int) -> str:
    """The key of a tombstone: the only thing that says which ``what`` it removes."""
    if key is None:
        raise EventError(f"{topic}: tombstone without a key, cannot tell which {what} to remove")
    try:
        text_key = bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        raise EventError(f"{topic}: tombstone key is not UTF-8") from None
    if not 0 < len(text_key) <= max_len:
        raise EventError(
            f"{topic}: tombstone key must be {spelt} of 1 to {max_len} characters,"
            f" got {len(text_key)}"
        )
    return text_key
