"""A real worker restarted on a long learning log: ready in seconds with a snapshot, against
the full replay measured in the same run.

bench_snapshot.py times a snapshot's parts in one process; this is the end-to-end figure the
restart target is stated in ("ready within 15 s with 5,000,000 feedback events in the log"):
real ``fillrate worker`` processes on the embedded broker.

1. The log: ``--events`` feedback events over the real catalog (bench_snapshot's shape: uuid
   ids, same-aisle pairs, skewed customers) appended to the learning log.
2. The snapshot a worker would have written ``--tail`` records before the end: the engine
   state of every event before that offset, built part by part as bench_snapshot.py does (a
   real worker would take about 500 us an event to learn them: 40 minutes for 5,000,000),
   with the reader's counters (learned, digest) of that prefix, written to the snapshot topic
   as the worker writes it (streams/model_snapshots.py).
3. Three workers on that log, each timed from process start to /ready: the first of a
   new consumer group (it also validates the whole catalog once, ~10 s for 49,688 items), the
   same worker restarted, and a second worker added to the group while the first runs. Each
   must load the snapshot (said in its log) and end with every event learned.
4. The baseline, in the same run: a worker of another group with snapshots off, replaying a
   log of ``--replay-events`` of the same events, scaled linearly to ``--events``.

    .venv/bin/python benchmarks/bench_restart.py                  # 5,000,000 events (~15 min)
    .venv/bin/python benchmarks/bench_restart.py --quick          # CI smoke: 20,000, 5,000 items
    .venv/bin/python benchmarks/bench_restart.py --events N --tail T --replay-events M
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from aiokafka import AIOKafkaProducer
from bench_snapshot import build_cheaply, feedback_stream
from worker_process import WorkerProcess, bench_settings, publish

from online_learning.contract import Feedback, Product, encode_event
from online_learning.monitoring import LearningMonitor
from online_learning.offline.instacart import load_instacart_products
from online_learning.snapshot import encode_state, engine_state
from streams.batch_produce import Record, send_records
from streams.embedded_broker import EmbeddedBroker
from streams.learning_log import event_ids_digest
from streams.model_snapshots import SnapshotTopic
from streams.settings import Settings
from streams.worker.worker import build_engine

TARGET_S = 15.0
CHUNK = 50_000  # records queued before waiting for their delivery
RESTORED = re.compile(r"model restored from the snapshot .* in ([0-9.]+)s")


def failed(topic: str, partition: int, lost: int, exc: BaseException) -> None:
    raise RuntimeError(f"{lost} records to {topic}[{partition}] not delivered: {exc!r}")


async def append(producer: AIOKafkaProducer, topic: str, events: Iterable[Feedback]) -> int:
    """Append ``events`` to partition 0 of ``topic`` in record batches; how many."""
    n = 0
    events = iter(events)
    while chunk := list(itertools.islice(events, CHUNK)):
        records: list[Record] = [(key, value) for _t, key, value in map(encode_event, chunk)]
        futures = await send_records(producer, topic, 0, records, failed)
        await asyncio.gather(*futures)
        n += len(chunk)
        if n % 1_000_000 < CHUNK:
            print(f"   {n:,} appended", flush=True)
    return n


def counted(events: Iterable[Feedback], into: dict[str, int]) -> Iterator[Feedback]:
    """``events`` as they go, their number and digest summed into ``into`` (what the worker's
    learning log reader counts for the events it learned)."""
    events = iter(events)
    while chunk := list(itertools.islice(events, 10_000)):
        into["learned"] += len(chunk)
        # the digest is a sum of the ids' hashes modulo 2**64, so chunks' digests add up
        total = into["digest"] + int(event_ids_digest([e.event_id for e in chunk]), 16)
        into["digest"] = total % 2**64
        yield from chunk


async def write_log_and_snapshot(
    settings: Settings, products: list[Product], n: int, tail: int, customers: int
) -> dict[str, Any]:
    """The learning log of ``n`` events and the snapshot at ``n - tail`` (steps 1 and 2)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=5, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        started = time.perf_counter()
        appended = await append(
            producer, settings.learning_topic, feedback_stream(products, n, customers, seed=7)
        )
        print(f"1. log: {appended:,} events appended in {time.perf_counter() - started:.0f} s")

        engine = build_engine(settings)
        engine.load_catalog(products)
        counters = {"learned": 0, "digest": 0}
        prefix = itertools.islice(feedback_stream(products, n, customers, seed=7), n - tail)
        build_s = build_cheaply(engine, counted(prefix, counters), model_steps=10_000)
        state = engine_state(
            engine,
            {
                "offset": n - tail - 1,
                "learned": counters["learned"],
                "duplicates": 0,
                "skipped": 0,
                "demand_summaries": 0,
                "digest": counters["digest"],
                "monitor": LearningMonitor().state(),
            },
        )
        data = encode_state(state, "zlib")

        async def write(records: list[Record]) -> list[asyncio.Future[Any]]:
            return await send_records(producer, settings.snapshot_topic, 0, records, failed)

        await SnapshotTopic(settings.bootstrap_servers, settings.snapshot_topic, write).write(
            data, n - tail - 1
        )
        print(
            f"2. snapshot at offset {n - tail - 1:,}: state of {counters['learned']:,} events"
            f" built in {build_s:.0f} s, {len(data) / 1e6:.1f} MB (zlib)"
        )
        return {"bytes": len(data)}
    finally:
        await producer.stop()


