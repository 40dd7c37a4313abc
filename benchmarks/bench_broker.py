"""What the embedded broker costs as its topics grow: Tansu's CPU for the same live traffic.

The latency runs (bench_latency.py) showed the broker's CPU rising from about 60% to 100% of a
core at the *same* paced load once a few hundred thousand messages were stored, while the
worker's own CPU fell: the worker was waiting on the broker. This isolates that: one topic (4
partitions) pre-filled with a backlog, then a producer at about 1,000 messages/s and a consumer
following the end, both plain aiokafka, and Tansu's CPU share over those seconds (from
/proc). The first row, an empty topic, is the baseline of the ratios.

    .venv/bin/python benchmarks/bench_broker.py            # backlogs 0, 200,000, 600,000
    .venv/bin/python benchmarks/bench_broker.py --quick    # CI smoke: 0 and 20,000, 2 s each
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from process_cpu import cpu_seconds

from streams.embedded_broker import EmbeddedBroker

TOPIC, PARTITIONS, VALUE = "bench-broker", 4, b"x" * 150


async def follow(
    bootstrap: str, pid: int, producer: AIOKafkaProducer, seconds: float, rate: float
) -> tuple[float, int, int]:
    """Produce at ``rate`` while a consumer follows the end: (broker CPU share, sent, read)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=10)
    await consumer.start()
    tps = [TopicPartition(TOPIC, i) for i in range(PARTITIONS)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:  # resolve the end now, not at the first fetch
        await consumer.position(tp)
    read = 0

    async def reader() -> None:
        nonlocal read
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            read += sum(len(records) for records in batches.values())

    task = asyncio.create_task(reader())
    started, cpu_before, sent = time.monotonic(), cpu_seconds(pid), 0
    try:
        while time.monotonic() - started < seconds:
            for _ in range(10):
                await producer.send(TOPIC, VALUE, key=str(sent).encode())
                sent += 1
            await asyncio.sleep(10 / rate)
        await producer.flush()
        deadline = time.monotonic() + 10
        while read < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        share = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started)
    finally:
        task.cancel()
        await consumer.stop()
    return share, sent, read


async def run(backlogs: list[int], seconds: float, rate: float) -> None:
    with EmbeddedBroker() as broker:
        assert broker.pid is not None
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=2)
        await producer.start()
        stored, rows = 0, []
        try:
            for backlog in backlogs:
                print(f"filling to {backlog:,} messages ...", flush=True)
                while stored < backlog:
                    await producer.send(TOPIC, VALUE, key=str(stored).encode())
                    stored += 1
                await producer.flush()
                await asyncio.sleep(1.0)
                share, sent, read = await follow(
                    broker.bootstrap_servers, broker.pid, producer, seconds, rate
                )
                stored += sent
                rows.append((backlog, share, sent, read))
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="live traffic per backlog")
    parser.add_argument("--rate", type=float, default=1000.0, help="live messages/s")
    parser.add_argument("--quick", action="store_true", help="backlogs 0 and 20,000, 2 s each")
    args = parser.parse_args()
    if args.quick:
        asyncio.run(run([0, 20_000], 2.0, args.rate))
    else:
        asyncio.run(run([0, 200_000, 600_000], args.seconds, args.rate))


if __name__ == "__main__":
    main()
