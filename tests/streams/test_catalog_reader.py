"""The catalog reader's barrier: a record that names an item waits for the catalog as it was
when the record arrived, never for an older look at it (real broker)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from online_learning.contract import encode_product
from online_learning.engine import SubstitutionEngine
from streams.catalog_reader import CatalogReader
from streams.embedded_broker import EmbeddedBroker
from tests.conftest import milk


@pytest.mark.broker
async def test_a_sync_right_after_another_still_waits_for_a_record_produced_between_them(
    broker: EmbeddedBroker,
) -> None:
    """Two items added one after the other, each named by a signal as soon as it is in the
    topic: the second sync must not reuse the first one's end offsets (they predate it)."""
    topic = f"catalog-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    await producer.start()

    async def add(item_id: str) -> float:
        key, value = encode_product(milk(item_id))
        await producer.send_and_wait(topic, value, key=key)
        return time.monotonic()  # the signal naming it could arrive from now on

    engine = SubstitutionEngine()
    reader = CatalogReader(broker.bootstrap_servers, topic, engine)
    task = asyncio.ensure_future(reader.run())
    try:
        await add("m0")
        await asyncio.wait_for(reader.ready.wait(), 30)
        for item_id in ("m1", "m2", "m3"):  # well within a second of each other
            arrived = await add(item_id)
            assert await reader.sync(timeout=10.0, since=arrived)
            assert engine.knows_item(item_id), item_id
        arrived = await add("m4")
        assert await reader.sync(timeout=10.0)  # since now: the same barrier
        assert engine.knows_item("m4")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()