def timed_start(worker: WorkerProcess, n: int, timeout: float) -> dict[str, float]:
    """Start ``worker``; seconds from the start to its first /ready answer (the process up),
    to /ready, and to every one of the ``n`` events learned; and the snapshot's load
    time from the worker's own log.

    "Learned" is waited for as well as "ready" because the worker's "model rebuilt" can come
    early on the embedded broker, whose reported end of the log is the first offset of the
    last record batch plus one (streams/replay.py): the last batch is then learned just after.
    """
    started = time.perf_counter()
    worker.start()
    marks: dict[str, float] = {}
    deadline = started + timeout
    while "learned" not in marks:
        if time.perf_counter() > deadline:
            raise SystemExit(f"not ready within {timeout:g} s; see {worker.log_path}")
        worker.check_alive()
        if "snapshot cannot be used" in worker.log():
            raise SystemExit(f"the worker refused the snapshot; see {worker.log_path}")
        health = worker.health(path="/ready")  # /health hashes the whole model each time
        now = time.perf_counter() - started
        if health is not None:
            marks.setdefault("answers", now)
            if health.get("status") == "ok":
                marks.setdefault("ready", now)
                if health.get("feedback_learned", 0) >= n:
                    marks["learned"] = now
        time.sleep(0.05)
    restored = RESTORED.search(worker.log())
    marks["restore"] = float(restored.group(1)) if restored else float("nan")
    return marks


async def baseline(broker_url: str, products: list[Product], m: int, customers: int) -> float:
    """Step 4: a worker replaying ``m`` events without snapshots: seconds to ready."""
    settings = bench_settings(broker_url, partitions=4)
    settings = replace(settings, app_id=f"{settings.catalog_topic}-full", snapshot_every=0)
    await publish(settings, products, [])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=5, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        await append(producer, settings.learning_topic, feedback_stream(products, m, customers, 7))
    finally:
        await producer.stop()
    worker = WorkerProcess(settings, settings.app_id)
    try:
        return timed_start(worker, m, timeout=3600)["learned"]
    finally:
        worker.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument(
        "--tail",
        type=int,
        default=Settings().snapshot_every,
        help="records after the snapshot (default: the snapshot_every setting's default)",
    )
    parser.add_argument("--replay-events", type=int, default=100_000, help="baseline's log")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 events, 5,000 items")
    args = parser.parse_args()
    if args.quick:
        args.events, args.tail, args.replay_events, args.customers = 20_000, 2_000, 5_000, 5_000
    if not 0 < args.tail < args.events:
        parser.error("--tail must be between 0 and --events")
    products = load_instacart_products()[: 5_000 if args.quick else None]

    with EmbeddedBroker() as broker:
        settings = bench_settings(broker.url, partitions=4)
        app_id = f"{settings.catalog_topic}-app"
        settings = replace(settings, app_id=app_id)
        await publish(settings, products, [])
        print(f"catalog: {len(products):,} items; learning log: {args.events:,} events")
        await write_log_and_snapshot(settings, products, args.events, args.tail, args.customers)

        print("3. workers on that log (seconds from process start to every event learned)")
        first, added = WorkerProcess(settings, app_id), WorkerProcess(settings, app_id)
        rows = []
        try:
            rows.append(("first of a new group", timed_start(first, args.events, 600)))
            first.stop()
            first = WorkerProcess(settings, app_id)  # the same worker, a log file of its own
            rows.append(("the same worker restarted", timed_start(first, args.events, 600)))
            rows.append(("a worker added to the group", timed_start(added, args.events, 600)))
        finally:
            added.stop()
            first.stop()
        for name, row in rows:
            verdict = "meets" if row["learned"] <= TARGET_S else "misses"
            print(
                f"   {name:>28}: all learned {row['learned']:5.1f} s ({verdict} the"
                f" {TARGET_S:.0f} s target); /ready answers {row['answers']:4.1f} s, ready"
                f" {row['ready']:4.1f} s; the snapshot loaded in {row['restore']:4.1f} s"
            )

        full_s = await baseline(broker.url, products, args.replay_events, args.customers)
        per_event = full_s / args.replay_events
        restart = sorted(r["learned"] for _n, r in rows)[1]
        full = per_event * args.events
        print(
            f"4. baseline: a worker without snapshots learned all {args.replay_events:,} events"
            f" {full_s:.1f} s after its start = {per_event * 1e6:.0f} us/event (start-up"
            f" included) -> {full:.0f} s for {args.events:,} (linear); the median of the"
            f" three with the snapshot, {restart:.1f} s, is {restart / full:.3f}x that"
        )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
