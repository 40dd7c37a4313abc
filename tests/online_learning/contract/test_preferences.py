"""customers.preferences: an item's choice and a customer's needs decode as the schema says,
tombstones remove what their key held, and producers key and encode records so they read back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.contract import (
    CHOICES,
    CustomerNeeds,
    EventError,
    ItemChoice,
    PreferenceTombstone,
    decode_preference,
    encode_preference,
    preference_key,
    preference_payload,
)
from online_learning.product_text import normalize_tag
from tests.online_learning.contract.conftest import (
    PROPERTY_SETTINGS,
    VALIDATORS,
    as_json,
    assert_agrees_with_schema,
    preference_mutations,
    preferences,
)

NAME = "customers.preferences"
CHOICE: dict[str, Any] = {
    "customer_id": "c1",
    "item_id": "milk",
    "choice": "specific",
    "substitute_ids": ["oat", "soy"],
    "ts": 1_700_000_000.5,
}
NEEDS: dict[str, Any] = {"customer_id": "c1", "needs": ["Lactose-Free", "halal"], "ts": 1.0}


def test_an_items_specific_choice_keeps_the_customers_order() -> None:
    record = decode_preference(b"c1:milk", orjson.dumps(CHOICE | {"app": "ignored"}))
    assert record == ItemChoice("c1", "milk", "specific", ("oat", "soy"), 1_700_000_000.5)


@pytest.mark.parametrize("chosen", ["best_match", "no_substitute"])
def test_other_choices_carry_no_substitutes(chosen: str) -> None:
    obj = {k: v for k, v in CHOICE.items() if k != "substitute_ids"} | {"choice": chosen}
    assert decode_preference(b"c1:milk", orjson.dumps(obj)) == ItemChoice(
        "c1", "milk", chosen, (), 1_700_000_000.5
    )
    assert set(CHOICES) == {"best_match", "specific", "no_substitute"}


def test_needs_are_read_as_the_rules_spell_tags() -> None:
    record = decode_preference(b"c1", orjson.dumps(NEEDS | {"needs": ["Lactose-Free", "Halal"]}))
    assert record == CustomerNeeds("c1", frozenset({"lactose_free", "halal"}), 1.0)


def test_an_empty_list_of_needs_clears_them() -> None:
    record = decode_preference(b"c1", orjson.dumps(NEEDS | {"needs": []}))
    assert record == CustomerNeeds("c1", frozenset(), 1.0)


def test_a_tombstone_removes_what_its_key_held() -> None:
    assert decode_preference(b"c1:milk", None) == PreferenceTombstone("c1:milk")
    assert decode_preference("c\u00e9".encode(), None) == PreferenceTombstone("c\u00e9")
    assert decode_preference(b"x" * 401, None) == PreferenceTombstone("x" * 401)


@pytest.mark.parametrize(
    ("key", "fragment"),
    [(None, "without a key"), (b"", "1 to 401"), (b"x" * 402, "1 to 401"), (b"\xff", "UTF-8")],
)
def test_a_tombstone_needs_a_usable_key(key: bytes | None, fragment: str) -> None:
    with pytest.raises(EventError, match=fragment) as excinfo:
        decode_preference(key, None)
    assert str(excinfo.value).startswith("customers.preferences: ")


def test_the_key_is_the_producers_business_when_a_value_is_present() -> None:
    assert decode_preference(b"someone-else", orjson.dumps(CHOICE)) == decode_preference(
        None, orjson.dumps(CHOICE)
    )


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            CHOICE | {"substitute_ids": ["oat", "milk"]},
            "field 'substitute_ids' must not name the item itself, got 'milk'",
        ),
        (CHOICE | {"substitute_ids": ["oat", "soy", "oat"]}, "'substitute_ids[2]' repeats 'oat'"),
        (CHOICE | {"substitute_ids": []}, "'substitute_ids' must have 1 to 20 items, got 0"),
        (
            CHOICE | {"substitute_ids": [f"s{i}" for i in range(21)]},
            "'substitute_ids' must have 1 to 20 items, got 21",
        ),
        (
            {k: v for k, v in CHOICE.items() if k != "substitute_ids"},
            "missing required field 'substitute_ids' (choice 'specific' names them)",
        ),
        (
            CHOICE | {"choice": "no_substitute"},
            "'substitute_ids' must be absent for choice 'no_substitute', got an array",
        ),
        (
            {k: v for k, v in CHOICE.items() if k != "choice"},
            "missing required field 'choice'",
        ),
        (CHOICE | {"choice": "Best_Match"}, "'choice' must be one of best_match, specific,"),
        (CHOICE | {"needs": []}, "field 'needs' must be absent in an item's record"),
        (NEEDS | {"choice": "best_match"}, "field 'choice' must be absent without 'item_id'"),
        (
            NEEDS | {"substitute_ids": ["oat"]},
            "field 'substitute_ids' must be absent without 'item_id'",
        ),
        ({"customer_id": "c1", "ts": 1}, "missing required field 'needs'"),
        (NEEDS | {"needs": ["vegan", "--"]}, "field 'needs[1]' must hold a letter a-z or a digit"),
        (NEEDS | {"needs": [""]}, "field 'needs[0]' must be 1 to 100 characters, got 0"),
        (NEEDS | {"needs": ["t"] * 51}, "field 'needs' must have at most 50 items, got 51"),
        (NEEDS | {"needs": "vegan"}, "field 'needs' must be a list of tags, got 'vegan'"),
        (CHOICE | {"item_id": None}, "field 'item_id' must be a string, got null"),
        (NEEDS | {"ts": 1.7e12}, "milliseconds or microseconds"),
    ],
)
def test_refusals_name_the_field(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError) as excinfo:
        decode_preference(b"c1", orjson.dumps(obj))
    assert str(excinfo.value).startswith("customers.preferences: ")
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "obj",
    [
        CHOICE | {"substitute_ids": ["oat", "milk"]},
        NEEDS | {"needs": ["--"]},
        NEEDS | {"needs": ["日本"]},
    ],
    ids=["own-item-picked", "punctuation-need", "need-with-no-latin-letter"],
)
def test_rules_beyond_the_schema_are_refused_though_the_schema_accepts(obj: Any) -> None:
    # The decoder's only refusals of schema-valid payloads; the schema's description says so.
    VALIDATORS[NAME].validate(obj)
    with pytest.raises(EventError):
        decode_preference(b"c1", orjson.dumps(obj))


@PROPERTY_SETTINGS
@given(obj=preference_mutations(), ascii_only=st.booleans())
def test_preference_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    record = assert_agrees_with_schema(NAME, obj, as_json(obj, ascii_only))
    if isinstance(record, ItemChoice):
        assert (record.customer_id, record.item_id, record.choice) == (
            obj["customer_id"],
            obj["item_id"],
            obj["choice"],
        )
        assert record.substitute_ids == tuple(obj.get("substitute_ids", ()))
    elif record is not None:
        assert isinstance(record, CustomerNeeds)
        assert "item_id" not in obj
        assert record.needs == frozenset(map(normalize_tag, obj["needs"]))


@PROPERTY_SETTINGS
@given(obj=preferences)
def test_an_encoded_record_decodes_to_itself_under_its_key(obj: dict[str, Any]) -> None:
    try:
        record = decode_preference(None, orjson.dumps(obj))
    except EventError:
        return  # a generated need with no letter or digit, or a pick that is the item
    assert isinstance(record, ItemChoice | CustomerNeeds)
    key, value = encode_preference(record)
    assert value is not None
    VALIDATORS[NAME].validate(preference_payload(record))
    assert decode_preference(key, value) == record
    expected = obj["customer_id"] + (f":{obj['item_id']}" if "item_id" in obj else "")
    assert key.decode() == preference_key(record) == expected
    # the tombstone a producer sends for it removes exactly that key
    tombstone_key, nothing = encode_preference(PreferenceTombstone(preference_key(record)))
    assert nothing is None
    assert decode_preference(tombstone_key, None) == PreferenceTombstone(key.decode())
