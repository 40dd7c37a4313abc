"""Producers from other stacks on the real broker: a librdkafka client (confluent-kafka).

With ``partitioner=murmur2_random`` it puts every store_id key where Java's default partitioner,
aiokafka's and the worker's own rule put it. With librdkafka's default (``consistent_random``,
CRC32) most keys land elsewhere: a worker still processes those records, and counts them in
``fillrate_records_misrouted_total{topic}`` (README, "Producing from other stacks").
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka import Producer

from online_learning.contract import product_payload
from streams.embedded_broker import EmbeddedBroker
from streams.worker.partitioning import murmur2_partition
from tests.conftest import feedback_payload, milk, signal_payload

pytestmark = pytest.mark.broker

STORES = [f"store-{i:03d}" for i in range(300)]
CATALOG = [milk(f"m{i}", f"Brand{i} Whole Milk 1 gal", 3.0 + i % 3) for i in range(4)]


def librdkafka_producer(bootstrap: str, partitioner: str | None) -> Producer:
    """A confluent-kafka producer; ``partitioner`` None keeps librdkafka's default."""
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    if partitioner is not None:
        config["partitioner"] = partitioner
    return Producer(config)


def produce(producer: Producer, topic: str, records: list[tuple[str, bytes]]) -> dict[str, int]:
    """Send (key, value) records; returns the partition each key was written to (acked)."""
    landed: dict[str, int] = {}
    errors: list[Any] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(err)
        else:
            landed[msg.key().decode()] = msg.partition()

    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value, on_delivery=delivered)
    assert producer.flush(15) == 0, "records still queued after 15 s"
    assert not errors, errors
    assert len(landed) == len({key for key, _ in records})
    return landed


async def create_topics(broker: EmbeddedBroker, partitions: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, n, 1) for t, n in partitions.items()])
    finally:
        await admin.close()


async def test_murmur2_random_puts_each_store_where_java_aiokafka_and_the_worker_do(
    broker: EmbeddedBroker,
) -> None:
    counts = {f"keys-{uuid.uuid4().hex[:8]}-{n}": n for n in (2, 3, 4, 7, 12)}
    await create_topics(broker, counts)
    records = [(store, b"{}") for store in STORES]
    murmur = librdkafka_producer(broker.bootstrap_servers, "murmur2_random")
    default = librdkafka_producer(broker.bootstrap_servers, None)
    aio = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=5)
    await aio.start()
    try:
        for topic, n in counts.items():
            by_murmur = produce(murmur, topic, records)
            by_default = produce(default, topic, records)
            sent = [await aio.send(topic, b"{}", key=s.encode()) for s in STORES]
            by_aiokafka = {s: (await f).partition for s, f in zip(STORES, sent, strict=True)}
            by_worker = {s: murmur2_partition(s.encode(), n) for s in STORES}
            assert by_murmur == by_aiokafka == by_worker, f"{n} partitions"
            # librdkafka's default (CRC32) disagrees for most keys: about (n-1)/n of them
            elsewhere = sum(by_default[s] != by_worker[s] for s in STORES)
            assert elsewhere > len(STORES) * (n - 1) / n / 2, f"{n} partitions: {elsewhere}"
    finally:
        await aio.stop()


async def test_records_from_librdkafkas_default_partitioner_are_processed_and_counted(
    worker_factory: Any, kafka_io: Any, broker: EmbeddedBroker
) -> None:
    worker = worker_factory(partitions=4)
    s = worker.settings
    io = await kafka_io(s)
    await io.follow(s.rankings_topic)
    for p in CATALOG:
        await io.send(s.catalog_topic, product_payload(p), key=p.item_id)
    stores = STORES[:24]
    producer = librdkafka_producer(broker.bootstrap_servers, None)  # consistent_random
    signals = [
        (store, orjson.dumps(signal_payload(store, "m1", "out_of_stock"))) for store in stores
    ]
    feedback = [
        (store, orjson.dumps(feedback_payload(store, "m1", "m2", "accepted"))) for store in stores
    ]
    signal_partitions = produce(producer, s.signals_topic, signals)
    feedback_partitions = produce(producer, s.feedback_topic, feedback)

    def off(landed: dict[str, int]) -> int:
        return sum(p != murmur2_partition(store.encode(), 4) for store, p in landed.items())

    # every store ranked, wherever its record landed
    ranked = await io.read(
        s.rankings_topic, lambda rs: {r["store_id"] for r in rs} >= set(stores), timeout=15
    )
    assert {r["store_id"] for r in ranked} >= set(stores)
    worker.wait_ready(5, until=lambda h: h.get("feedback_learned") == len(stores))

    metrics = worker.metrics()
    assert off(signal_partitions) > 0 and off(feedback_partitions) > 0
    assert metrics.value("fillrate_records_misrouted_total", topic=s.signals_topic) == off(
        signal_partitions
    )
    assert metrics.value("fillrate_records_misrouted_total", topic=s.feedback_topic) == off(
        feedback_partitions
    )
    assert metrics.value("fillrate_dead_letters_total") == 0
    log = worker.log()
    for topic in (s.signals_topic, s.feedback_topic):  # one line per topic, with the fix
        lines = [line for line in log.splitlines() if f" on {topic} arrived" in line]
        assert len(lines) == 1 and "partitioner=murmur2_random" in lines[0], lines
