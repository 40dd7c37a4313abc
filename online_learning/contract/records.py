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
    "CHOICES",
    "FEEDBACK_TOPIC",
    "LINES_MAX",
    "LINE_OUTCOMES",
    "ORDERS_TOPIC",
    "OUTCOMES",
    "PERFECT_OUTCOMES",
    "PICKS_MAX",
    "PREFERENCES_TOPIC",
    "RANKINGS_TOPIC",
    "REASONS",
    "REASONS_MAX",
    "REPLIES_TOPIC",
    "REQUESTS_TOPIC",
    "SIGNALS",
    "SIGNALS_TOPIC",
    "SUBSTITUTE_OUTCOMES",
    "CatalogTombstone",
    "CompletedOrder",
    "CustomerNeeds",
    "EventError",
    "Feedback",
    "InventorySignal",
    "ItemChoice",
    "OrderLine",
    "PreferenceTombstone",
    "Product",
    "SubstitutionRequest",
    "load_schema",
    "preference_key",
]

CATALOG_TOPIC = "catalog.items"
SIGNALS_TOPIC = "inventory.signals"
FEEDBACK_TOPIC = "substitutions.feedback"
RANKINGS_TOPIC = "substitutions.rankings"
ORDERS_TOPIC = "orders.completed"
PREFERENCES_TOPIC = "customers.preferences"
REQUESTS_TOPIC = "substitutions.requests"
REPLIES_TOPIC = "substitutions.replies"

SIGNALS = ("found", "not_found", "out_of_stock", "in_stock")
OUTCOMES = ("accepted", "rejected", "refunded")
# What became of an order line: the item itself, a substitute kept, refused or refunded, or
# nothing at all (no substitute wanted or none available). Only the middle three name one.
LINE_OUTCOMES = ("found", "substituted", "rejected", "refunded", "missing")
SUBSTITUTE_OUTCOMES = ("substituted", "rejected", "refunded")
# Why a customer refused a substitute, as a shopper app's buttons say it: a closed set, so a
# count by reason stays a handful of series. A new code is a contract change (consumers first).
REASONS = (
    "too_expensive",
    "wrong_size",
    "different_brand",
    "dietary",
    "wrong_product",
    "quality",
    "other",
)
REASONS_MAX = 20  # codes in one event, repeats included (a double tap); kept once each
PERFECT_OUTCOMES = ("found", "substituted")
LINES_MAX = 500  # lines of one order; a bigger basket is a producer bug, not a shop
# What a customer wants done when an item is missing: the model's best substitute, one of the
# substitutes they picked themselves (in their order), or nothing at all.
CHOICES = ("best_match", "specific", "no_substitute")
PICKS_MAX = 20  # a customer's own substitutes for one item


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
    # the ranking's propensity, echoed back: with position 0 it is the exploration log entry
    # off-policy evaluation needs (docs/design.md), which survives the rankings' compaction
    propensity: float | None = None
    # What the customer wrote or the shopper noted: untrusted text, cleaned by the decoder
    # (no control characters but newline and tab, at most COMMENT_MAX characters); None if
    # the event has none. Display or log it escaped (contract.fields.log_safe).
    comment: str | None = None
    # The reason codes sent, each once, in the order of REASONS; () if none.
    reason: tuple[str, ...] = ()
    # The comment sent was longer than COMMENT_MAX and was cut to its first COMMENT_MAX.
    comment_truncated: bool = False


@dataclass(slots=True, frozen=True)
class OrderLine:
    """One line of a completed order: the ordered item and what became of it.

    ``substitute_id`` is set exactly when ``outcome`` is substituted, rejected or refunded.
    """

    item_id: str
    outcome: str
    substitute_id: str | None = None


@dataclass(slots=True, frozen=True)
class CompletedOrder:
    """A finished order and the outcome of each line (topic ``orders.completed``).

    >>> CompletedOrder("o1", "s1", 1.0, (OrderLine("milk", "found"),
    ...     OrderLine("bread", "substituted", "rye"))).perfect
    True
    >>> CompletedOrder("o2", "s1", 1.0, (OrderLine("milk", "refunded", "oat"),)).perfect
    False
    """

    order_id: str
    store_id: str
    ts: float
    lines: tuple[OrderLine, ...]
    customer_id: str | None = None

    @property
    def perfect(self) -> bool:
        """Every line found or replaced by a substitute the customer kept."""
        return all(line.outcome in PERFECT_OUTCOMES for line in self.lines)


@dataclass(slots=True, frozen=True)
class ItemChoice:
    """What a customer wants when one item is missing (topic ``customers.preferences``).

    ``substitute_ids`` are the customer's own picks, best first, when ``choice`` is
    ``specific``, and empty otherwise.
    """

    customer_id: str
    item_id: str
    choice: str
    substitute_ids: tuple[str, ...]
    ts: float


@dataclass(slots=True, frozen=True)
class CustomerNeeds:
    """The needs a customer states for every item, such as ``lactose_free``
    (topic ``customers.preferences``). Tags are spelt as
    :func:`~online_learning.product_text.normalize_tag` spells them; empty means no needs.
    """

    customer_id: str
    needs: frozenset[str]
    ts: float


@dataclass(slots=True, frozen=True)
class PreferenceTombstone:
    """A preference deletion: whatever record the message key held is gone."""

    key: str


def preference_key(record: ItemChoice | CustomerNeeds | PreferenceTombstone) -> str:
    """The message key a producer must give a preference record.

    ``customer_id`` for a customer's needs, ``customer_id:item_id`` for an item's choice. The
    worker stores each record under its message key, as a compacted topic keeps it, so a
    tombstone (null value) with the same key removes exactly that record; it never parses a key.

    >>> preference_key(ItemChoice("c1", "milk", "no_substitute", (), 1.0))
    'c1:milk'
    >>> preference_key(CustomerNeeds("c1", frozenset({"lactose_free"}), 1.0))
    'c1'
    """
    if isinstance(record, PreferenceTombstone):
        return record.key
    if isinstance(record, ItemChoice):
        return f"{record.customer_id}:{record.item_id}"
    return record.customer_id


@dataclass(slots=True, frozen=True)
class SubstitutionRequest:
    """A shopper cannot find ``item_id`` for an order now and waits for substitutes
    (topic ``substitutions.requests``); the worker answers on ``substitutions.replies``."""

    request_id: str
    order_id: str
    customer_id: str
    store_id: str
    item_id: str
    ts: float


def load_schema(name: str) -> dict[str, Any]:
    """The v1 JSON Schema for topic ``name``, from the installed ``schemas`` package.

    Examples
    --------
    >>> load_schema("inventory.signals")["title"]
    'inventory.signals v1'
    """
    return schemas.load(name)
