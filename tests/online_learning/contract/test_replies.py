"""substitutions.replies: the schema's rules, the decoder's agreement with them, and the encoder
the worker writes with (what it writes, a reader decodes back)."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.contract import (
    CUSTOMER_DECLINED,
    EventError,
    Reply,
    ReplySubstitute,
    decode_reply,
    reply_payload,
)
from tests.online_learning.contract.conftest import (
    PROPERTY_SETTINGS,
    VALIDATORS,
    as_json,
    assert_agrees_with_schema,
    replies,
    reply_mutations,
)

NAME = "substitutions.replies"
SUB = {"item_id": "oat", "score": 0.8, "p_accept": 0.9, "p_available": 1, "source": "customer"}
REPLY: dict[str, Any] = {
    "request_id": "r1",
    "order_id": "o1",
    "customer_id": "c1",
    "store_id": "s1",
    "item_id": "milk",
    "substitutes": [SUB],
    "reason": None,
    "model_version": "logreg-1",
    "ts": 1700000001.0,
    "source_ts": 1700000000.0,
}


@pytest.mark.parametrize(
    "reply",
    [
        REPLY,
        REPLY | {"substitutes": [], "reason": CUSTOMER_DECLINED},
        REPLY | {"substitutes": [], "reason": "no candidate passes the hard rules"},
        REPLY | {"substitutes": [SUB] * 50, "propensity": 1, "explored": False},
        REPLY | {"reason": "only one candidate in stock", "extra": [1, 2]},
    ],
)
def test_valid_replies_match_the_schema_and_decode(reply: dict[str, Any]) -> None:
    VALIDATORS[NAME].validate(reply)
    decoded = decode_reply(orjson.dumps(reply))
    assert (decoded.request_id, decoded.key, decoded.reason) == ("r1", "o1", reply["reason"])
    assert len(decoded.substitutes) == len(reply["substitutes"])


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (REPLY | {"substitutes": []}, "'reason' must say why there are no substitutes, got null"),
        (REPLY | {"substitutes": [], "reason": ""}, "must say why there are no substitutes"),
        (REPLY | {"reason": ""}, "'reason' must be null or a non-empty string, got ''"),
        ({k: v for k, v in REPLY.items() if k != "reason"}, "missing required field 'reason'"),
        (REPLY | {"substitutes": [SUB] * 51}, "'substitutes' must have at most 50 items, got 51"),
        (
            REPLY | {"substitutes": [SUB | {"source": "shopper"}]},
            "'substitutes[0].source' must be one of customer, model, got 'shopper'",
        ),
        (
            REPLY | {"substitutes": [{k: v for k, v in SUB.items() if k != "source"}]},
            "missing required field 'substitutes[0].source'",
        ),
        (REPLY | {"substitutes": [SUB | {"score": 1.5}]}, "'substitutes[0].score' must be"),
        (REPLY | {"propensity": 0}, "'propensity' must be a number above 0 to 1, got 0"),
        (REPLY | {"explored": 1}, "'explored' must be true or false, got 1"),
        (REPLY | {"ts": 1.7e12}, "milliseconds or microseconds"),
    ],
)
def test_invalid_replies_are_refused_by_schema_and_decoder(
    reply: dict[str, Any], message: str
) -> None:
    assert not VALIDATORS[NAME].is_valid(reply)
    with pytest.raises(EventError) as excinfo:
        decode_reply(orjson.dumps(reply))
    assert str(excinfo.value).startswith("substitutions.replies: ")
    assert message in str(excinfo.value)


def test_a_reply_is_keyed_by_order_and_written_rounded() -> None:
    reply = Reply(
        "r1",
        "o1",
        "c1",
        "s1",
        "milk",
        (
            ReplySubstitute("oat", 0.1234567891, 0.5, 0.25, "customer"),
            ReplySubstitute("soy", 0.1, 0.2, 0.3, "model"),
        ),
        None,
        "v1",
        2.0,
        1.0,
        propensity=0.9666666666,
        explored=True,
    )
    assert reply.key == "o1"
    payload = reply_payload(reply)
    VALIDATORS[NAME].validate(payload)
    assert payload["substitutes"][0]["score"] == 0.123457
    assert payload["propensity"] == 0.966667
    # a tiny propensity keeps its digits rather than being written as 0 (the schema's minimum)
    tiny = reply_payload(dataclasses.replace(reply, propensity=1.23456789e-9))
    assert tiny["propensity"] == 1.23457e-9
    decoded = decode_reply(orjson.dumps(payload))
    assert decoded.substitute_ids() == ("oat", "soy")
    assert [s.source for s in decoded.substitutes] == ["customer", "model"]
    assert decoded.explored is True


@PROPERTY_SETTINGS
@given(obj=reply_mutations(), ascii_only=st.booleans())
def test_reply_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    reply = assert_agrees_with_schema(NAME, obj, as_json(obj, ascii_only))
    if reply is not None:
        assert isinstance(reply, Reply)
        assert reply.substitute_ids() == tuple(s["item_id"] for s in obj["substitutes"])
        assert reply.propensity == obj.get("propensity", 1.0)
        assert reply.explored == obj.get("explored", False)


@PROPERTY_SETTINGS
@given(obj=replies)
def test_what_the_worker_writes_a_reader_decodes_back(obj: dict[str, Any]) -> None:
    reply = decode_reply(orjson.dumps(obj))
    payload = reply_payload(reply)
    VALIDATORS[NAME].validate(payload)
    again = decode_reply(orjson.dumps(payload))
    assert reply_payload(again) == payload  # rounding twice changes nothing
    assert (again.key, again.reason, again.substitute_ids()) == (
        obj["order_id"],
        obj["reason"],
        reply.substitute_ids(),
    )
