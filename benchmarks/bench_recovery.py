"""Recovery: how long a worker takes to rebuild its state after a restart or a partition move.

Two parts, each on the embedded Tansu broker, each timed from "start reading" to "state in the
engine":

1. Store state: a changelog partition pre-filled with availability entries and live rankings
   (90% / 10%, as the worker writes them: ``streams/state_changelog.py``), read to its end and
   put into a fresh engine. Reported per million entries.
2. The model: the shared learning log pre-filled with feedback events over the real catalog,
   replayed into a fresh engine (decode, de-duplicate, pair features, progressive validation,
   one SGD step each). Reported per million events.

    .venv/bin/python benchmarks/bench_recovery.py [--quick] [--entries N] [--feedback N]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import random
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from online_learning.contract import Feedback, encode_availability, encode_event, encode_live
from online_learning.engine import SubstitutionEngine
from online_learning.offline.instacart import load_instacart_products, load_order_popularity
from streams.batch_produce import Record
from streams.catalog_reader import CatalogReader
from streams.embedded_broker import EmbeddedBroker
from streams.learning_log import LearningLogReader
from streams.metrics import WorkerMetrics
from streams.state_changelog import StoreState


async def create(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, num_partitions=1, replication_factor=1) for t in topics]
        )
    finally:
        await admin.close()


async def fill(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]
) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for key, value in records:
            await producer.send(topic, key=key, value=value, partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def store_state(bootstrap: str, n: int, items: list[str]) -> tuple[int, float]:
    topic = f"bench-state-{uuid.uuid4().hex[:8]}"
    await create(bootstrap, topic)
    records: list[tuple[bytes | None, bytes | None]] = []
    n_live = n // 10
    stores = max(1, (n - n_live) // len(items) + 1)
    for i in range(n - n_live):
        store, item = f"store-{i % stores}", items[(i // stores) % len(items)]
        records.append(encode_availability(store, item, (0.27, 1.7e9, False), i))
    for i in range(n_live):
        store, item = f"store-{i % stores}", items[(i // stores) % len(items)]
        records.append(
            encode_live(store, item, tuple(items[(i + k) % len(items)] for k in range(10)))
        )
    await fill(bootstrap, topic, records)

    async def nothing(partition: int, records: list[Record]) -> list[Any]:
        return []

    engine = SubstitutionEngine()
    state = StoreState(bootstrap, topic, engine, nothing)
    started = time.perf_counter()
    await state.ready(0)
    elapsed = time.perf_counter() - started
    assert len(engine.availability) == n - n_live, (len(engine.availability), n - n_live)
    assert engine.live_rankings() == n_live, (engine.live_rankings(), n_live)
    return n, elapsed


async def model(bootstrap: str, n: int) -> tuple[int, float]:
    products = load_instacart_products()
    by_aisle: dict[str, list[str]] = collections.defaultdict(list)
    for p in products:
        by_aisle[p.aisle].append(p.item_id)
    aisles = [items for items in by_aisle.values() if len(items) > 1]
    rng = random.Random(7)
    feedback = []
    for i in range(n):  # same-aisle pairs of real items, as shoppers' substitutions are
        requested, substitute = rng.sample(rng.choice(aisles), 2)
        outcome = "accepted" if rng.random() < 0.6 else "rejected"
        feedback.append(
            Feedback(uuid.uuid4().hex, f"store-{i % 20}", requested, substitute, outcome, 1.7e9 + i)
        )
    topic = f"bench-learning-{uuid.uuid4().hex[:8]}"
    await create(bootstrap, topic)
    records: list[tuple[bytes | None, bytes | None]] = [
        (key, value) for _topic, key, value in map(encode_event, feedback)
    ]
    await fill(bootstrap, topic, records)
    engine = SubstitutionEngine(products=products, popularity=load_order_popularity())
    engine.features.warm()
    catalog = CatalogReader(bootstrap, "unused", engine)
    catalog.ready.set()  # the catalog is already in the engine
    reader = LearningLogReader(bootstrap, topic, engine, catalog, WorkerMetrics())
    started = time.perf_counter()
    task = asyncio.ensure_future(reader.run())
    await reader.ready.wait()
    elapsed = time.perf_counter() - started
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert reader.learned == len(feedback), (reader.learned, len(feedback))
    return len(feedback), elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (CI smoke test)")
    parser.add_argument("--entries", type=int, default=None, help="state entries (1,000,000)")
    parser.add_argument("--feedback", type=int, default=None, help="feedback events (100,000)")
    args = parser.parse_args()
    entries = args.entries or (20_000 if args.quick else 1_000_000)
    feedback = args.feedback or (1_000 if args.quick else 100_000)
    items = [f"item-{i}" for i in range(5_000)]
    with EmbeddedBroker() as broker:
        n, seconds = await store_state(broker.bootstrap_servers, entries, items)
        print(
            f"store state: {n:,} entries restored in {seconds:.2f}s: "
            f"{seconds * 1e6 / n:.1f}s per million entries ({n / seconds:,.0f} entries/s)"
        )
        n, seconds = await model(broker.bootstrap_servers, feedback)
        print(
            f"model: {n:,} feedback events replayed in {seconds:.2f}s: "
            f"{seconds * 1e6 / n:.1f}s per million events ({n / seconds:,.0f} events/s)"
        )


if __name__ == "__main__":
    asyncio.run(main())
