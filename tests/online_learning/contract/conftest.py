"""What the contract's tests share: the schema validators, every decoder by topic, hypothesis
strategies for valid payloads and their near misses, and the decoder-agrees-with-schema check."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from online_learning.contract import (
    CHOICES,
    LINE_OUTCOMES,
    OUTCOMES,
    REASONS,
    SIGNALS,
    SUBSTITUTE_SOURCES,
    CatalogTombstone,
    CustomerNeeds,
    EventError,
    ItemChoice,
    PreferenceTombstone,
    Product,
    decode_catalog,
    decode_feedback,
    decode_order,
    decode_preference,
    decode_ranking,
    decode_reply,
    decode_request,
    decode_signal,
    load_schema,
)
from online_learning.contract.fields import COMMENT_MAX
from online_learning.contract.records import SUBSTITUTE_OUTCOMES
from online_learning.product_text import normalize_tag

SCHEMA_NAMES = [
    "catalog.items",
    "inventory.signals",
    "substitutions.feedback",
    "substitutions.rankings",
    "substitutions.deadletter",
    "orders.completed",
    "customers.preferences",
    "substitutions.requests",
    "substitutions.replies",
]
VALIDATORS = {name: Draft202012Validator(load_schema(name)) for name in SCHEMA_NAMES}
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def decode_catalog_value(value: bytes | None) -> Product | CatalogTombstone:
    return decode_catalog(b"any-key", value)


def decode_preference_value(
    value: bytes | None,
) -> ItemChoice | CustomerNeeds | PreferenceTombstone:
    return decode_preference(b"any-key", value)


DECODERS: dict[str, Callable[[bytes | None], object]] = {
    "catalog.items": decode_catalog_value,
    "inventory.signals": decode_signal,
    "substitutions.feedback": decode_feedback,
    "substitutions.rankings": decode_ranking,
    "orders.completed": decode_order,
    "customers.preferences": decode_preference_value,
    "substitutions.requests": decode_request,
    "substitutions.replies": decode_reply,
}

ID_LENGTHS = [0, 1, 100, 101, 200, 201, 1000, 1001]
BOUNDARY_STRINGS = [("x" * n) for n in ID_LENGTHS] + ["X" * 100, "é" * 200, "é" * 201]
ids = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(["x" * 200, "é" * 200]))
timestamps = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
# An input's event time: epoch seconds below 1e11 (above it is milliseconds or microseconds)
event_times = st.one_of(
    st.integers(min_value=0, max_value=10**11 - 1),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.sampled_from([99_999_999_999.5, 1_700_000_000]),
)
counts = st.one_of(st.integers(min_value=0, max_value=2**63), st.sampled_from([0.0, 7.0]))
positives = st.one_of(
    st.integers(min_value=1, max_value=10**6),
    st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False),
)
# A demand figure: 0 is valid (nothing sold), as are fractions and very large numbers.
non_negatives = st.one_of(
    st.integers(min_value=0, max_value=2**63),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 0.0, -0.0, 5e-324]),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
# Values chosen to sit on or just past a schema limit, or to be a near miss in type.
BOUNDARY_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -0.0,
    1,
    -1,
    0.5,
    1.5,
    2.0,
    -2.0,
    5e-324,
    -5e-324,
    1e20,
    99_999_999_999,
    10**11,
    1.7e12,  # milliseconds
    1.7e15,  # microseconds
    2**63,
    2**64,
    2**70,
    -(2**70),
    10**400,
    math.nan,
    math.inf,
    -math.inf,
    [],
    {},
    ["organic"],
    ["Organic", "organic"],
    ["t"] * 50,
    ["t"] * 51,
    [""],
    ["x" * 100],
    ["x" * 101],
    ["a", 1],
    [None],
    "lost",
    "FOUND",
    "Accepted",
    *SIGNALS,
    *OUTCOMES,
    *LINE_OUTCOMES,
    [{"item_id": "a", "outcome": "found"}],
    [{"item_id": "a", "outcome": "found"}] * 500,
    [{"item_id": "a", "outcome": "found"}] * 501,
    [{"item_id": "a", "outcome": "missing", "substitute_id": "b"}],
    [{"item_id": "a", "outcome": "rejected", "substitute_id": "b"}],
    [{"item_id": "a", "outcome": "refunded"}],
    *CHOICES,
    *SUBSTITUTE_SOURCES,
    "Best_Match",
    ["milk-whole-1l"],  # the item of a preference example: not its own substitute
    ["milk-semi-1l", "milk-semi-1l"],
    [f"s{i}" for i in range(20)],
    [f"s{i}" for i in range(21)],
    ["Lactose-Free", "lactose free"],
    ["--"],
    ["é"],
    ["日本"],
    [{"item_id": "a", "score": 0.5, "p_accept": 0.5, "p_available": 0.5, "source": "model"}],
    [{"item_id": "a", "score": 0.5, "p_accept": 0.5, "p_available": 0.5, "source": "shopper"}],
    [{"item_id": "a", "score": 0.5, "p_accept": 0.5, "p_available": 0.5, "source": "model"}] * 50,
    [{"item_id": "a", "score": 0.5, "p_accept": 0.5, "p_available": 0.5, "source": "model"}] * 51,
    *BOUNDARY_STRINGS,
    # feedback's reason codes and comment
    *REASONS,
    [*REASONS],
    ["too_expensive", "too_expensive"],
    ["Too_Expensive"],
    ["too_expensive"] * 21,
    "a\x00b",
    "\x00",
    " \r\n\t\x1b",
    "\u202egnp.exe",
    "c" * (COMMENT_MAX + 1),
]
nasty_values = st.one_of(st.sampled_from(BOUNDARY_VALUES), json_values)

catalog_items = st.fixed_dictionaries(
    {
        "item_id": ids,
        "name": st.one_of(st.text(min_size=1, max_size=30), st.just("n" * 1000)),
        "aisle": ids,
        "department": ids,
    },
    optional={
        "price": positives,
        "size": positives,
        "unit": ids,
        "brand": ids,
        "tags": st.one_of(
            st.lists(st.one_of(st.text(min_size=1, max_size=10), st.just("T" * 100)), max_size=5),
            st.just(["t"] * 50),
        ),
        "popularity": non_negatives,
    },
)
signals = st.fixed_dictionaries(
    {"store_id": ids, "item_id": ids, "signal": st.sampled_from(SIGNALS), "ts": event_times},
    optional={"quantity": counts, "source": ids},
)
# What customers write, within the limit: any text but NUL (which is refused), controls included;
# text a UTF-8 producer can write (a lone surrogate is test_feedback_comments.py's own case).
comments = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
    st.sampled_from(["c" * COMMENT_MAX, "é" * COMMENT_MAX, "Zu teuer 😠", "<script>x</script>"]),
)
feedbacks = st.fixed_dictionaries(
    {
        "event_id": ids,
        "store_id": ids,
        "item_id": ids,
        "substitute_id": ids,
        "outcome": st.sampled_from(OUTCOMES),
        "ts": event_times,
    },
    optional={
        "order_id": ids,
        "customer_id": ids,
        "ranking_id": ids,
        "position": counts,
        "comment": comments,
        "reason": st.lists(st.sampled_from(REASONS), max_size=4),
    },
)

order_lines = st.one_of(
    st.fixed_dictionaries(
        {"item_id": ids, "outcome": st.sampled_from(["found", "missing"])},
        optional={"note": st.text(max_size=5)},  # extra fields are ignored
    ),
    st.fixed_dictionaries(
        {"item_id": ids, "outcome": st.sampled_from(SUBSTITUTE_OUTCOMES), "substitute_id": ids}
    ),
)
orders = st.fixed_dictionaries(
    {
        "order_id": ids,
        "store_id": ids,
        "ts": event_times,
        # 500 and 501 lines are among BOUNDARY_VALUES: long lists here only cost time
        "lines": st.lists(order_lines, min_size=1, max_size=6),
    },
    optional={"customer_id": ids},
)
LINE_FIELDS = ("item_id", "outcome", "substitute_id")


@st.composite
def order_mutations(draw: st.DrawFn) -> Any:
    """Like :func:`mutations`, and sometimes one field of one line changed, dropped or added."""
    obj = draw(mutations(orders, "orders.completed"))
    lines = obj.get("lines") if type(obj) is dict else None
    if type(lines) is list and lines and type(lines[0]) is dict and draw(st.booleans()):
        at = draw(st.integers(0, len(lines) - 1))
        line = dict(lines[at]) if type(lines[at]) is dict else {}
        field = draw(st.sampled_from(LINE_FIELDS))
        if draw(st.booleans()):
            line.pop(field, None)
        else:
            line[field] = draw(st.one_of(nasty_values, ids, st.sampled_from(LINE_OUTCOMES)))
        obj["lines"] = [*lines[:at], line, *lines[at + 1 :]]
    return obj


@st.composite
def mutations(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]], name: str) -> Any:
    """A valid payload with up to three fields dropped, set or added, or any JSON value."""
    fields = sorted(load_schema(name)["properties"])  # optional ones too, absent or not
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    obj = dict(draw(valid))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop" and obj:
            del obj[draw(st.sampled_from(sorted(obj)))]
        elif action == "replace":
            obj[draw(st.sampled_from(fields))] = draw(nasty_values)
        else:
            obj[draw(st.text(max_size=10))] = draw(nasty_values)
    return obj


def as_json(obj: Any, ascii_only: bool) -> bytes:
    # The stdlib writes NaN/Infinity tokens, which is what a sloppy producer would send.
    return json.dumps(obj, allow_nan=True, ensure_ascii=ascii_only).encode()


def has_non_finite(obj: Any) -> bool:
    """True if the payload holds a number that is not a finite double (JSON Schema can't tell)."""
    if type(obj) is float:
        return not math.isfinite(obj)
    if type(obj) is int:
        try:
            float(obj)
        except OverflowError:
            return True
        return False
    if type(obj) is list:
        return any(has_non_finite(item) for item in obj)
    if type(obj) is dict:
        return any(has_non_finite(item) for item in obj.values())
    return False


def breaks_preference_rules_beyond_schema(obj: Any) -> bool:
    """True if a preference names its own item as a substitute, or holds a need that
    normalize_tag leaves empty: rules the decoder enforces that JSON Schema cannot state."""
    if type(obj) is not dict:
        return False
    picks, needs = obj.get("substitute_ids"), obj.get("needs")
    if type(picks) is list and "item_id" in obj and obj["item_id"] in picks:
        return True
    return type(needs) is list and any(type(n) is str and not normalize_tag(n) for n in needs)


# What a decoder refuses beyond its schema, by topic (besides non-finite numbers, everywhere).
BEYOND_SCHEMA: dict[str, Callable[[Any], bool]] = {
    "customers.preferences": breaks_preference_rules_beyond_schema,
}


def assert_agrees_with_schema(name: str, obj: Any, raw: bytes) -> object | None:
    """Decode ``raw``; it must be accepted exactly when the schema accepts ``obj`` (and refused
    when it breaks a rule of :data:`BEYOND_SCHEMA` or holds a non-finite number)."""
    decode = DECODERS[name]
    beyond = BEYOND_SCHEMA.get(name)
    if has_non_finite(obj) or (beyond is not None and beyond(obj)):
        with pytest.raises(EventError):
            decode(raw)
        return None
    schema_errors = [error.message for error in VALIDATORS[name].iter_errors(obj)]
    try:
        decoded = decode(raw)
    except EventError as exc:
        assert schema_errors, f"decoder refused what the schema accepts: {exc}"
        return None
    assert not schema_errors, f"decoder accepted what the schema refuses: {schema_errors}"
    return decoded


probabilities = st.one_of(
    st.floats(min_value=0, max_value=1), st.sampled_from([0, 1, 0.5, 5e-324, 0.1234567891])
)
substitutes = st.fixed_dictionaries(
    {
        "item_id": ids,
        "score": probabilities,
        "p_accept": probabilities,
        "p_available": probabilities,
    }
)
_ranking_fields = {
    "ranking_id": ids,
    "store_id": ids,
    "item_id": ids,
    "model_version": ids,
    "trigger": ids,
    "ts": timestamps,
    "source_ts": timestamps,
}
_ranking_options = {
    "propensity": st.one_of(st.floats(min_value=0, max_value=1, exclude_min=True), st.just(1)),
    "explored": st.booleans(),
}
rankings = st.one_of(
    st.fixed_dictionaries(
        _ranking_fields
        | {
            "substitutes": st.lists(substitutes, min_size=1, max_size=4),
            "reason": st.one_of(st.none(), st.text(max_size=20)),
        },
        optional=_ranking_options,
    ),
    st.fixed_dictionaries(
        _ranking_fields | {"substitutes": st.just([]), "reason": st.text(min_size=1, max_size=20)},
        optional=_ranking_options,
    ),
)


@st.composite
def ranking_mutations(draw: st.DrawFn) -> Any:
    """Like :func:`mutations`, and sometimes one field of one substitute changed or dropped."""
    obj = draw(mutations(rankings, "substitutions.rankings"))
    listed = obj.get("substitutes") if type(obj) is dict else None
    if type(listed) is list and listed and type(listed[0]) is dict and draw(st.booleans()):
        sub = dict(listed[0])
        field = draw(st.sampled_from(["item_id", "score", "p_accept", "p_available"]))
        if draw(st.booleans()):
            sub.pop(field, None)
        else:
            sub[field] = draw(nasty_values)
        obj["substitutes"] = [sub, *listed[1:]]
    return obj


# --- customers.preferences, substitutions.requests, substitutions.replies ------------------------

# Needs as customers type them: any text (much of it normalizes to nothing), and a few spellings.
need_tags = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["Lactose-Free", "lactose free", "halal", "T" * 100, "--", "é", " "]),
)
preferences = st.one_of(
    st.fixed_dictionaries(
        {
            "customer_id": ids,
            "item_id": ids,
            "choice": st.sampled_from(["best_match", "no_substitute"]),
            "ts": event_times,
        }
    ),
    st.fixed_dictionaries(
        {
            "customer_id": ids,
            "item_id": ids,
            "choice": st.just("specific"),
            "substitute_ids": st.lists(ids, min_size=1, max_size=4, unique=True),
            "ts": event_times,
        }
    ),
    st.fixed_dictionaries(
        {
            "customer_id": ids,
            "needs": st.one_of(st.lists(need_tags, max_size=5), st.just(["t"] * 50)),
            "ts": event_times,
        }
    ),
)


