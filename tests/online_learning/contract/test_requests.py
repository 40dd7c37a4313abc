"""substitutions.requests: a shopper's request decodes as the schema says, and what a producer
encodes reads back, keyed by store like the other inputs."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.contract import (
    REQUESTS_TOPIC,
    EventError,
    SubstitutionRequest,
    decode_request,
    encode_request,
    request_payload,
)
from tests.online_learning.contract.conftest import (
    PROPERTY_SETTINGS,
    VALIDATORS,
    as_json,
    assert_agrees_with_schema,
    mutations,
    requests,
)

REQUEST: dict[str, Any] = {
    "request_id": "r1",
    "store_id": "s1",
    "item_id": "milk",
    "order_id": "o1",
    "customer_id": "c1",
    "ts": 1_700_000_000.5,
}


def test_a_request_decodes_with_every_field() -> None:
    assert decode_request(orjson.dumps(REQUEST | {"aisle": "ignored"})) == SubstitutionRequest(
        request_id="r1",
        order_id="o1",
        customer_id="c1",
        store_id="s1",
        item_id="milk",
        ts=1_700_000_000.5,
    )


@pytest.mark.parametrize("field", sorted(REQUEST))
def test_every_field_is_required(field: str) -> None:
    obj = {k: v for k, v in REQUEST.items() if k != field}
    with pytest.raises(EventError) as excinfo:
        decode_request(orjson.dumps(obj))
    assert str(excinfo.value) == f"{REQUESTS_TOPIC}: missing required field '{field}'"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (REQUEST | {"order_id": ""}, "field 'order_id' must be 1 to 200 characters, got 0"),
        (REQUEST | {"customer_id": 7}, "field 'customer_id' must be a string, got 7"),
        (REQUEST | {"ts": 1_700_000_000_000}, "milliseconds or microseconds"),
    ],
)
def test_refusals_name_the_field(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError, match=r"^substitutions\.requests: ") as excinfo:
        decode_request(orjson.dumps(obj))
    assert message in str(excinfo.value)


def test_a_null_value_is_refused() -> None:
    with pytest.raises(EventError, match="value is null"):
        decode_request(None)


@PROPERTY_SETTINGS
@given(obj=mutations(requests, "substitutions.requests"), ascii_only=st.booleans())
def test_request_decoder_agrees_with_schema(obj: Any, ascii_only: bool) -> None:
    request = assert_agrees_with_schema("substitutions.requests", obj, as_json(obj, ascii_only))
    if request is not None:
        assert isinstance(request, SubstitutionRequest)
        assert request_payload(request) == {k: obj[k] for k in REQUEST}


@PROPERTY_SETTINGS
@given(obj=requests)
def test_an_encoded_request_is_keyed_by_store_and_decodes_to_itself(obj: dict[str, Any]) -> None:
    request = decode_request(orjson.dumps(obj))
    key, value = encode_request(request)
    assert key == obj["store_id"].encode()
    VALIDATORS["substitutions.requests"].validate(orjson.loads(value))
    assert decode_request(value) == request
