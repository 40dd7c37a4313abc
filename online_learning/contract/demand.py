"""Demand summaries: how often shoppers looked for each item, as the learning log carries them.

A worker sees only its own stores' signals, but the popularity feature must be the same on
every worker (they all learn the same model from the learning log). So each worker counts the
``found`` / ``not_found`` signals of its partitions per item and, every so often, appends the
counts to the learning log as a summary; every worker applies the summaries in log order
(:mod:`online_learning.popularity`).

The learning log is the app's own topic and also holds feedback events, raw, with whatever
key their producer gave them. A summary is told apart by its key, :data:`DEMAND_KEY`, *and*
its shape: a feedback event that happens to carry that key is still a feedback event.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from online_learning.contract.fields import (
    ID_MAX,
    describe,
    event_time,
    parse_object,
    required,
    text,
)
from online_learning.contract.records import EventError

__all__ = [
    "DEMAND_KEY",
    "DEMAND_SUMMARY_MAX_ITEMS",
    "DemandSummary",
    "decode_demand",
    "encode_demand",
    "is_demand_record",
]

DEMAND_KEY = b"fillrate.demand.v1"
DEMAND_SUMMARY_MAX_ITEMS = 2000  # items per record: ~40 kB, well under any broker's limit
_WHAT = "demand summary"


@dataclass(frozen=True, slots=True)
class DemandSummary:
    """Counts of shoppers' looks per item since the last summary; ``ts``: the newest event time
    among them (they fade from there)."""

    ts: float
    counts: tuple[tuple[str, int], ...]

    def __len__(self) -> int:
        return len(self.counts)


def encode_demand(
    summary: DemandSummary, max_items: int = DEMAND_SUMMARY_MAX_ITEMS
) -> list[tuple[bytes, bytes]]:
    """(key, value) records of a summary, at most ``max_items`` items each, items in order.

    >>> encode_demand(DemandSummary(1.5, (("a", 2), ("b", 1), ("c", 4))), max_items=2)
    [(b'fillrate.demand.v1', b'{"ts":1.5,"demand":{"a":2,"b":1}}'), \
(b'fillrate.demand.v1', b'{"ts":1.5,"demand":{"c":4}}')]
    """
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    counts = summary.counts
    return [
        (DEMAND_KEY, orjson.dumps({"ts": summary.ts, "demand": dict(counts[i : i + max_items])}))
        for i in range(0, len(counts), max_items)
    ]


def is_demand_record(key: bytes | None) -> bool:
    """Does a learning-log record's key mark it as a demand summary?"""
    return key == DEMAND_KEY


def decode_demand(value: bytes | None) -> DemandSummary:
    """A summary from a learning-log record's value.

    Raises
    ------
    EventError
        If the value is not ``{"ts": epoch seconds, "demand": {item id: count >= 1}}``.

    >>> decode_demand(b'{"ts": 1.5, "demand": {"a": 2}}')
    DemandSummary(ts=1.5, counts=(('a', 2),))
    >>> decode_demand(b'{"ts": 1.5, "demand": {"a": 0}}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: demand summary: the count of 'a' must be an integer \
>= 1, got 0
    """
    obj = parse_object(_WHAT, value)
    ts = event_time(_WHAT, "ts", required(_WHAT, obj, "ts"))
    demand = required(_WHAT, obj, "demand")
    if type(demand) is not dict:
        raise EventError(f"{_WHAT}: field 'demand' must be an object of item id -> count")
    counts = []
    for item_id, n in demand.items():
        text(_WHAT, "demand", item_id, ID_MAX)
        if type(n) is not int or n < 1:
            raise EventError(
                f"{_WHAT}: the count of {item_id!r} must be an integer >= 1, got {describe(n)}"
            )
        counts.append((item_id, n))
    return DemandSummary(ts, tuple(counts))
