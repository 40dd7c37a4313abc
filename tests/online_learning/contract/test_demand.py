"""Demand summaries in the learning log: what a worker writes reads back unchanged, however it
is split into records, and anything else is refused with the reason, never half-applied."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.contract import (
    DEMAND_KEY,
    DemandSummary,
    EventError,
    decode_demand,
    encode_demand,
    is_demand_record,
)
from tests.online_learning.contract.conftest import PROPERTY_SETTINGS, event_times, ids

summaries = st.builds(
    DemandSummary,
    ts=event_times.map(float),
    counts=st.dictionaries(ids, st.integers(min_value=1, max_value=2**40), max_size=30).map(
        lambda d: tuple(d.items())
    ),
)


@PROPERTY_SETTINGS
@given(summary=summaries, max_items=st.integers(min_value=1, max_value=40))
def test_a_summary_reads_back_from_its_records_in_order(
    summary: DemandSummary, max_items: int
) -> None:
    records = encode_demand(summary, max_items)
    assert all(is_demand_record(key) for key, _ in records)
    assert len(records) == -(-len(summary) // max_items)  # ceil: none empty, none too long
    parts = [decode_demand(value) for _, value in records]
    assert all(part.ts == summary.ts for part in parts)
    assert tuple(c for part in parts for c in part.counts) == summary.counts


def test_an_empty_summary_writes_no_record() -> None:
    assert encode_demand(DemandSummary(1.0, ())) == []


def test_only_the_demand_key_marks_a_summary() -> None:
    assert is_demand_record(DEMAND_KEY)
    assert not is_demand_record(None)
    assert not is_demand_record(b"store-1")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"demand": {"a": 1}}, "missing required field 'ts'"),
        ({"ts": 1.0}, "missing required field 'demand'"),
        ({"ts": 1.7e12, "demand": {"a": 1}}, "milliseconds or microseconds"),
        ({"ts": 1.0, "demand": [["a", 1]]}, "'demand' must be an object"),
        ({"ts": 1.0, "demand": {"a": 0}}, "the count of 'a' must be an integer >= 1, got 0"),
        ({"ts": 1.0, "demand": {"a": 1.5}}, "must be an integer >= 1, got 1.5"),
        ({"ts": 1.0, "demand": {"a": True}}, "must be an integer >= 1, got true"),
        ({"ts": 1.0, "demand": {"x" * 201: 1}}, "1 to 200 characters"),
    ],
)
def test_a_bad_summary_is_refused_with_the_reason(value: Any, message: str) -> None:
    with pytest.raises(EventError) as excinfo:
        decode_demand(orjson.dumps(value))
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith("demand summary: ")
