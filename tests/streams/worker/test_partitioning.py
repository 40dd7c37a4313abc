"""Kafka's default partitioner as the worker computes it, and the misrouted-record check.

On the real broker, with a librdkafka producer: tests/streams/test_foreign_producers.py.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from online_learning.contract import InventorySignal
from streams.metrics import WorkerMetrics
from streams.worker.partitioning import RoutingCheck, murmur2_partition
from tests.streams.worker.test_agents import agents, stock_out

# Kafka's own test vectors for Utils.murmur2 (clients/.../utils/UtilsTest.java: testMurmur2).
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "java_hash"), JAVA_MURMUR2.items())
def test_partitions_are_the_ones_javas_default_partitioner_picks(
    key: bytes, java_hash: int
) -> None:
    # Java: Utils.toPositive(murmur2(key)) % n, where toPositive drops the sign bit (it is not
    # the absolute value: that would put every key with a negative hash elsewhere).
    for n in (1, 2, 3, 4, 6, 12, 100):
        assert murmur2_partition(key, n) == (java_hash & 0x7FFFFFFF) % n


def test_the_worker_and_aiokafkas_default_partitioner_agree() -> None:
    partitioner = DefaultPartitioner()
    for n in (2, 3, 4, 8):
        ids = list(range(n))
        for i in range(500):
            key = f"store-{i}".encode()
            assert murmur2_partition(key, n) == partitioner(key, ids, ids)


def message(store: str, partition: int, key: bytes | None, topic: str = "signals") -> Any:
    msg = SimpleNamespace(topic=topic, partition=partition, key=key, offset=0)
    return SimpleNamespace(message=msg), InventorySignal(store, "m0", "found", 1.0)


def routed(store: str, partitions: int = 4, topic: str = "signals") -> Any:
    """A record on the partition its store belongs in."""
    return message(store, murmur2_partition(store.encode(), partitions), store.encode(), topic)


def misrouted(store: str, partitions: int = 4, key: bytes | None = None) -> Any:
    right = murmur2_partition(store.encode(), partitions)
    return message(store, (right + 1) % partitions, store.encode() if key is None else key)


def check(partitions: int = 4) -> tuple[RoutingCheck, WorkerMetrics]:
    async def count(topic: str) -> int:
        return partitions

    metrics = WorkerMetrics()
    return RoutingCheck(metrics, count, ("signals", "feedback")), metrics


def misrouted_total(metrics: WorkerMetrics, topic: str) -> float | None:
    return metrics.registry.get_sample_value("fillrate_records_misrouted_total", {"topic": topic})


def test_records_off_their_stores_partition_are_counted_by_topic() -> None:
    routing, metrics = check()
    assert misrouted_total(metrics, "signals") == 0.0  # exported from the start
    assert misrouted_total(metrics, "feedback") == 0.0
    batch = [routed(f"s{i}") for i in range(20)] + [misrouted("s3"), misrouted("s7")]
    assert asyncio.run(routing.check(batch)) == 2
    assert misrouted_total(metrics, "signals") == 2.0
    assert misrouted_total(metrics, "feedback") == 0.0


def test_the_first_misrouted_record_of_a_topic_is_logged_once_with_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routing, _ = check()
    with caplog.at_level(logging.WARNING, "fillrate.worker"):
        asyncio.run(routing.check([misrouted("s1"), misrouted("s2")]))
        asyncio.run(routing.check([misrouted("s3")]))
    (record,) = caplog.records
    text = record.getMessage()
    assert "partitioner=murmur2_random" in text
    assert "'s1'" in text and "keyed by its store_id" in text


@pytest.mark.parametrize(
    ("key", "cause"), [(None, "no key"), (b"m0", "its key is b'm0', not its store_id")]
)
def test_the_log_says_when_the_key_is_not_the_store_id(
    key: bytes | None, cause: str, caplog: pytest.LogCaptureFixture
) -> None:
    # a record keyed by something else lands where that key hashes: as wrong for the store
    routing, metrics = check()
    event, signal = misrouted("s1")
    event.message.key = key
    with caplog.at_level(logging.WARNING, "fillrate.worker"):
        asyncio.run(routing.check([(event, signal)]))
    assert cause in caplog.text
    assert misrouted_total(metrics, "signals") == 1.0


def test_a_failed_partition_lookup_skips_the_check_and_never_raises() -> None:
    async def no_metadata(topic: str) -> int:
        raise TimeoutError("no metadata")

    metrics = WorkerMetrics()
    routing = RoutingCheck(metrics, no_metadata)
    assert asyncio.run(routing.check([misrouted("s1")])) == 0
    assert misrouted_total(metrics, "signals") is None


def test_on_a_single_partition_topic_nothing_is_misrouted() -> None:
    routing, _ = check(partitions=1)
    assert asyncio.run(routing.check([message("s1", 0, None)])) == 0


def test_a_misrouted_signal_is_still_applied_and_ranked() -> None:
    agent, worker = agents()

    async def two(topic: str) -> int:
        return 2

    agent.routing.partitions = two
    event = stock_out(0, "m0")  # store s1, on partition 0
    event.message.partition = 1 - murmur2_partition(b"s1", 2)
    asyncio.run(agent.process_signal_batch([event]))
    assert [r.item_id for r in worker.output.rankings] == ["m0"]
    assert worker.state.applied_signals == [(0, "s1", "m0", False)]
    assert misrouted_total(worker.metrics, "inventory.signals") == 1.0
