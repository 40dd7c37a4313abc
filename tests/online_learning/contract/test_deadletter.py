"""The dead-letter record: it keeps the refused bytes recoverable and fits a Kafka message."""

from __future__ import annotations

import base64

import orjson
from hypothesis import given
from hypothesis import strategies as st

from online_learning.contract import DEAD_LETTER_MAX_PAYLOAD, dead_letter_payload
from tests.online_learning.contract.conftest import PROPERTY_SETTINGS, VALIDATORS


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
