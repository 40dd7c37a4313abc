"""The snapshots topic on the real broker: a start reads the newest snapshot from the topic's
end, not every older one compaction has not removed yet, and falls back to reading it all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from streams.batch_produce import Record
from streams.embedded_broker import EmbeddedBroker
from streams.model_snapshots import CHUNK_BYTES, SnapshotTopic
from tests.streams.test_replay import new_topic

pytestmark = pytest.mark.broker


async def no_write(records: list[Record]) -> list[asyncio.Future[Any]]:
    raise AssertionError("a reader writes nothing")


async def topic_with_snapshots(
    broker: EmbeddedBroker, sizes: list[int], tail_records: int
) -> tuple[str, list[bytes]]:
    """A topic to which snapshots of ``sizes`` bytes were written one after another."""
    topic = await new_topic(broker, 1)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=5)
    await producer.start()

    async def write(records: list[Record]) -> list[asyncio.Future[Any]]:
        return [await producer.send(topic, value, key=key, partition=0) for key, value in records]

    written = []
    try:
        writer = SnapshotTopic(broker.bootstrap_servers, topic, write, tail_records)
        for i, size in enumerate(sizes):
            data = bytes([i]) * size
            await writer.write(data, offset=100 * i)
            written.append(data)
    finally:
        await producer.stop()
    return topic, written


async def test_the_newest_snapshot_is_read_from_the_end_of_the_topic(
    broker: EmbeddedBroker,
) -> None:
    # five snapshots of three chunks each: 4 records each (chunks, then the manifest)
    topic, written = await topic_with_snapshots(broker, [2 * CHUNK_BYTES + 10] * 5, 6)
    reader = SnapshotTopic(broker.bootstrap_servers, topic, no_write, tail_records=6)
    found = await reader.read()
    assert found is not None
    manifest, data = found
    assert (manifest.offset, data) == (400, written[-1])
    assert reader.records_read < 5 * 4  # the older snapshots were not read


async def test_a_newest_snapshot_longer_than_the_window_is_read_from_the_start(
    broker: EmbeddedBroker,
) -> None:
    topic, written = await topic_with_snapshots(broker, [CHUNK_BYTES, 4 * CHUNK_BYTES], 2)
    reader = SnapshotTopic(broker.bootstrap_servers, topic, no_write, tail_records=2)
    found = await reader.read()
    assert found is not None
    manifest, data = found
    assert (manifest.offset, data) == (100, written[-1])
    assert reader.records_read >= 2 + 5  # the window, then the whole topic
