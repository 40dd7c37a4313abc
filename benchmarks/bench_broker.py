"""What the embedded broker costs as its topics grow: Tansu's CPU for the same live traffic.

The latency runs (bench_latency.py) showed the broker's CPU rising from about 60% to 100% of a
core at the *same* paced load once a few hundred thousand messages were stored, while the
worker's own CPU fell: the worker was waiting on the broker. This isolates that: one topic (4
partitions) pre-filled with a backlog, then a producer at about 1,000 messages/s and a consumer
following the end, both plain aiokafka, and Tansu's CPU share over those seconds (from
/proc). The first row, an empty topic, is the baseline of the ratios.

Then, at the largest backlog, the same live traffic once per consumer fetch wait
(``--fetch-waits``): the broker's CPU and the produce-to-consume latency of each message. Tansu
answers a fetch when its wait runs out, so the wait sets how many fetches the follower makes,
and on a full topic each fetch that returns data costs the broker more.

    .venv/bin/python benchmarks/bench_broker.py            # backlogs 0, 200,000, 600,000
    .venv/bin/python benchmarks/bench_broker.py --quick    # CI smoke: 0 and 20,000, 2 s each
"""

from __future__ import annotations

import argparse
import asyncio
import math
import struct
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from percentiles import percentile
from process_cpu import cpu_seconds

from streams.embedded_broker import EmbeddedBroker

TOPIC, PARTITIONS, PAD = "bench-broker", 4, b"x" * 142
STAMP = struct.Struct("<d")  # each value starts with its send time: 150 bytes in all


async def follow(
    bootstrap: str,
    pid: int,
    producer: AIOKafkaProducer,
    seconds: float,
    rate: float,
    wait_ms: int = 10,
) -> tuple[float, int, list[float]]:
    """Produce at ``rate`` while a consumer follows the end.

    Returns the broker's CPU share, the messages sent and each read message's latency (s).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=wait_ms
    )
    await consumer.start()
    tps = [TopicPartition(TOPIC, i) for i in range(PARTITIONS)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:  # resolve the end now, not at the first fetch
        await consumer.position(tp)
    latencies: list[float] = []

    async def reader() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                latencies.extend(now - STAMP.unpack_from(r.value or b"")[0] for r in records)

    task = asyncio.create_task(reader())
    started, cpu_before, sent = time.monotonic(), cpu_seconds(pid), 0
    try:
        while time.monotonic() - started < seconds:
            for _ in range(10):
                value = STAMP.pack(time.time()) + PAD
                await producer.send(TOPIC, value, key=str(sent).encode())
                sent += 1
            await asyncio.sleep(10 / rate)
        await producer.flush()
        deadline = time.monotonic() + 10
        while len(latencies) < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        share = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
    finally:
        task.cancel()
        await consumer.stop()
    return share, sent, latencies


async def run(backlogs: list[int], seconds: float, rate: float, waits: list[int]) -> None:
    with EmbeddedBroker() as broker:
        assert broker.pid is not None
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=2)
        await producer.start()
        stored, rows, sweep = 0, [], []
        try:
            for backlog in backlogs:
                print(f"filling to {backlog:,} messages ...", flush=True)
                while stored < backlog:
                    await producer.send(TOPIC, STAMP.pack(0.0) + PAD, key=str(stored).encode())
                    stored += 1
                await producer.flush()
                await asyncio.sleep(1.0)
                share, sent, latencies = await follow(
                    broker.bootstrap_servers, broker.pid, producer, seconds, rate
                )
                stored += sent
                rows.append((backlog, share, sent, len(latencies)))
            for wait in waits:
                print(f"following {stored:,} stored messages with a {wait} ms fetch wait ...")
                await asyncio.sleep(1.0)
                share, sent, latencies = await follow(
                    broker.bootstrap_servers, broker.pid, producer, seconds, rate, wait
                )
                stored += sent
                sweep.append((wait, share, sent, latencies))
        finally:
            await producer.stop()
    base = rows[0][1]
    print()
    header = ("stored messages", "live msgs/s", "read/sent", "broker CPU", "vs empty")
    print("{:>16} {:>12} {:>9} {:>11} {:>9}".format(*header))
    for backlog, share, sent, read in rows:
        ratio = f"{share / base:.2f}" if base > 0 else "-"
        print(
            f"{backlog:>16,} {sent / seconds:>12,.0f} {read / max(sent, 1):>9.0%}"
            f" {share:>10.0%} {ratio:>9}"
        )
    if sweep:
        print()
        print(f"at about {backlogs[-1]:,} stored messages, by the follower's fetch wait:")
        columns = ("fetch wait ms", "live msgs/s", "read/sent", "broker CPU", "p50 ms", "p99 ms")
        print("{:>14} {:>12} {:>9} {:>11} {:>8} {:>8}".format(*columns))
        for wait, share, sent, latencies in sweep:
            p50, p99 = (1e3 * percentile(latencies, q) if latencies else math.nan for q in (50, 99))
            print(
                f"{wait:>14} {sent / seconds:>12,.0f} {len(latencies) / max(sent, 1):>9.0%}"
                f" {share:>10.0%} {p50:>8.1f} {p99:>8.1f}"
            )


def fetch_waits(text: str) -> list[int]:
    """``--fetch-waits``: positive milliseconds, comma-separated."""
    try:
        waits = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole milliseconds: {text!r}") from None
    if not waits or min(waits) < 1:
        raise argparse.ArgumentTypeError(f"fetch waits must be >= 1 ms, got {text!r}")
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="live traffic per backlog")
    parser.add_argument("--rate", type=float, default=1000.0, help="live messages/s")
    parser.add_argument(
        "--fetch-waits",
        type=fetch_waits,
        default=[10, 25, 50, 100, 500],
        help="fetch waits (ms, comma-separated) to compare at the largest backlog",
    )
    parser.add_argument("--quick", action="store_true", help="backlogs 0 and 20,000, 2 s each")
    args = parser.parse_args()
    waits = args.fetch_waits
    if args.quick:
        asyncio.run(run([0, 20_000], 2.0, args.rate, waits[:2]))
    else:
        asyncio.run(run([0, 200_000, 600_000], args.seconds, args.rate, waits))


if __name__ == "__main__":
    main()
