"""Empty rankings are counted by why, once for each one published."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

import faust

from online_learning.contract import InventorySignal, Product
from online_learning.engine import SubstitutionEngine
from online_learning.ranking import EMPTY_REASONS, Ranking, empty_reason
from streams.connection import KafkaConnection
from streams.metrics import WorkerMetrics
from streams.settings import Settings
from streams.worker.output import Output
from tests.streams.worker.test_agents import MILK


class Producer:
    """Takes every record at once, as a broker that acknowledges would."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, *args: Any) -> asyncio.Future[None]:
        self.sent += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def empty_counts(metrics: WorkerMetrics) -> dict[str, float]:
    return {
        reason: metrics.registry.get_sample_value(
            "fillrate_rankings_empty_total", {"reason": reason}
        )
        or 0.0
        for reason in EMPTY_REASONS
    }


def test_each_published_empty_ranking_counts_once_under_its_reason() -> None:
    lonely = Product("saffron", "Saffron Threads 1 g", "spices", "pantry")
    engine = SubstitutionEngine(products=[*MILK, lonely])
    metrics = WorkerMetrics()
    producer = Producer()
    app = cast(faust.App, SimpleNamespace(producer=producer))
    output = Output(app, Settings(), metrics, KafkaConnection("localhost:9092"))
    assert empty_counts(metrics) == dict.fromkeys(EMPTY_REASONS, 0.0)  # exported from the start

    published: list[Ranking] = []

    async def publish(item: str) -> None:
        signal = InventorySignal("s1", item, "not_found", 1.0)
        rankings = engine.on_signal(signal)
        published.extend(rankings)
        await output.publish(rankings, None)

    async def run() -> None:
        await publish("m0")  # milk has other milks: not empty
        await publish("saffron")  # alone in its aisle: no candidate passes the rules
        for milk in ("m1", "m2", "m3"):  # every other milk goes missing too
            await publish(milk)

    asyncio.run(run())
    counts = empty_counts(metrics)
    assert producer.sent == len(published)
    expected = Counter(empty_reason(r.reason) for r in published if not r.substitutes)
    assert counts == {reason: float(expected[reason]) for reason in EMPTY_REASONS}
    assert counts["no_candidates"] == 1.0 and counts["none_available"] >= 1.0
    assert sum(counts.values()) < len(published)  # the rankings with substitutes: not counted
