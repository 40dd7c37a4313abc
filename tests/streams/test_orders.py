"""Completed orders on the real broker: the worker counts orders, perfect orders and lines by
outcome and department exactly once, and dead-letters an order the contract refuses."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from online_learning.contract import CompletedOrder, OrderLine, order_payload, product_payload
from tests.conftest import milk

pytestmark = pytest.mark.broker

CATALOG = [milk("m1", "Whole Milk"), milk("m2", "Organic Whole Milk")]
NOW = time.time()


def order(order_id: str, *lines: OrderLine) -> dict[str, Any]:
    return order_payload(CompletedOrder(order_id, "s1", NOW, lines))


async def test_orders_are_counted_once_and_a_bad_one_is_dead_lettered(
    worker_factory: Any, kafka_io: Any
) -> None:
    worker = worker_factory()
    s = worker.settings
    io = await kafka_io(s)
    await io.follow(s.deadletter_topic)
    for p in CATALOG:
        await io.send(s.catalog_topic, product_payload(p), key=p.item_id)
    perfect = order("o1", OrderLine("m1", "found"), OrderLine("m2", "substituted", "m1"))
    refunded = order("o2", OrderLine("m1", "found"), OrderLine("m2", "refunded", "m1"))
    missing = order("o3", OrderLine("m2", "missing"))
    # An item the catalog lacks (discontinued, or its record not sent yet) is still an order.
    unknown = order("o4", OrderLine("ghost", "found"))
    bad = {"order_id": "o5", "store_id": "s1", "ts": NOW, "lines": [{"item_id": "m1"}]}
    for payload in (perfect, refunded, missing, unknown, perfect, bad):  # o1 sent twice: a retry
        await io.send(s.orders_topic, payload, key="s1")

    dead = await io.read(s.deadletter_topic, lambda records: len(records) >= 1)
    assert [d["topic"] for d in dead] == [s.orders_topic]
    assert "missing required field 'lines[0].outcome'" in dead[0]["error"]
    deadline = time.monotonic() + 10
    while worker.metric("fillrate_orders_total") < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a double count would show by now

    metrics = worker.metrics()
    assert metrics.value("fillrate_orders_total") == 4
    assert metrics.value("fillrate_orders_perfect_total") == 2  # o1 and o4
    lines = {
        (outcome, department): metrics.value(
            "fillrate_order_lines_total", outcome=outcome, department=department
        )
        for outcome in ("found", "substituted", "refunded", "missing")
        for department in ("dairy eggs", "unknown")
    }
    assert {key: n for key, n in lines.items() if n} == {
        ("found", "dairy eggs"): 2,
        ("substituted", "dairy eggs"): 1,
        ("refunded", "dairy eggs"): 1,
        ("missing", "dairy eggs"): 1,
        ("found", "unknown"): 1,
    }
    assert metrics.value("fillrate_dead_letters_total", topic=s.orders_topic) == 1
    assert metrics.value("fillrate_events_in_total", topic=s.orders_topic) == 6
    # the name[] filter of /metrics: those series and nothing else (a cheap progress poll)
    only = worker.metrics(names=["fillrate_orders_total", "fillrate_events_in_total"])
    assert {m.name for m in only} == {"fillrate_orders_total", "fillrate_events_in_total"}
    assert only.value("fillrate_orders_total") == 4
    assert only.value("fillrate_events_in_total", topic=s.orders_topic) == 6
