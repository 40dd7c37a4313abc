"""The input decoders of contract v1 and the schema files they stand for: valid events decode,
refusals say what is wrong, and for any payload a decoder agrees with its schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import schemas
from online_learning.contract import (
    LINE_OUTCOMES,
    OUTCOMES,
    SIGNALS,
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
    Reply,
    SubstitutionRequest,
    decode_catalog,
    decode_feedback,
    decode_order,
    decode_preference,
    decode_reply,
    decode_request,
    decode_signal,
    load_schema,
)
from tests.online_learning.contract.conftest import (
    BOUNDARY_VALUES,
    DECODERS,
    PROPERTY_SETTINGS,
    SCHEMA_NAMES,
    VALIDATORS,
    as_json,
    assert_agrees_with_schema,
    catalog_items,
    feedbacks,
    mutations,
    order_mutations,
    preferences,
    replies,
    requests,
    signals,
)

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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "field 'popularity' must be a number >= 0, got -1"),
        (-0.5, "field 'popularity' must be a number >= 0, got -0.5"),
        ("12", "field 'popularity' must be a number >= 0, got '12'"),
        (True, "field 'popularity' must be a number >= 0, got true"),
        (None, "field 'popularity' must be a number >= 0, got null"),
        ([3], "field 'popularity' must be a number >= 0, got an array"),
    ],
)
def test_a_bad_popularity_figure_is_refused_with_the_reason(value: Any, message: str) -> None:
    base = {"item_id": "i", "name": "n", "aisle": "a", "department": "d"}
    with pytest.raises(EventError) as excinfo:
        decode_catalog(None, orjson.dumps(base | {"popularity": value}))
    assert str(excinfo.value) == f"catalog.items: {message}"
    VALIDATORS["catalog.items"].validate(base | {"popularity": 0})  # 0 sold is a figure too
    product = decode_catalog(None, orjson.dumps(base | {"popularity": 0}))
    assert isinstance(product, Product) and product.popularity == 0.0


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


@pytest.mark.parametrize("name", DECODERS.keys())
def test_each_field_at_each_boundary_value_agrees_with_schema(name: str) -> None:
    # Systematic single-field changes; the property tests below explore combinations.
    for base in load_schema(name)["examples"]:
        for field in load_schema(name)["properties"]:
            without = {k: v for k, v in base.items() if k != field}
            assert_agrees_with_schema(name, without, as_json(without, ascii_only=True))
            for value in BOUNDARY_VALUES:
                obj = base | {field: value}
                assert_agrees_with_schema(name, obj, as_json(obj, ascii_only=False))


@PROPERTY_SETTINGS
@given(obj=mutations(catalog_items, "catalog.items"), ascii_only=st.booleans())
def test_catalog_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    product = assert_agrees_with_schema("catalog.items", obj, as_json(obj, ascii_only))
    if product is not None:
        assert isinstance(product, Product)
        assert (product.item_id, product.name) == (obj["item_id"], obj["name"])
        assert product.tags == frozenset(tag.lower() for tag in obj.get("tags", []))
        if "popularity" in obj:
            assert product.popularity == pytest.approx(obj["popularity"], rel=1e-15)
        else:
            assert product.popularity is None


@PROPERTY_SETTINGS
@given(obj=mutations(signals, "inventory.signals"), ascii_only=st.booleans())
def test_signal_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    signal = assert_agrees_with_schema("inventory.signals", obj, as_json(obj, ascii_only))
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
    feedback = assert_agrees_with_schema("substitutions.feedback", obj, as_json(obj, ascii_only))
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
    valid = st.one_of(catalog_items, signals, feedbacks, preferences, requests, replies)
    data = bytearray(orjson.dumps(draw(valid)))
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
    decoders: list[tuple[Callable[[bytes], object], tuple[type, ...]]] = [
        (lambda value: decode_catalog(key, value), (Product,)),
        (decode_signal, (InventorySignal,)),
        (decode_feedback, (Feedback,)),
        (lambda value: decode_preference(key, value), (ItemChoice, CustomerNeeds)),
        (decode_request, (SubstitutionRequest,)),
        (decode_reply, (Reply,)),
    ]
    for decode, kind in decoders:
        try:
            event = decode(raw)
        except EventError:
            continue
        assert isinstance(event, kind)


@PROPERTY_SETTINGS
@given(key=st.binary(max_size=300))
def test_any_tombstone_key_gives_a_tombstone_or_an_event_error(key: bytes) -> None:
    try:
        tombstone = decode_catalog(key, None)
    except EventError:
        return
    assert isinstance(tombstone, CatalogTombstone)
    assert tombstone.item_id.encode() == key


@PROPERTY_SETTINGS
@given(key=st.one_of(st.binary(max_size=500), st.text(max_size=450).map(str.encode)))
def test_any_preference_tombstone_key_gives_a_tombstone_or_an_event_error(key: bytes) -> None:
    try:
        tombstone = decode_preference(key, None)
    except EventError as exc:
        assert str(exc).startswith("customers.preferences: tombstone ")
        return
    assert tombstone == PreferenceTombstone(key.decode())
    assert 0 < len(tombstone.key) <= 401


@pytest.mark.parametrize("ts", [1_700_000_000_000, 1_700_000_000_000_000, 1.7e12])
def test_event_times_in_milliseconds_or_microseconds_are_refused_with_that_reason(
    ts: float,
) -> None:
    signal = {"store_id": "s1", "item_id": "i1", "signal": "found", "ts": ts}
    feedback = {
        "event_id": "e1",
        "store_id": "s1",
        "item_id": "i1",
        "substitute_id": "i2",
        "outcome": "accepted",
        "ts": ts,
    }
    with pytest.raises(EventError, match="milliseconds or microseconds"):
        decode_signal(orjson.dumps(signal))
    with pytest.raises(EventError, match="milliseconds or microseconds"):
        decode_feedback(orjson.dumps(feedback))


def test_old_event_times_stay_valid_for_backfills() -> None:
    for ts in (0, 86_400.5, 946_684_800, 99_999_999_999):  # 1970, 2000, the year 5138
        payload = {"store_id": "s1", "item_id": "i1", "signal": "found", "ts": ts}
        assert decode_signal(orjson.dumps(payload)).ts == ts


# --- orders.completed ----------------------------------------------------------------------------

ORDER = {"order_id": "o1", "store_id": "s1", "ts": 1_700_000_000.5}


def test_an_order_decodes_with_its_lines_in_order() -> None:
    raw = orjson.dumps(
        ORDER
        | {
            "customer_id": "c1",
            "lines": [
                {"item_id": "milk", "outcome": "found", "aisle": "ignored"},
                {"item_id": "rye", "outcome": "substituted", "substitute_id": "spelt"},
                {"item_id": "eggs", "outcome": "missing"},
            ],
        }
    )
    assert decode_order(raw) == CompletedOrder(
        "o1",
        "s1",
        1_700_000_000.5,
        (
            OrderLine("milk", "found"),
            OrderLine("rye", "substituted", "spelt"),
            OrderLine("eggs", "missing"),
        ),
        customer_id="c1",
    )


@pytest.mark.parametrize("outcome", LINE_OUTCOMES)
def test_an_order_is_perfect_when_every_line_is_found_or_kept(outcome: str) -> None:
    line = {"item_id": "a", "outcome": outcome}
    if outcome in ("substituted", "rejected", "refunded"):
        line["substitute_id"] = "b"
    found = {"item_id": "f", "outcome": "found"}
    order = decode_order(orjson.dumps(ORDER | {"lines": [found, line]}))
    assert order.perfect == (outcome in ("found", "substituted"))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "field 'lines' must have 1 to 500 lines, got 0"),
        ([{"item_id": "a", "outcome": "found"}] * 501, "1 to 500 lines, got 501"),
        ({"item_id": "a"}, "field 'lines' must be a list of lines, got an object"),
        (["a"], "field 'lines[0]' must be an object, got 'a'"),
        ([{"outcome": "found"}], "missing required field 'lines[0].item_id'"),
        ([{"item_id": "a", "outcome": "lost"}], "'lines[0].outcome' must be one of found,"),
        (
            [{"item_id": "a", "outcome": "found"}, {"item_id": "b", "outcome": "rejected"}],
            "missing required field 'lines[1].substitute_id' (outcome 'rejected' names",
        ),
        (
            [{"item_id": "a", "outcome": "missing", "substitute_id": "b"}],
            "'lines[0].substitute_id' must be absent for outcome 'missing', got 'b'",
        ),
        (
            [{"item_id": "a", "outcome": "found", "substitute_id": None}],
            "'lines[0].substitute_id' must be absent for outcome 'found', got null",
        ),
        (
            [{"item_id": "a", "outcome": "refunded", "substitute_id": ""}],
            "'lines[0].substitute_id' must be 1 to 200 characters, got 0",
        ),
    ],
)
def test_order_refusals_name_the_line_and_field(lines: Any, message: str) -> None:
    obj = ORDER | {"lines": lines}
    with pytest.raises(EventError) as excinfo:
        decode_order(orjson.dumps(obj))
    assert str(excinfo.value).startswith("orders.completed: ")
    assert message in str(excinfo.value)
    assert not VALIDATORS["orders.completed"].is_valid(obj)  # the schema refuses it too


def test_order_event_times_in_milliseconds_are_refused() -> None:
    lines = [{"item_id": "a", "outcome": "found"}]
    with pytest.raises(EventError, match="milliseconds or microseconds"):
        decode_order(orjson.dumps(ORDER | {"ts": 1_700_000_000_000, "lines": lines}))


@PROPERTY_SETTINGS
@given(obj=order_mutations(), ascii_only=st.booleans())
def test_order_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    order = assert_agrees_with_schema("orders.completed", obj, as_json(obj, ascii_only))
    if order is not None:
        assert isinstance(order, CompletedOrder)
        assert (order.order_id, order.store_id, order.customer_id) == (
            obj["order_id"],
            obj["store_id"],
            obj.get("customer_id"),
        )
        assert [(line.item_id, line.outcome, line.substitute_id) for line in order.lines] == [
            (line["item_id"], line["outcome"], line.get("substitute_id")) for line in obj["lines"]
        ]
