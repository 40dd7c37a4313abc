"""The learning-log reader skips a record it cannot learn, counts why, and keeps going; it
scores what the engine learned, and only that; demand summaries in the log reach every
reader's popularity alike."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from online_learning.contract import DEMAND_KEY, InventorySignal
from online_learning.engine import FeedbackOutcome, FeedbackResult, SubstitutionEngine
from online_learning.monitoring import LearningMonitor
from streams.batch_produce import Record, send_records
from streams.embedded_broker import EmbeddedBroker
from streams.faust_internals import Deliveries
from streams.learning_log import (
    LEARN_BEHIND_RECORDS,
    LEARN_MAX_WAIT_S,
    LearningLogReader,
    publish_demand,
)
from streams.metrics import WorkerMetrics
from tests.conftest import feedback_payload, milk


class Engine:
    """Learns every event once but raises (a bug) on the one named ``boom``."""

    def __init__(self) -> None:
        self.learned: list[str] = []

    def on_feedback(self, feedback: Any) -> FeedbackOutcome:
        if feedback.event_id == "boom":
            raise IndexError("index 1024 is out of bounds")
        accepted = feedback.outcome == "accepted"
        if feedback.event_id in self.learned:
            return FeedbackOutcome(FeedbackResult.DUPLICATE, feedback.event_id, accepted)
        self.learned.append(feedback.event_id)
        return FeedbackOutcome(FeedbackResult.LEARNED, feedback.event_id, accepted, 0.8, 0.6)


def record(event_id: str, **extra: Any) -> bytes:
    payload = feedback_payload("s1", "1", "2", "accepted", event_id=event_id, ts=1.0)
    return orjson.dumps({**payload, **extra})


def test_a_bug_or_a_refused_record_is_skipped_counted_and_learning_goes_on() -> None:
    engine, metrics = Engine(), WorkerMetrics()
    reader = LearningLogReader("127.0.0.1:1", "log", engine, None, metrics)  # type: ignore[arg-type]

    async def feed() -> None:
        for value in (record("a"), record("boom"), record("c", outcome="maybe"), record("d")):
            await reader._learn(value)

    asyncio.run(feed())
    assert engine.learned == ["a", "d"]
    assert (reader.learned, reader.skipped) == (2, 2)
    text = metrics.exposition().decode()
    assert 'fillrate_learning_skipped_total{reason="internal"} 1.0' in text
    assert 'fillrate_learning_skipped_total{reason="refused"} 1.0' in text


def test_each_learned_event_is_scored_once_and_a_duplicate_is_only_counted() -> None:
    engine, metrics, monitor = Engine(), WorkerMetrics(), LearningMonitor()
    reader = LearningLogReader("127.0.0.1:1", "log", engine, None, metrics, monitor)  # type: ignore[arg-type]

    async def feed() -> None:
        for value in (record("a"), record("b", outcome="rejected"), record("a")):
            await reader._learn(value)

    asyncio.run(feed())
    assert (reader.learned, reader.duplicates) == (2, 1)
    snapshot = monitor.snapshot()
    assert snapshot.acceptance_rate == 0.5  # a accepted, b rejected; the repeat of a not scored
    assert snapshot.log_loss > 0
    text = metrics.exposition().decode()
    assert "fillrate_feedback_learned_total 2.0" in text
    assert "fillrate_feedback_duplicates_total 1.0" in text


# --- demand summaries: the log carries what popularity learns from --------------------------


def engine_with_milk() -> SubstitutionEngine:
    # the ids record() names: feedback asks for "1" and got "2"
    products = [milk("1", "Acme Whole Milk 1 gal", 3.99), milk("2", "Acme Skim Milk 1 gal", 3.79)]
    return SubstitutionEngine(products=products)


def test_demand_summaries_reach_popularity_the_same_way_on_every_reader() -> None:
    worker = engine_with_milk()  # the worker whose signals showed the demand
    for kind in ("found", "not_found", "found"):
        worker.apply_signal(InventorySignal("s1", "2", kind, 1_700_000_000.0))
    written: list[Record] = []

    async def forward(records: list[Record]) -> None:
        written.extend(records)

    assert asyncio.run(publish_demand(worker, forward)) == 1
    assert asyncio.run(publish_demand(worker, forward)) == 0  # nothing new: nothing written
    log = [(b"s1", record("a", ts=1_700_000_001.0)), *written]
    readers = [
        LearningLogReader("127.0.0.1:1", "log", engine_with_milk(), None, WorkerMetrics())  # type: ignore[arg-type]
        for _ in range(2)
    ]

    async def feed(reader: LearningLogReader) -> None:
        for key, value in log:
            await reader._apply(key, value)

    for reader in readers:
        asyncio.run(feed(reader))
    a, b = (reader.engine for reader in readers)
    assert a.popularity_digest() == b.popularity_digest() != engine_with_milk().popularity_digest()
    assert a.popularity_of("2") > 0.0  # three looks in the summary
    assert [(r.learned, r.demand_summaries, r.skipped) for r in readers] == [(1, 1, 0)] * 2
    assert worker.popularity_digest() == engine_with_milk().popularity_digest()  # until read


def test_a_bad_summary_is_skipped_and_counted_and_feedback_with_that_key_is_still_learned() -> None:
    engine, metrics = Engine(), WorkerMetrics()
    reader = LearningLogReader("127.0.0.1:1", "log", engine, None, metrics)  # type: ignore[arg-type]

    async def feed() -> None:
        await reader._apply(DEMAND_KEY, b'{"ts": 1.0, "demand": {"1": -3}}')
        await reader._apply(DEMAND_KEY, record("x"))  # a producer used the key for feedback

    asyncio.run(feed())
    assert engine.learned == ["x"]
    assert (reader.learned, reader.demand_summaries, reader.skipped) == (1, 0, 1)
    assert 'fillrate_learning_skipped_total{reason="refused"} 1.0' in metrics.exposition().decode()


# --- serving: learning steps aside for what the worker's consumer fetched --------------------


class FollowedLog:
    """Stands in for the reader's TopicReplay: one fetch of ``values``, then nothing new;
    the log ends ``behind`` records past what that fetch holds."""

    def __init__(self, values: list[bytes], behind: int = 0) -> None:
        self.values = values
        self.high = len(values) + behind

    async def follow(self) -> Any:
        yield [SimpleNamespace(key=None, value=v, offset=i) for i, v in enumerate(self.values)]
        await asyncio.Event().wait()  # the log is quiet from here on

    def highwater(self, partition: int) -> int:
        return self.high


def serving_reader(deliveries: Deliveries, log: FollowedLog) -> tuple[Engine, LearningLogReader]:
    engine = Engine()
    reader = LearningLogReader(
        "127.0.0.1:1",
        "log",
        engine,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        WorkerMetrics(),
        step_aside=deliveries.settled,
    )
    reader.ready.set()  # caught up before: serving
    reader._replay = log  # type: ignore[assignment]  # what lag() reads
    return engine, reader


def test_once_serving_a_fetch_is_learned_after_the_records_the_worker_fetched_are_taken() -> None:
    """A signal's ranking does not wait behind learning: with records fetched and not yet in
    an agent's batch, the reader waits (up to LEARN_MAX_WAIT_S), then learns them all."""
    deliveries = Deliveries()
    deliveries.fetched({TP("signals", 0): [object(), object()]})
    engine, reader = serving_reader(deliveries, FollowedLog([record("a"), record("b")]))
    learned_while_waiting: list[list[str]] = []

    async def run() -> None:
        learning = asyncio.create_task(reader._read(reader._replay))  # type: ignore[arg-type]
        await asyncio.sleep(LEARN_MAX_WAIT_S / 4)
        learned_while_waiting.append(list(engine.learned))
        for _ in range(2):
            deliveries.delivered("signals")
            deliveries.buffered += 1
        deliveries.buffered -= 2  # handed over to the agent in one batch
        for _ in range(20):
            await asyncio.sleep(0)
        learning.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await learning

    asyncio.run(run())
    assert learned_while_waiting == [[]]
    assert engine.learned == ["a", "b"] and reader._next_offset == 2


