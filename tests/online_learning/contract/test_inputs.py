"""The v1 event contract: schema files, the hand-written decoders, and their agreement."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import schemas
from online_learning.contract import (
    DEAD_LETTER_MAX_PAYLOAD,
    OUTCOMES,
    SIGNALS,
    CatalogTombstone,
    EventError,
    Feedback,
    InventorySignal,
    Product,
    dead_letter_payload,
    decode_catalog,
    decode_feedback,
    decode_signal,
    load_schema,
)

SCHEMA_NAMES = [
    "catalog.items",
    "inventory.signals",
    "substitutions.feedback",
    "substitutions.rankings",
    "substitutions.deadletter",
]
VALIDATORS = {name: Draft202012Validator(load_schema(name)) for name in SCHEMA_NAMES}
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def decode_catalog_value(value: bytes | None) -> Product | CatalogTombstone:
    return decode_catalog(b"any-key", value)


DECODERS: dict[str, Callable[[bytes | None], object]] = {
    "catalog.items": decode_catalog_value,
    "inventory.signals": decode_signal,
    "substitutions.feedback": decode_feedback,
}


# --- the schema files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_file_is_a_documented_open_2020_12_schema(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.v1.json")
    assert schema["title"] and schema["description"]
    assert schema["additionalProperties"] is True
    assert name in schemas.names()


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_examples_are_valid(name: str) -> None:
    examples = load_schema(name)["examples"]
    assert examples
    for example in examples:
        VALIDATORS[name].validate(example)
        if name in DECODERS:
            DECODERS[name](orjson.dumps(example))  # and the decoder takes them too


# --- decoding valid events ---------------------------------------------------------------------


def test_catalog_item_decodes_with_all_fields() -> None:
    raw = orjson.dumps(
        {
            "item_id": "milk-whole-1l",
            "name": "Whole milk 1 l",
            "aisle": "dairy",
            "department": "fresh",
            "price": 1.29,
            "size": 1000,
            "unit": "ml",
            "brand": "Meadow",
            "tags": ["Organic", "organic", "UHT"],
            "supplier": "ignored",
        }
    )
    assert decode_catalog(b"milk-whole-1l", raw) == Product(
        item_id="milk-whole-1l",
        name="Whole milk 1 l",
        aisle="dairy",
        department="fresh",
        price=1.29,
        size=1000.0,
        unit="ml",
        brand="Meadow",
        tags=frozenset({"organic", "uht"}),
    )


def test_catalog_item_with_only_required_fields_gets_defaults() -> None:
    raw = b'{"item_id": "bread", "name": "Bread", "aisle": "bakery", "department": "fresh"}'
    product = decode_catalog(None, raw)
    assert product == Product("bread", "Bread", "bakery", "fresh")
    assert isinstance(product, Product) and product.tags == frozenset()


def test_catalog_key_is_advisory_when_a_value_is_present() -> None:
    raw = b'{"item_id": "bread", "name": "Bread", "aisle": "bakery", "department": "fresh"}'
    assert decode_catalog(b"\xff not even utf-8", raw) == Product(
        "bread", "Bread", "bakery", "fresh"
    )


def test_catalog_tombstone_removes_the_keyed_item() -> None:
    assert decode_catalog(b"milk-whole-1l", None) == CatalogTombstone("milk-whole-1l")
    assert decode_catalog("é".encode(), None) == CatalogTombstone("é")


@pytest.mark.parametrize(
    ("key", "fragment"),
    [(None, "without a key"), (b"", "1 to 200"), (b"x" * 201, "1 to 200"), (b"\xff", "UTF-8")],
)
def test_catalog_tombstone_needs_a_usable_key(key: bytes | None, fragment: str) -> None:
    with pytest.raises(EventError, match=fragment):
        decode_catalog(key, None)


def test_signal_decodes_and_converts_numbers() -> None:
    raw = (
        b'{"store_id": "s1", "item_id": "milk", "signal": "out_of_stock", "ts": 1700000000,'
        b' "quantity": 3.0, "source": "wms", "extra": {"nested": [1, 2]}}'
    )
    signal = decode_signal(raw)
    assert signal == InventorySignal("s1", "milk", "out_of_stock", 1700000000.0, 3, "wms")
    assert type(signal.ts) is float and type(signal.quantity) is int


@pytest.mark.parametrize("kind", SIGNALS)
def test_every_signal_kind_is_accepted(kind: str) -> None:
    raw = orjson.dumps({"store_id": "s1", "item_id": "milk", "signal": kind, "ts": 0})
    assert decode_signal(raw).signal == kind


def test_feedback_decodes_with_all_fields() -> None:
    raw = orjson.dumps(
        {
            "event_id": "fb-1",
            "store_id": "s1",
            "item_id": "milk-whole-1l",
            "substitute_id": "milk-semi-1l",
            "outcome": "refunded",
            "order_id": "o-9",
            "customer_id": "c-42",
            "ranking_id": "rk-7",
            "position": 0,
            "ts": 1700000200.5,
        }
    )
    assert decode_feedback(raw) == Feedback(
        event_id="fb-1",
        store_id="s1",
        item_id="milk-whole-1l",
        substitute_id="milk-semi-1l",
        outcome="refunded",
        ts=1700000200.5,
        order_id="o-9",
        customer_id="c-42",
        ranking_id="rk-7",
        position=0,
    )


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_outcome_is_accepted(outcome: str) -> None:
    raw = orjson.dumps(
        {"event_id": "e", "store_id": "s", "item_id": "a", "substitute_id": "b"}
        | {"outcome": outcome, "ts": 1.0}
    )
    assert decode_feedback(raw).outcome == outcome


# --- refusals say what is wrong ---------------------------------------------------------------

SIGNAL = {"store_id": "s1", "item_id": "milk", "signal": "found", "ts": 1.0}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            orjson.dumps(SIGNAL | {"signal": "lost"}),
            "inventory.signals: field 'signal' must be one of found, not_found, out_of_stock,"
            " in_stock, got 'lost'",
        ),
        (
            orjson.dumps({k: v for k, v in SIGNAL.items() if k != "ts"}),
            "inventory.signals: missing required field 'ts'",
        ),
        (orjson.dumps(SIGNAL | {"ts": True}), "field 'ts' must be a number >= 0, got true"),
        (orjson.dumps(SIGNAL | {"ts": "1"}), "field 'ts' must be a number >= 0, got '1'"),
        (orjson.dumps(SIGNAL | {"ts": -1}), "field 'ts' must be epoch seconds >= 0, got -1"),
        (orjson.dumps(SIGNAL | {"quantity": 1.5}), "'quantity' must be an integer >= 0, got 1.5"),
        (
            orjson.dumps(SIGNAL | {"quantity": False}),
            "'quantity' must be an integer >= 0, got false",
        ),
        (orjson.dumps(SIGNAL | {"quantity": None}), "'quantity' must be an integer >= 0, got null"),
        (orjson.dumps(SIGNAL | {"store_id": ""}), "'store_id' must be 1 to 200 characters, got 0"),
        (orjson.dumps(SIGNAL | {"item_id": "x" * 201}), "'item_id' must be 1 to 200 characters"),
        (orjson.dumps(SIGNAL | {"item_id": 42}), "'item_id' must be a string, got 42"),
        (orjson.dumps(SIGNAL | {"item_id": [1]}), "'item_id' must be a string, got an array"),
        (b"[1, 2]", "inventory.signals: payload must be a JSON object, got an array"),
        (b"null", "payload must be a JSON object, got null"),
        (b'{"store_id": ', "inventory.signals: not valid JSON: "),
        (b'{"ts": 1e400}', "not valid JSON: number is infinity"),
        (b'{"ts": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "inventory.signals: not UTF-8"),
        (b"", "not valid JSON"),
        (None, "value is null (a tombstone)"),
    ],
)
def test_signal_refusals_name_the_problem(raw: bytes | None, message: str) -> None:
    with pytest.raises(EventError) as excinfo:
        decode_signal(raw)
    assert message in str(excinfo.value)


def test_catalog_tag_refusals_name_the_tag() -> None:
    base = {"item_id": "i", "name": "n", "aisle": "a", "department": "d"}
    with pytest.raises(EventError, match=r"field 'tags\[1\]' must be a string, got 7"):
        decode_catalog(None, orjson.dumps(base | {"tags": ["ok", 7]}))
    with pytest.raises(EventError, match="at most 50 items, got 51"):
        decode_catalog(None, orjson.dumps(base | {"tags": ["t"] * 51}))
    with pytest.raises(EventError, match="'price' must be a number > 0, got 0"):
        decode_catalog(None, orjson.dumps(base | {"price": 0}))


def test_huge_offending_values_are_abbreviated_in_errors() -> None:
    raw = orjson.dumps(SIGNAL | {"signal": "x" * 1_000_000})
    with pytest.raises(EventError) as excinfo:
        decode_signal(raw)
    assert len(str(excinfo.value)) < 300
    assert "1000000 characters" in str(excinfo.value)


@pytest.mark.parametrize("decode", DECODERS.values(), ids=DECODERS.keys())
def test_deep_nesting_is_refused_not_crashed(decode: Callable[[bytes | None], object]) -> None:
    with pytest.raises(EventError, match="not valid JSON"):
        decode(b"[" * 100_000 + b"]" * 100_000)
    nested = b'{"item_id": "x", "deep": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    with pytest.raises(EventError, match="not valid JSON"):
        decode(nested)


# --- property tests: decoders and schemas agree -------------------------------------------------

ID_LENGTHS = [0, 1, 100, 101, 200, 201, 1000, 1001]
BOUNDARY_STRINGS = [("x" * n) for n in ID_LENGTHS] + ["X" * 100, "é" * 200, "é" * 201]
ids = st.one_of(st.text(min_size=1, max_size=20), st.sampled_from(["x" * 200, "é" * 200]))
timestamps = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
)
counts = st.one_of(st.integers(min_value=0, max_value=2**63), st.sampled_from([0.0, 7.0]))
positives = st.one_of(
    st.integers(min_value=1, max_value=10**6),
    st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False),
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
    *BOUNDARY_STRINGS,
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
    },
)
signals = st.fixed_dictionaries(
    {"store_id": ids, "item_id": ids, "signal": st.sampled_from(SIGNALS), "ts": timestamps},
    optional={"quantity": counts, "source": ids},
)
feedbacks = st.fixed_dictionaries(
    {
        "event_id": ids,
        "store_id": ids,
        "item_id": ids,
        "substitute_id": ids,
        "outcome": st.sampled_from(OUTCOMES),
        "ts": timestamps,
    },
    optional={"order_id": ids, "customer_id": ids, "ranking_id": ids, "position": counts},
)


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


def encode(obj: Any, ascii_only: bool) -> bytes:
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


def assert_agrees_with_schema(name: str, obj: Any, raw: bytes) -> object | None:
    """Decode ``raw``; it must be accepted exactly when the schema accepts ``obj``."""
    decode = DECODERS[name]
    if has_non_finite(obj):
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


@pytest.mark.parametrize("name", DECODERS.keys())
def test_each_field_at_each_boundary_value_agrees_with_schema(name: str) -> None:
    # Systematic single-field changes; the property tests below explore combinations.
    for base in load_schema(name)["examples"]:
        for field in load_schema(name)["properties"]:
            without = {k: v for k, v in base.items() if k != field}
            assert_agrees_with_schema(name, without, encode(without, ascii_only=True))
            for value in BOUNDARY_VALUES:
                obj = base | {field: value}
                assert_agrees_with_schema(name, obj, encode(obj, ascii_only=False))


@PROPERTY_SETTINGS
@given(obj=mutations(catalog_items, "catalog.items"), ascii_only=st.booleans())
def test_catalog_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    product = assert_agrees_with_schema("catalog.items", obj, encode(obj, ascii_only))
    if product is not None:
        assert isinstance(product, Product)
        assert (product.item_id, product.name) == (obj["item_id"], obj["name"])
        assert product.tags == frozenset(tag.lower() for tag in obj.get("tags", []))


@PROPERTY_SETTINGS
@given(obj=mutations(signals, "inventory.signals"), ascii_only=st.booleans())
def test_signal_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    signal = assert_agrees_with_schema("inventory.signals", obj, encode(obj, ascii_only))
    if signal is not None:
        assert isinstance(signal, InventorySignal)
        assert (signal.store_id, signal.item_id, signal.signal) == (
            obj["store_id"],
            obj["item_id"],
            obj["signal"],
        )
        assert signal.ts == pytest.approx(obj["ts"], rel=1e-15)


@PROPERTY_SETTINGS
@given(obj=mutations(feedbacks, "substitutions.feedback"), ascii_only=st.booleans())
def test_feedback_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    feedback = assert_agrees_with_schema("substitutions.feedback", obj, encode(obj, ascii_only))
    if feedback is not None:
        assert isinstance(feedback, Feedback)
        assert (feedback.event_id, feedback.substitute_id, feedback.outcome) == (
            obj["event_id"],
            obj["substitute_id"],
            obj["outcome"],
        )
        assert feedback.ranking_id == obj.get("ranking_id")


@st.composite
def corrupted_bytes(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or a valid payload with bytes flipped, cut or inserted."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    data = bytearray(orjson.dumps(draw(st.one_of(catalog_items, signals, feedbacks))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


@PROPERTY_SETTINGS
@given(raw=corrupted_bytes(), key=st.one_of(st.none(), st.binary(max_size=8)))
def test_any_bytes_give_an_event_or_an_event_error(raw: bytes, key: bytes | None) -> None:
    for decode in (decode_signal, decode_feedback, lambda value: decode_catalog(key, value)):
        try:
            event = decode(raw)
        except EventError:
            continue
        assert isinstance(event, Product | InventorySignal | Feedback)


@PROPERTY_SETTINGS
@given(key=st.binary(max_size=300))
def test_any_tombstone_key_gives_a_tombstone_or_an_event_error(key: bytes) -> None:
    try:
        tombstone = decode_catalog(key, None)
    except EventError:
        return
    assert isinstance(tombstone, CatalogTombstone)
    assert tombstone.item_id.encode() == key


# --- dead letters -----------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(
    raw=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode)),
    partition=st.integers(0, 1000),
    offset=st.integers(0, 2**63 - 1),
)
def test_dead_letter_keeps_the_original_bytes(raw: bytes, partition: int, offset: int) -> None:
    record = dead_letter_payload(
        "inventory.signals", partition, offset, "inventory.signals: not UTF-8", raw, 1.5
    )
    VALIDATORS["substitutions.deadletter"].validate(record)
    recovered = orjson.loads(orjson.dumps(record))  # survives the trip through Kafka as JSON
    if recovered["payload_encoding"] == "utf-8":
        assert recovered["payload"].encode() == raw
    else:
        assert recovered["payload_encoding"] == "base64"
        assert base64.b64decode(recovered["payload"], validate=True) == raw
    assert (recovered["partition"], recovered["offset"]) == (partition, offset)


def test_dead_letter_uses_text_when_it_can_and_base64_when_it_must() -> None:
    text = dead_letter_payload("t", 0, 1, "bad", '{"ts": "€"}'.encode(), 2.0)
    assert (text["payload"], text["payload_encoding"]) == ('{"ts": "€"}', "utf-8")
    binary = dead_letter_payload("t", 0, 1, "bad", b"\x00\xff", 2.0)
    assert (binary["payload"], binary["payload_encoding"]) == ("AP8=", "base64")


def test_dead_letter_for_a_tombstone_has_an_empty_payload() -> None:
    record = dead_letter_payload("inventory.signals", 2, 9, "unexpected tombstone", None, 3.0)
    VALIDATORS["substitutions.deadletter"].validate(record)
    assert (record["payload"], record["payload_encoding"]) == ("", "utf-8")


def test_a_huge_value_is_dead_lettered_with_its_head_and_its_size() -> None:
    raw = b"\xff" * (DEAD_LETTER_MAX_PAYLOAD * 4)  # 1 MiB of non-UTF-8: 1.4 MB in base64
    record = dead_letter_payload(
        "inventory.signals", 0, 5, "inventory.signals: not UTF-8", raw, 4.0
    )
    VALIDATORS["substitutions.deadletter"].validate(record)
    assert record["payload_truncated"] is True and record["payload_size"] == len(raw)
    assert base64.b64decode(record["payload"]) == raw[:DEAD_LETTER_MAX_PAYLOAD]
    assert len(orjson.dumps(record)) < 512 * 1024  # fits a default 1 MB Kafka message
    small = dead_letter_payload("t", 0, 1, "bad", b"x" * DEAD_LETTER_MAX_PAYLOAD, 4.0)
    assert "payload_truncated" not in small and len(small["payload"]) == DEAD_LETTER_MAX_PAYLOAD


# --- rankings (output) ------------------------------------------------------------------------

RANKING: dict[str, Any] = {
    "ranking_id": "rk-1",
    "store_id": "s1",
    "item_id": "milk-whole-1l",
    "substitutes": [{"item_id": "milk-semi-1l", "score": 0.8, "p_accept": 0.9, "p_available": 1}],
    "reason": None,
    "model_version": "logreg-1",
    "trigger": "stock_out",
    "ts": 1700000001.0,
    "source_ts": 1700000000.0,
}


@pytest.mark.parametrize(
    "ranking",
    [
        RANKING,
        RANKING | {"substitutes": [], "reason": "no_candidates"},
        RANKING | {"reason": "only one candidate in stock", "propensity": 1, "explored": False},
        RANKING | {"trigger": "a_trigger_invented_later", "extra": [1, 2]},
    ],
)
def test_valid_rankings_match_the_schema(ranking: dict[str, Any]) -> None:
    VALIDATORS["substitutions.rankings"].validate(ranking)


@pytest.mark.parametrize(
    "ranking",
    [
        RANKING | {"substitutes": []},
        RANKING | {"substitutes": [], "reason": ""},
        {k: v for k, v in RANKING.items() if k != "reason"},
        RANKING
        | {"substitutes": [{"item_id": "x", "score": 1.5, "p_accept": 0, "p_available": 0}]},
        RANKING | {"substitutes": [{"item_id": "x", "score": 0.5, "p_accept": 0}]},
        RANKING | {"propensity": 0},
        RANKING | {"model_version": 3},
    ],
    ids=[
        "empty-without-reason",
        "empty-with-blank-reason",
        "reason-missing",
        "score-above-1",
        "p_available-missing",
        "propensity-zero",
        "model_version-not-string",
    ],
)
def test_invalid_rankings_are_refused_by_the_schema(ranking: dict[str, Any]) -> None:
    assert not VALIDATORS["substitutions.rankings"].is_valid(ranking)
