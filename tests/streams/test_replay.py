"""The replay reader on the embedded broker: every record from the beginning, in order per
partition, a clear point where the backlog found at start is read, then whatever arrives."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.embedded_broker import EmbeddedBroker
from streams.replay import RawRecord, TopicReplay

pytestmark = pytest.mark.broker


async def new_topic(broker: EmbeddedBroker, partitions: int) -> str:
    topic = f"replay-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def produce(broker: EmbeddedBroker, topic: str, values: dict[int, list[bytes]]) -> None:
    """``values`` per partition, in that order, one record batch after another."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        for partition, records in values.items():
            for value in records:
                await producer.send(topic, value, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def by_partition(records: list[RawRecord]) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = defaultdict(list)
    for record in records:
        out[record.partition].append(record.value)
    return dict(out)


def values(partition: int, n: int, start: int = 0) -> list[bytes]:
    return [f"p{partition}-{i}".encode() for i in range(start, start + n)]


async def test_the_backlog_of_every_partition_is_read_in_order_and_then_reached(
    broker: EmbeddedBroker,
) -> None:
    topic = await new_topic(broker, 3)
    sent = {p: values(p, 40 + 10 * p) for p in range(3)}
    await produce(broker, topic, sent)
    async with TopicReplay(broker.bootstrap_servers, topic) as replay:
        assert [tp.partition for tp in replay.partitions] == [0, 1, 2]
        assert not await replay.reached()
        read: list[RawRecord] = []
        async for records in replay.backlog():
            read.extend(records)
        assert await replay.reached()
    assert by_partition(read) == sent


async def test_a_backlog_whose_last_batch_is_cut_by_max_records_is_read_to_its_end(
    broker: EmbeddedBroker,
) -> None:
    """The embedded broker reports the end as the last batch's first offset plus one, so the
    first fetch of a one-batch partition already "reaches" it; a fetch cut by ``max_records``
    must not end the backlog with the batch's tail unread."""
    topic = await new_topic(broker, 1)
    sent = values(0, 300)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=50)
    await producer.start()
    try:  # queued together: one record batch
        await asyncio.gather(*[await producer.send(topic, v, partition=0) for v in sent])
    finally:
        await producer.stop()
    async with TopicReplay(broker.bootstrap_servers, topic, [0], max_records=100) as replay:
        assert replay.end[replay.partitions[0]] < 300  # the broker's end: inside the batch
        read = [r.value async for records in replay.backlog() for r in records]
    assert read == sent


async def test_records_that_arrive_later_are_followed(broker: EmbeddedBroker) -> None:
    topic = await new_topic(broker, 2)
    await produce(broker, topic, {0: values(0, 5), 1: values(1, 5)})
    async with TopicReplay(broker.bootstrap_servers, topic) as replay:
        backlog = [r async for records in replay.backlog() for r in records]
        assert len(backlog) == 10
        later = {0: values(0, 3, start=5), 1: values(1, 4, start=5)}
        await produce(broker, topic, later)
        followed: list[RawRecord] = []
        async with asyncio.timeout(15):
            async for records in replay.follow():
                followed.extend(records)
                if len(followed) >= 7:
                    break
        assert by_partition(followed) == later
        assert await replay.reached(await replay.end_offsets())


async def test_an_empty_topic_has_no_backlog(broker: EmbeddedBroker) -> None:
    topic = await new_topic(broker, 2)
    async with TopicReplay(broker.bootstrap_servers, topic) as replay:
        assert await replay.reached()
        assert [records async for records in replay.backlog()] == []
        assert set(replay.end.values()) == {0}


async def test_only_the_partitions_asked_for_are_read(broker: EmbeddedBroker) -> None:
    topic = await new_topic(broker, 3)
    await produce(broker, topic, {p: values(p, 6) for p in range(3)})
    async with TopicReplay(broker.bootstrap_servers, topic, [1]) as replay:
        read = [r async for records in replay.backlog() for r in records]
        assert replay.highwater(1) is not None
    assert by_partition(read) == {1: values(1, 6)}


async def test_a_stopped_replay_answers_no_more_questions(broker: EmbeddedBroker) -> None:
    topic = await new_topic(broker, 1)
    replay = TopicReplay(broker.bootstrap_servers, topic)
    assert not replay.running
    await replay.start()
    assert replay.running
    await replay.stop()
    assert not replay.running
    with pytest.raises(RuntimeError, match="not running"):
        await replay.reached()
