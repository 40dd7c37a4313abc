"""Batched produce: the records of one agent batch, sent as one record batch per partition.

``AIOKafkaProducer.send`` costs one coroutine, one partition lookup and one delivery future per
record, about 5-8 µs each on these machines, and more through Faust's producer wrapper. The
store-state changelog writes about one record per inventory signal, so that per-record cost
was a large share of the worker's time (docs/performance.md, "The Faust floor and the
engine's CPU per event"). aiokafka's ``create_batch`` / ``send_batch`` build the records into
one batch with its C record builder and give one future for the whole batch: about 1.5 µs per
record.

Delivery is not awaited: the worker's offsets are committed only after Faust flushes the
producer, which waits for these batches too (``AIOKafkaProducer.flush`` covers every queued
batch). A batch that fails is reported through ``on_failure`` with its record count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

__all__ = ["OnFailure", "Record", "send_records"]

Record = tuple[bytes | None, bytes | None]
"""(key, value) of one record; a ``None`` value is a tombstone."""

OnFailure = Callable[[str, int, int, BaseException], None]
"""Called with (topic, partition, records lost, error) when a batch was not delivered."""


async def send_records(
    producer: AIOKafkaProducer,
    topic: str,
    partition: int,
    records: Sequence[Record],
    on_failure: OnFailure,
) -> list[asyncio.Future[Any]]:
    """Queue ``records`` for ``topic[partition]``, in order, as few record batches as fit.

    Returns once they are queued (not delivered), with the batches' delivery futures, for a
    caller that must know they were written before it goes on. A record too large for an empty
    batch goes through ``producer.send``, which sizes a batch for it.
    """
    futures: list[asyncio.Future[Any]] = []
    i = 0
    while i < len(records):
        batch = producer.create_batch()
        start = i
        while i < len(records):
            key, value = records[i]
            if batch.append(key=key, value=value, timestamp=None) is None:
                break
            i += 1
        if i == start:  # larger than a whole batch on its own
            key, value = records[i]
            future = await producer.send(topic, value, key=key, partition=partition)
            i += 1
            _watch(future, topic, partition, 1, on_failure)
            futures.append(future)
            continue
        batch.close()
        future = await producer.send_batch(batch, topic, partition=partition)
        _watch(future, topic, partition, i - start, on_failure)
        futures.append(future)
    return futures


def _watch(
    future: asyncio.Future[Any], topic: str, partition: int, n: int, on_failure: OnFailure
) -> None:
    def done(f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            on_failure(topic, partition, n, asyncio.CancelledError())
        elif (exc := f.exception()) is not None:
            on_failure(topic, partition, n, exc)

    future.add_done_callback(done)