@pytest.mark.parametrize("behind", [0, LEARN_BEHIND_RECORDS])
def test_a_stream_that_never_lets_up_delays_learning_by_at_most_the_wait(behind: int) -> None:
    """Never settled: each slice waits LEARN_MAX_WAIT_S, then learns; a reader that far
    behind the log does not wait at all."""
    deliveries = Deliveries()
    deliveries.buffered = 5  # always something waiting
    engine, reader = serving_reader(deliveries, FollowedLog([record("a")], behind))
    waits: list[bool] = []

    async def counted(timeout: float) -> bool:
        waits.append(await deliveries.settled(timeout))
        return waits[-1]

    reader.step_aside = counted
    took: list[float] = []

    async def run() -> None:
        learning = asyncio.create_task(reader._read(reader._replay))  # type: ignore[arg-type]
        started = time.perf_counter()
        while not engine.learned:
            await asyncio.sleep(0.001)
        took.append(time.perf_counter() - started)
        learning.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await learning

    asyncio.run(run())
    assert engine.learned == ["a"]
    if behind:
        assert waits == []
    else:
        assert waits == [False]  # waited once, in vain, then learned
        assert took[0] >= LEARN_MAX_WAIT_S * 0.9  # asyncio's timeout rounds to the loop's clock


# --- caught up: every record before "ready", also when read from a snapshot's offset ----------


@pytest.mark.broker
async def test_read_from_inside_the_last_record_batch_it_is_ready_only_with_that_batch_learned(
    broker: EmbeddedBroker,
) -> None:
    """The embedded broker reports a partition's end as the first offset of its last record
    batch plus one: a reader starting from a snapshot inside that batch is already "past the
    end" before it has fetched anything. It must still learn the rest before it says ready."""
    topic = f"learning-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        values: list[Record] = [(None, record(f"e{i}")) for i in range(200)]
        batches = await send_records(producer, topic, 0, values, on_failure=lambda *a: None)
        assert len(batches) == 1  # one record batch: its reported end is offset 1
        await asyncio.gather(*batches)
    finally:
        await producer.stop()

    class Restored(LearningLogReader):
        async def _restore(self, snapshot: Any) -> int:  # as if one at offset 99 was loaded
            await snapshot
            return 100

    engine, catalog = Engine(), SimpleNamespace(ready=asyncio.Event())
    catalog.ready.set()
    reader = Restored(broker.bootstrap_servers, topic, engine, catalog, WorkerMetrics())  # type: ignore[arg-type]
    task = asyncio.ensure_future(reader.run())
    try:
        await asyncio.wait_for(reader.ready.wait(), 30)
        assert engine.learned == [f"e{i}" for i in range(100, 200)]  # the tail, all of it
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
