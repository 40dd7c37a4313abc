"""Batched produce on the real embedded broker: every record arrives, in order, once."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.batch_produce import Record, send_records
from streams.embedded_broker import EmbeddedBroker


async def read_all(bootstrap: str, topic: str, partition: int, n: int) -> list[Record]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got: list[Record] = []
        async with asyncio.timeout(20):
            while len(got) < n:
                for records in (await consumer.getmany(tp, timeout_ms=500)).values():
                    got.extend((r.key, r.value) for r in records)
        return got
    finally:
        await consumer.stop()


async def new_topic(bootstrap: str, prefix: str, partitions: int) -> str:
    """A new topic of ``partitions`` partitions, named ``prefix`` and a random suffix."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


async def produce(
    bootstrap: str, batches: list[tuple[int, list[Record]]]
) -> tuple[str, list[tuple[object, ...]]]:
    """Create a 2-partition topic, send each (partition, records), flush: (topic, failures)."""
    topic = await new_topic(bootstrap, "batch", 2)
    failures: list[tuple[object, ...]] = []
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        for partition, records in batches:
            await send_records(
                producer, topic, partition, records, lambda *failure: failures.append(failure)
            )
        await producer.flush()
    finally:
        await producer.stop()
    return topic, failures


def test_records_arrive_in_order_across_many_batches_with_tombstones_and_oversized_values(
    broker: EmbeddedBroker,
) -> None:
    bootstrap = broker.bootstrap_servers
    # 3,000 records of ~100 bytes do not fit one 16 KiB batch; one value is larger than a batch.
    first: list[Record] = [
        (f"k{i}".encode(), None if i % 97 == 0 else f"v{i}".encode() * 25) for i in range(3000)
    ]
    first.insert(1500, (b"big", b"x" * 40_000))
    second: list[Record] = [(None, b"keyless"), (b"last", b"one")]

    async def run() -> tuple[list[Record], list[Record], list[tuple[object, ...]]]:
        topic, failures = await produce(bootstrap, [(0, first[:10]), (1, second), (0, first[10:])])
        got0 = await read_all(bootstrap, topic, 0, len(first))
        got1 = await read_all(bootstrap, topic, 1, len(second))
        return got0, got1, failures

    got0, got1, failures = asyncio.run(run())
    assert got0 == first  # all of them, in the order given, nothing twice
    assert got1 == second
    assert failures == []


def test_an_undelivered_batch_reports_its_record_count() -> None:
    """What the worker counts in fillrate_produce_errors_total: records lost, not batches.

    A broker of its own, stopped after the topic exists: the batch is queued, never delivered.
    """

    async def run(lost: EmbeddedBroker) -> list[tuple[bool, int, int, str]]:
        topic = f"lost-{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(bootstrap_servers=lost.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(
            bootstrap_servers=lost.bootstrap_servers, request_timeout_ms=1500, linger_ms=50
        )
        await producer.start()
        await producer.partitions_for(topic)  # metadata known before the broker goes
        failures: list[tuple[str, int, int, BaseException]] = []
        try:
            lost.stop()
            records: list[Record] = [(b"k", b"v")] * 7
            await send_records(producer, topic, 0, records, lambda *f: failures.append(f))
            async with asyncio.timeout(30):
                while not failures:
                    await asyncio.sleep(0.1)
        finally:
            await producer.stop()
        return [(t == topic, p, n, type(exc).__name__) for t, p, n, exc in failures]

    with EmbeddedBroker() as lost:
        failures = asyncio.run(run(lost))
    assert len(failures) == 1
    same_topic, partition, n, _error = failures[0]
    assert (same_topic, partition, n) == (True, 0, 7)
