"""The agents' steps without a broker: a real engine, the outputs and the state recorded.

The agents themselves only loop over Faust batches; what each message does is here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence, Set
from types import SimpleNamespace
from typing import Any, cast

import orjson

from online_learning.contract import Product
from online_learning.engine import SubstitutionEngine
from online_learning.ranking import Ranking
from streams.metrics import WorkerMetrics, error_kind
from streams.redelivery import SeenOffsets
from streams.settings import Settings
from streams.worker.agents import Agents
from streams.worker.worker import Worker

MILK = [Product(f"m{i}", f"Brand{i} Whole Milk", "milk", "dairy eggs") for i in range(4)]


class Output:
    def __init__(self) -> None:
        self.rankings: list[Ranking] = []
        self.dead: list[tuple[int, str]] = []
        self.forwarded: list[tuple[bytes | None, bytes | None]] = []

    async def publish(self, rankings: list[Ranking], caused_at: float | None) -> None:
        self.rankings.extend(rankings)

    async def dead_letter(self, message: Any, exc: Exception) -> None:
        self.dead.append((message.offset, error_kind(exc)))

    async def forward(self, records: list[tuple[bytes | None, bytes | None]]) -> None:
        self.forwarded.extend(records)


class Catalog:
    """A catalog reader whose catch-up brings ``arriving`` into the engine."""

    def __init__(self, engine: SubstitutionEngine, arriving: list[Product]) -> None:
        self.engine, self.arriving, self.syncs = engine, arriving, 0
        self.ready = asyncio.Event()
        self.ready.set()

    async def sync(self) -> bool:
        self.syncs += 1
        for product in self.arriving:
            self.engine.apply_catalog(product)
        return bool(self.arriving)


class State:
    """The store state, recording what the agent tells it; ``done``: offsets applied before."""

    def __init__(self, done: Set[int] = frozenset()) -> None:
        self.done = done
        self.applied_signals: list[tuple[int, str, str, bool]] = []

    async def ready(self, partition: int) -> None:
        return None

    def already_applied(self, partition: int, offset: int, store_id: str, item_id: str) -> bool:
        return offset in self.done

    def ranked(self, rankings: list[Ranking]) -> None:
        return None

    def applied(self, partition: int, offset: int, store: str, item: str, was_live: bool) -> None:
        self.applied_signals.append((offset, store, item, was_live))


def agents(arriving: Sequence[Product] = (), done: Set[int] = frozenset()) -> Any:
    engine = SubstitutionEngine(products=MILK[:3])
    worker = SimpleNamespace(
        settings=Settings(),
        engine=engine,
        metrics=WorkerMetrics(),
        output=Output(),
        catalog=Catalog(engine, list(arriving)),
        learning=None,
        state=State(done),
        seen=SeenOffsets(),
    )
    return Agents(cast(Worker, worker)), worker


def event(offset: int, payload: dict[str, Any], topic: str = "inventory.signals") -> Any:
    message = SimpleNamespace(
        topic=topic,
        partition=0,
        offset=offset,
        key=b"s1",
        value=orjson.dumps(payload),
        timestamp=time.time(),
    )
    return SimpleNamespace(message=message)


def stock_out(offset: int, item: str, kind: str = "not_found") -> Any:
    return event(offset, {"store_id": "s1", "item_id": item, "signal": kind, "ts": 100.0 + offset})


def test_a_stock_out_is_ranked_published_and_noted_for_the_changelog() -> None:
    agent, worker = agents()
    asyncio.run(agent.process_signal(stock_out(0, "m0")))
    assert [(r.item_id, r.trigger) for r in worker.output.rankings] == [("m0", "stock_out")]
    assert worker.state.applied_signals == [(0, "s1", "m0", False)]
    asyncio.run(agent.process_signal(stock_out(1, "m0")))  # live already: a change, no ranking
    assert len(worker.output.rankings) == 1
    assert worker.state.applied_signals[-1] == (1, "s1", "m0", True)


def test_an_item_whose_catalog_record_was_overtaken_is_ranked_after_the_catch_up() -> None:
    agent, worker = agents(arriving=[MILK[3]])
    asyncio.run(agent.process_signal(stock_out(0, "m3")))
    assert worker.catalog.syncs == 1
    assert [r.item_id for r in worker.output.rankings] == ["m3"]
    assert worker.output.dead == []


def test_an_item_the_catalog_never_brings_is_dead_lettered_with_its_reason() -> None:
    agent, worker = agents()
    asyncio.run(agent.process_signal(stock_out(5, "nope")))
    assert worker.output.dead == [(5, "unknown_reference")]
    assert worker.output.rankings == [] and worker.state.applied_signals == []


def test_bad_bytes_are_dead_lettered_and_the_next_signal_still_processed() -> None:
    agent, worker = agents()
    bad = event(0, {})
    bad.message.value = b"\xff{not json"
    asyncio.run(agent.process_signal(bad))
    asyncio.run(agent.process_signal(stock_out(1, "m1")))
    assert worker.output.dead == [(0, "malformed")]
    assert [r.item_id for r in worker.output.rankings] == ["m1"]


def test_a_signal_the_changelog_shows_applied_is_not_applied_again() -> None:
    agent, worker = agents(done={0})
    asyncio.run(agent.process_signal(stock_out(0, "m0")))
    assert worker.output.rankings == [] and worker.state.applied_signals == []


def test_a_message_handed_over_again_is_skipped_and_counted() -> None:
    agent, worker = agents()
    first = stock_out(7, "m0")
    assert agent.first_time(first)
    assert not agent.first_time(stock_out(7, "m0"))
    sample = worker.metrics.registry.get_sample_value(
        "fillrate_redelivered_total", {"topic": "inventory.signals"}
    )
    assert sample == 1.0


def test_valid_feedback_passes_unchanged_and_unknown_items_are_refused() -> None:
    agent, worker = agents()
    good = {
        "event_id": "e1",
        "store_id": "s1",
        "item_id": "m0",
        "substitute_id": "m1",
        "outcome": "accepted",
        "ts": 1.0,
    }
    raw = orjson.dumps(good)
    assert asyncio.run(agent.handle(event(0, good), lambda: agent.check_feedback(raw))) == raw
    bad = orjson.dumps({**good, "substitute_id": "nope"})
    assert asyncio.run(agent.handle(event(1, {}), lambda: agent.check_feedback(bad))) is None
    assert worker.output.dead == [(1, "unknown_reference")]
