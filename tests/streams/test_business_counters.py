"""On the real broker: feedback outcomes counted once per event_id, and never by a replay.

A producer that sends events twice, an event naming an unknown item, then a restart that
replays the whole learning log: ``fillrate_feedback_total`` says exactly what was sent, and the
restarted worker's model has learned everything while its outcome counters stay at 0.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from online_learning.contract import Product, product_payload
from tests.conftest import feedback_payload, milk
from tests.streams.conftest import wait_ready

pytestmark = pytest.mark.broker

CATALOG = [
    milk("m1", "Acme Whole Milk 1 gal", 3.99),
    milk("m2", "Acme Skim Milk 1 gal", 3.79),
    Product("b1", "Sourdough Bread", "bread", "bakery", 4.0),
    Product("b2", "Rye Bread", "bread", "bakery", 4.2),
]
SENT = {  # (outcome, department): distinct events
    ("accepted", "dairy eggs"): 5,
    ("refunded", "dairy eggs"): 2,
    ("rejected", "bakery"): 3,
    ("refunded", "bakery"): 1,
}


def outcomes(worker: Any) -> dict[tuple[str, str], float]:
    return {
        key: worker.metric("fillrate_feedback_total", outcome=key[0], department=key[1])
        for key in SENT
    }


def wait_until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not check():
        time.sleep(0.1)


async def test_each_event_counts_once_and_a_replay_of_the_log_counts_nothing(
    worker_factory: Any, kafka_io: Any
) -> None:
    worker = worker_factory()
    io = await kafka_io(worker.settings)
    for product in CATALOG:
        await io.send(worker.settings.catalog_topic, product_payload(product), product.item_id)
    topic = worker.settings.feedback_topic
    events = []
    for (outcome, department), n in SENT.items():
        item, sub = ("m1", "m2") if department == "dairy eggs" else ("b1", "b2")
        for i in range(n):
            events.append(feedback_payload(f"s{i % 3}", item, sub, outcome))
    for payload in events + events[:4]:  # the first four delivered twice
        await io.send(topic, payload, payload["store_id"])
    await io.send(topic, feedback_payload("s1", "ghost", "m2", "accepted"), "s1")

    distinct = sum(SENT.values())
    wait_until(lambda: worker.metric("fillrate_feedback_learned_total") >= distinct)
    wait_until(lambda: worker.metric("fillrate_feedback_duplicates_total") >= 4)
    assert outcomes(worker) == {key: float(n) for key, n in SENT.items()}
    assert worker.metric("fillrate_feedback_total") == distinct  # the unknown item: refused

    worker.stop()
    worker.start()
    wait_ready(worker)  # ready: the learning log is replayed
    assert worker.metric("fillrate_feedback_learned_total") == distinct
    assert worker.metric("fillrate_feedback_total") == 0
