"""The input encoders: what a producer writes, and that a decoder reads it back unchanged."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given

from online_learning.contract import (
    FEEDBACK_TOPIC,
    SIGNALS_TOPIC,
    CompletedOrder,
    Feedback,
    InventorySignal,
    OrderLine,
    Product,
    decode_catalog,
    decode_feedback,
    decode_order,
    decode_signal,
    encode_event,
    encode_order,
    encode_product,
    event_payload,
    order_payload,
    product_payload,
)
from tests.online_learning.contract.conftest import (
    PROPERTY_SETTINGS,
    VALIDATORS,
    catalog_items,
    feedbacks,
    orders,
    signals,
)

OAT = Product(
    "oat-1",
    "Oatly Organic Oat Milk 64 fl oz",
    "milk",
    "dairy eggs",
    price=4.49,
    size=64.0,
    unit="fl_oz",
    brand="oatly",
    tags=frozenset({"organic", "dairy_free"}),
)


def test_a_feed_of_names_leaves_what_the_worker_derives_out() -> None:
    # The simulator's and the benchmarks' catalog records, byte for byte.
    assert encode_product(OAT) == (
        b"oat-1",
        b'{"item_id":"oat-1","name":"Oatly Organic Oat Milk 64 fl oz","aisle":"milk",'
        b'"department":"dairy eggs","price":4.49}',
    )
    assert "price" not in product_payload(Product("x", "X", "a", "d"))


def test_a_popularity_figure_is_sent_with_the_names_and_read_back() -> None:
    seeded = Product("oat-1", "Oat Milk", "milk", "dairy eggs", popularity=1840.0)
    key, value = encode_product(seeded)
    assert orjson.loads(value)["popularity"] == 1840.0
    assert decode_catalog(key, value) == seeded
    assert "popularity" not in product_payload(OAT)  # no figure: no field, not a 0


def test_every_field_that_is_set_makes_the_product_again() -> None:
    key, value = encode_product(OAT, derived=True)
    assert orjson.loads(value)["tags"] == ["dairy_free", "organic"]
    assert decode_catalog(key, value) == OAT


def test_events_go_to_their_topic_keyed_by_store_with_every_field_that_is_set() -> None:
    signal = InventorySignal("s1", "oat-1", "not_found", 1_700_000_000.5, quantity=0)
    assert encode_event(signal) == (
        SIGNALS_TOPIC,
        b"s1",
        b'{"store_id":"s1","item_id":"oat-1","signal":"not_found","ts":1700000000.5,"quantity":0}',
    )
    feedback = Feedback("e1", "s2", "oat-1", "soy-1", "accepted", 2.0, ranking_id="rk-1")
    assert encode_event(feedback) == (
        FEEDBACK_TOPIC,
        b"s2",
        b'{"event_id":"e1","store_id":"s2","item_id":"oat-1","substitute_id":"soy-1",'
        b'"outcome":"accepted","ts":2.0,"ranking_id":"rk-1"}',
    )


@PROPERTY_SETTINGS
@given(obj=catalog_items)
def test_any_product_reads_back_from_what_is_written(obj: dict[str, Any]) -> None:
    product = decode_catalog(None, orjson.dumps(obj))
    assert isinstance(product, Product)
    payload = product_payload(product, derived=True)
    VALIDATORS["catalog.items"].validate(payload)
    assert decode_catalog(None, orjson.dumps(payload)) == product
    fed = decode_catalog(None, orjson.dumps(product_payload(product)))
    assert fed == Product(
        product.item_id,
        product.name,
        product.aisle,
        product.department,
        product.price,
        popularity=product.popularity,  # the grocer's figure travels with the feed of names
    )


@PROPERTY_SETTINGS
@given(obj=signals)
def test_any_signal_reads_back_from_what_is_written(obj: dict[str, Any]) -> None:
    signal = decode_signal(orjson.dumps(obj))
    VALIDATORS["inventory.signals"].validate(event_payload(signal))
    topic, key, value = encode_event(signal)
    assert (topic, key) == (SIGNALS_TOPIC, signal.store_id.encode())
    assert decode_signal(value) == signal


@PROPERTY_SETTINGS
@given(obj=feedbacks)
def test_any_feedback_reads_back_from_what_is_written(obj: dict[str, Any]) -> None:
    feedback = decode_feedback(orjson.dumps(obj))
    VALIDATORS["substitutions.feedback"].validate(event_payload(feedback))
    topic, key, value = encode_event(feedback)
    assert (topic, key) == (FEEDBACK_TOPIC, feedback.store_id.encode())
    assert decode_feedback(value) == feedback


def test_an_order_is_keyed_by_store_and_leaves_unset_fields_out() -> None:
    order = CompletedOrder(
        "o1", "s2", 3.0, (OrderLine("rye", "found"), OrderLine("oat", "refunded", "soy"))
    )
    assert encode_order(order) == (
        b"s2",
        b'{"order_id":"o1","store_id":"s2","ts":3.0,"lines":[{"item_id":"rye","outcome":"found"},'
        b'{"item_id":"oat","outcome":"refunded","substitute_id":"soy"}]}',
    )


@PROPERTY_SETTINGS
@given(obj=orders)
def test_any_order_reads_back_from_what_is_written(obj: dict[str, Any]) -> None:
    order = decode_order(orjson.dumps(obj))
    VALIDATORS["orders.completed"].validate(order_payload(order))
    key, value = encode_order(order)
    assert key == order.store_id.encode()
    assert decode_order(value) == order
