"""The agents' steps without a broker: a real engine, the outputs and the state recorded.

The agents themselves only loop over Faust batches; what each message does is here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence, Set
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from online_learning.contract import Product
from online_learning.engine import SubstitutionEngine
from online_learning.preferences import CustomerPreferences
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
        self.published: list[str] = []  # keys, in order; "-key" for a tombstone
        self.dead: list[tuple[int, str]] = []  # sent
        self.queued: list[tuple[int, str]] = []  # refused, not sent yet
        self.flushes = 0
        self.forwarded: list[tuple[bytes | None, bytes | None]] = []

    async def publish(
        self,
        rankings: list[Ranking],
        caused_at: float | None,
        retired: Mapping[tuple[str, str], str] | None = None,
        received_at: float | None = None,
    ) -> None:
        self.published.extend(f"-{store}:{item}" for store, item in retired or {})
        self.published.extend(r.key for r in rankings)
        self.rankings.extend(rankings)

    def refuse(self, message: Any, exc: Exception) -> None:
        self.queued.append((message.offset, error_kind(exc)))

    async def flush_dead_letters(self) -> None:
        self.dead.extend(self.queued)
        self.queued.clear()
        self.flushes += 1

    async def forward(self, records: list[tuple[bytes | None, bytes | None]]) -> None:
        self.forwarded.extend(records)


class Catalog:
    """A catalog reader whose catch-up brings ``arriving`` into the engine."""

    def __init__(self, engine: SubstitutionEngine, arriving: list[Product]) -> None:
        self.engine, self.arriving, self.syncs = engine, arriving, 0
        self.timeouts: list[float] = []
        self.since: list[float | None] = []
        self.ready = asyncio.Event()
        self.ready.set()

    async def sync(self, timeout: float = 5.0, since: float | None = None) -> bool:
        self.syncs += 1
        self.timeouts.append(timeout)
        self.since.append(since)
        for product in self.arriving:
            self.engine.apply_catalog(product)
        return bool(self.arriving)


class State:
    """The store state, recording what the agent tells it; ``done``: offsets applied before."""

    def __init__(self, done: Set[int] = frozenset()) -> None:
        self.done = done
        self.applied_signals: list[tuple[int, str, str, bool]] = []
        self.retired_keys: list[tuple[str, str]] = []

    async def ready(self, partition: int) -> None:
        return None

    def already_applied(self, partition: int, offset: int, store_id: str, item_id: str) -> bool:
        return offset in self.done

    def ranked(self, rankings: list[Ranking]) -> None:
        return None

    def retired(self, keys: Mapping[tuple[str, str], str]) -> None:
        self.retired_keys.extend(keys)

    def applied(self, partition: int, offset: int, store: str, item: str, was_live: bool) -> None:
        self.applied_signals.append((offset, store, item, was_live))


def agents(arriving: Sequence[Product] = (), done: Set[int] = frozenset(), **settings: Any) -> Any:
    engine = SubstitutionEngine(products=MILK[:3])
    worker = SimpleNamespace(
        settings=Settings(**settings),
        engine=engine,
        metrics=WorkerMetrics(),
        output=Output(),
        catalog=Catalog(engine, list(arriving)),
        learning=None,
        state=State(done),
        seen=SeenOffsets(),
        preferences=CustomerPreferences(),
        preferences_reader=None,
        app=SimpleNamespace(deliveries=None),  # no consumer here: nothing counts its fetches
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


def run(agent: Agents, *batch: Any) -> None:
    asyncio.run(agent.process_signal_batch(batch))


def test_a_stock_out_is_ranked_published_and_noted_for_the_changelog() -> None:
    agent, worker = agents()
    run(agent, stock_out(0, "m0"))
    assert [(r.item_id, r.trigger) for r in worker.output.rankings] == [("m0", "stock_out")]
    assert worker.state.applied_signals == [(0, "s1", "m0", False)]
    run(agent, stock_out(1, "m0"))  # live already: a change, no ranking
    assert len(worker.output.rankings) == 1
    assert worker.state.applied_signals[-1] == (1, "s1", "m0", True)
    assert worker.catalog.syncs == 0  # every item known: no wait for the catalog


def test_an_item_whose_catalog_record_was_overtaken_is_ranked_after_the_catch_up() -> None:
    agent, worker = agents(arriving=[MILK[3]])
    run(agent, stock_out(0, "m3"))
    assert worker.catalog.syncs == 1
    assert [r.item_id for r in worker.output.rankings] == ["m3"]
    assert worker.output.dead == []


def test_a_batch_naming_many_unknown_items_waits_for_the_catalog_once() -> None:
    agent, worker = agents(reference_wait_s=0.25)
    run(agent, *(stock_out(i, f"ghost-{i}") for i in range(50)), stock_out(50, "m1"))
    assert worker.catalog.syncs == 1 and worker.catalog.timeouts == [0.25]
    assert worker.output.dead == [(i, "unknown_reference") for i in range(50)]
    assert worker.output.flushes == 1  # the refusals of the batch are sent together
    assert [r.item_id for r in worker.output.rankings] == ["m1"]  # the good one, behind them
    metrics = worker.metrics.registry
    assert metrics.get_sample_value("fillrate_records_waiting_for_catalog") == 0.0
    assert metrics.get_sample_value("fillrate_catalog_wait_seconds_count") == 1.0


def test_the_catalog_is_read_as_it_was_when_the_last_unknown_reference_arrived() -> None:
    # A catalog look older than a record may miss the catalog record it names: the wait asks
    # for the catalog as of the latest arrival among the records naming unknown items.
    agent, worker = agents(arriving=[MILK[3]])
    batch = [stock_out(0, "ghost-0"), stock_out(1, "m3"), stock_out(2, "m1")]
    for e, arrived in zip(batch, (10.0, 12.0, 50.0), strict=True):
        e.message.time_in = arrived  # as the consumer stamps a delivery
    run(agent, *batch)
    assert worker.catalog.since == [12.0]  # m1 (known) arrived later, and does not count
    before = time.monotonic()
    run(agent, stock_out(3, "ghost-1"))  # arrival unknown: the catalog as of now
    since = worker.catalog.since[-1]
    assert since is not None and since >= before


def test_without_a_reference_wait_unknown_items_are_refused_at_once() -> None:
    agent, worker = agents(arriving=[MILK[3]], reference_wait_s=0)
    run(agent, stock_out(0, "m3"))
    assert worker.catalog.syncs == 0
    assert worker.output.dead == [(0, "unknown_reference")]


def test_signals_keep_their_order_around_the_wait() -> None:
    # the overtaken item's miss and then its restock: applied in that order after the wait
    agent, worker = agents(arriving=[MILK[3]])
    run(agent, stock_out(0, "m3"), stock_out(1, "m3", "in_stock"), stock_out(2, "m0"))
    assert [(o, i) for o, _, i, _ in worker.state.applied_signals] == [
        (0, "m3"),
        (1, "m3"),
        (2, "m0"),
    ]
    assert worker.engine.live_ranking("s1", "m3") is None  # retired by the restock
    # its tombstone follows its ranking, and precedes nothing of m0's
    assert worker.output.published == ["s1:m3", "-s1:m3", "s1:m0"]
    assert worker.state.retired_keys == [("s1", "m3")]


def test_a_restock_then_a_miss_in_one_batch_leaves_the_key_live() -> None:
    agent, worker = agents()
    run(agent, stock_out(0, "m0"), stock_out(1, "m0", "found"), stock_out(2, "m0"))
    # the tombstone goes out before the new ranking: a table ends with the key live
    assert worker.output.published == ["s1:m0", "-s1:m0", "s1:m0"]
    assert worker.engine.live_ranking("s1", "m0") is not None


def test_an_item_the_catalog_never_brings_is_dead_lettered_with_its_reason() -> None:
    agent, worker = agents()
    run(agent, stock_out(5, "nope"))
    assert worker.output.dead == [(5, "unknown_reference")]
    assert worker.output.rankings == [] and worker.state.applied_signals == []


def test_bad_bytes_are_dead_lettered_and_the_next_signal_still_processed() -> None:
    agent, worker = agents()
    bad = event(0, {})
    bad.message.value = b"\xff{not json"
    schema = event(1, {"store_id": "s1"})
    run(agent, bad, schema, stock_out(2, "m1"))
    assert worker.output.dead == [(0, "malformed"), (1, "schema")]
    assert [r.item_id for r in worker.output.rankings] == ["m1"]
    assert worker.catalog.syncs == 0  # nothing named an unknown item: no wait


def test_a_signal_the_changelog_shows_applied_is_not_applied_again() -> None:
    agent, worker = agents(done={0})
    run(agent, stock_out(0, "m0"))
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
    topic = "substitutions.feedback"
    batch = [
        event(0, good, topic),
        event(1, {**good, "substitute_id": "nope"}, topic),
        event(2, {**good, "event_id": "e3", "store_id": ""}, topic),
        event(3, {**good, "event_id": "e4", "item_id": "ghost"}, topic),
    ]
    valid = asyncio.run(agent.validate_feedback_batch(batch))
    assert valid == [(b"s1", orjson.dumps(good))]
    # (bad bytes and schema are refused as decoded, unknown references after the catalog wait)
    assert sorted(worker.output.dead) == [
        (1, "unknown_reference"),
        (2, "schema"),
        (3, "unknown_reference"),
    ]
    assert worker.catalog.syncs == 1  # two unknown items, one wait


def test_input_batches_wait_for_the_rest_of_a_fetch_at_most_batch_wait_ms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The signals, feedback, orders and requests agents take their batches with the
    configured wait (longer while behind); the catalog's validation keeps its own."""
    import streams.worker.agents as agents_module

    waits: dict[str, tuple[float, float | None]] = {}

    def take_batches(
        stream: Any, max_: int, within: float, deliveries: Any, behind: float | None = None
    ) -> Any:
        waits[stream] = (within, behind)

        async def nothing() -> Any:
            return
            yield

        return nothing()

    monkeypatch.setattr(agents_module, "take_batches", take_batches)
    agent, _ = agents(batch_wait_ms=1.5)
    ready = asyncio.Event()
    ready.set()
    agent.learning = agent.preferences_reader = SimpleNamespace(ready=ready)

    async def drive() -> None:
        await agent.process_signals("signals")
        await agent.process_feedback("feedback")
        await agent.process_orders("orders")
        await agent.process_requests("requests")
        await agent.validate_catalog("catalog")

    asyncio.run(drive())
    # 5 ms while the consumer is behind: full batches cost less CPU per event
    input_waits = (0.0015, 0.005)
    assert waits == {
        "signals": input_waits,
        "feedback": input_waits,
        "orders": input_waits,
        "requests": input_waits,
        "catalog": (agents_module.CATALOG_WITHIN_S, None),
    }


def test_batch_wait_ms_must_be_positive() -> None:
    from streams.settings import SettingsError

    with pytest.raises(SettingsError, match="batch_wait_ms"):
        Settings.load({"batch_wait_ms": 0}, environ={})
    assert Settings.load({}, environ={}).batch_wait_ms == 1.0
