"""Baseline (a) for bench_throughput.py: a plain Faust agent that only consumes.

Run by the benchmarks as a child process; prints one JSON line with the first and last event
times once it has seen ``--expect`` events. Same broker settings as the fillrate worker.

    python benchmarks/faust_consume_baseline.py --broker kafka://HOST:PORT --topics a,b \
        --expect N --app-id ID --web-port PORT

``--topology`` and ``--write-back`` add, one at a time, what the fillrate worker has on top of
a plain agent but without any of its work (no decoding, no engine): bench_faust_floor.py uses
them to measure what Faust costs per event with the worker's shape.

- ``--topology``: one agent per topic with the worker's batches (``take_batches``: at most
  500, handed over once the fetch is in, at most ``--batch-wait-ms`` after their first, 5 ms
  while the consumer is behind), the worker's 40 ms fetch wait, the web server, a 2 s timer
  and two plain aiokafka readers of ``--idle-topic`` (the worker's catalog and learning-log
  readers); the agents start once the readers caught up, as the worker's wait for its
  catalog and model.
  Messages are delivered to the agents as the worker's consumer delivers them
  (``deliver_in_place``), or with ``--stock-delivery`` as Faust does (four tasks each).
- ``--write-back R``: R records of 100 bytes written per event consumed (the worker writes
  about 1.3: state changelog, learning log, rankings), as one record batch per partition per
  agent batch (``streams/batch_produce.py``, as the worker does), or with one
  ``producer.send`` each with ``--send-each``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.sensors import Monitor

from streams.batch_produce import Record, send_records
from streams.faust_internals import (
    DeliveryMonitor,
    NoSpinnerWorker,
    deliver_in_place,
    producer_of,
    set_fetch_wait,
    stamp_delivery,
    take_batches,
)
from streams.settings import BACKLOG_BATCH_WAIT_MS

WRITE_PARTITIONS = 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topics", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--topology", action="store_true")
    parser.add_argument(
        "--stock-delivery",
        action="store_true",
        help="with --topology: Faust's own per-message delivery (wait_first), not the worker's",
    )
    parser.add_argument("--idle-topic", help="read by the two plain readers of --topology")
    parser.add_argument("--write-back", type=float, default=0.0, metavar="R")
    parser.add_argument("--send-each", action="store_true")
    parser.add_argument(
        "--batch-wait-ms", type=float, default=1.0, help="take_batches' wait, as the worker's"
    )
    args = parser.parse_args()
    if args.topology and not args.idle_topic:
        parser.error("--topology needs --idle-topic")
    if (args.write_back or args.send_each) and not args.topology:
        parser.error("--write-back and --send-each come on top of --topology")
    app = faust.App(
        args.app_id,
        broker=args.broker,
        store="memory://",
        autodiscover=False,
        web_enabled=args.topology,
        web_port=args.web_port,
        web_bind="127.0.0.1",
        datadir=tempfile.mkdtemp(prefix="faust-baseline-"),
        broker_rebalance_timeout=3.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_linger_ms=2,
        topic_partitions=WRITE_PARTITIONS,
        Monitor=DeliveryMonitor if args.topology else Monitor,
    )
    if args.topology:
        set_fetch_wait(app, 40)
        deliveries = stamp_delivery(app)  # as the worker: its batches end when a fetch is in
        if not args.stock_delivery:
            deliver_in_place(app)  # as the worker: no tasks per message delivered
    seen = {"n": 0, "first": 0.0, "owed": 0.0}
    written_to = f"{args.app_id}-written"
    pending: list[Record] = []
    value = b"x" * 100

    def producer() -> AIOKafkaProducer:
        return producer_of(app)

    def lost(*_: Any) -> None:
        raise SystemExit("a write-back batch was not delivered")

    async def on_event() -> None:
        if seen["n"] == 0:
            seen["first"] = time.time()
        seen["n"] += 1
        seen["owed"] += args.write_back
        while seen["owed"] >= 1.0:
            seen["owed"] -= 1.0
            if args.send_each:
                await app.producer.send(written_to, b"k", value, None, None, None)
            else:
                pending.append((b"k", value))
        if seen["n"] == args.expect:
            print(
                json.dumps({"first": seen["first"], "last": time.time(), "n": seen["n"]}),
                flush=True,
            )

    async def write_pending() -> None:
        for partition in range(WRITE_PARTITIONS):
            records = pending[partition::WRITE_PARTITIONS]
            if records:
                await send_records(producer(), written_to, partition, records, lost)
        pending.clear()

    names = args.topics.split(",")
    caught_up = asyncio.Event()
    if args.topology:
        for i, name in enumerate(names):

            async def agent(stream: faust.StreamT) -> None:
                await caught_up.wait()  # as the worker waits for its catalog and model
                wait = args.batch_wait_ms  # and longer while behind, as the worker's batches
                behind = max(BACKLOG_BATCH_WAIT_MS, wait) / 1e3
                async for batch in take_batches(stream, 500, wait / 1e3, deliveries, behind):
                    for _event in batch:
                        await on_event()
                    await write_pending()

            app.agent(
                app.topic(name, key_serializer="raw", value_serializer="raw"), name=f"agent-{i}"
            )(agent)

        async def read_forever(topic: str) -> None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=args.broker.removeprefix("kafka://"),
                group_id=None,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=50,
            )
            await consumer.start()
            try:
                parts = consumer.partitions_for_topic(topic) or {0}
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                end = await consumer.end_offsets(tps)
                while True:
                    await consumer.getmany(timeout_ms=100, max_records=5000)
                    if all([await consumer.position(tp) >= end[tp] for tp in tps]):
                        caught_up.set()
            finally:
                await consumer.stop()

        @app.task
        async def readers() -> None:
            await asyncio.gather(read_forever(args.idle_topic), read_forever(args.idle_topic))

        @app.timer(2.0)
        async def tick() -> None:
            return None

    else:
        topics = app.topic(*names, key_serializer="raw", value_serializer="raw")

        @app.agent(topics)
        async def consume(stream: faust.StreamT) -> None:
            async for _value in stream:
                await on_event()

    # as the fillrate worker runs: without Faust's spinner, which would set the root logger to
    # DEBUG (streams/faust_internals.py)
    worker = NoSpinnerWorker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