@st.composite
def preference_mutations(draw: st.DrawFn) -> Any:
    """Like :func:`mutations`, and sometimes one pick or need changed, repeated, or the item
    itself put among the picks."""
    obj = draw(mutations(preferences, "customers.preferences"))
    if type(obj) is not dict or not draw(st.booleans()):
        return obj
    field = draw(st.sampled_from(["substitute_ids", "needs"]))
    listed = obj.get(field)
    if type(listed) is list and listed:
        at = draw(st.integers(0, len(listed) - 1))
        value = draw(
            st.one_of(
                nasty_values,
                need_tags,
                st.just(listed[0]),  # a repeat
                st.just(obj.get("item_id")),  # the item itself (or null)
            )
        )
        obj[field] = [*listed[:at], value, *listed[at + 1 :]]
    return obj


requests = st.fixed_dictionaries(
    {
        "request_id": ids,
        "store_id": ids,
        "item_id": ids,
        "order_id": ids,
        "customer_id": ids,
        "ts": event_times,
    }
)
reply_substitutes = st.fixed_dictionaries(
    {
        "item_id": ids,
        "score": probabilities,
        "p_accept": probabilities,
        "p_available": probabilities,
        "source": st.sampled_from(SUBSTITUTE_SOURCES),
    }
)
_reply_fields = {
    "request_id": ids,
    "order_id": ids,
    "customer_id": ids,
    "store_id": ids,
    "item_id": ids,
    "model_version": ids,
    "ts": event_times,
    "source_ts": event_times,
}
replies = st.one_of(
    st.fixed_dictionaries(
        _reply_fields
        | {
            "substitutes": st.lists(reply_substitutes, min_size=1, max_size=4),
            "reason": st.one_of(st.none(), st.text(min_size=1, max_size=20)),
        },
        optional=_ranking_options,
    ),
    st.fixed_dictionaries(
        _reply_fields
        | {
            "substitutes": st.just([]),
            "reason": st.one_of(st.just("customer_declined"), st.text(min_size=1, max_size=20)),
        },
        optional=_ranking_options,
    ),
)


@st.composite
def reply_mutations(draw: st.DrawFn) -> Any:
    """Like :func:`mutations`, and sometimes one field of one substitute changed or dropped."""
    obj = draw(mutations(replies, "substitutions.replies"))
    listed = obj.get("substitutes") if type(obj) is dict else None
    if type(listed) is list and listed and type(listed[0]) is dict and draw(st.booleans()):
        sub = dict(listed[0])
        field = draw(st.sampled_from(["item_id", "score", "p_accept", "p_available", "source"]))
        if draw(st.booleans()):
            sub.pop(field, None)
        else:
            sub[field] = draw(st.one_of(nasty_values, st.sampled_from(SUBSTITUTE_SOURCES)))
        obj["substitutes"] = [sub, *listed[1:]]
    return obj
