"""Scale-out: two worker processes in one consumer group drain a backlog, against one worker.

The workload mix of benchmarks/workload.py (about 90% inventory signals, 10% feedback, real
Instacart catalog) is pre-filled on 4-partition topics of the embedded broker. Each round
starts one real `fillrate worker` in a fresh consumer group and times its drain of the whole
backlog, then two workers started a second apart in another fresh group, which share the
partitions.
The drain is timed from the first event consumed by any worker to the last, read from the
workers' input counters; each worker's share is printed, since partitions split by store.

    .venv/bin/python benchmarks/bench_scaleout.py            # 100,000 events, 3 rounds
    .venv/bin/python benchmarks/bench_scaleout.py --quick    # CI smoke: 3,000 events, 1 round

On a 2-core machine the two workers share those cores with the broker and this script, so the
ratio is bounded well below 2 by the hardware, not only by the partition split.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from contextlib import ExitStack

from aiokafka.partitioner import murmur2
from worker_process import WorkerProcess, bench_settings, publish, wait_consumed
from workload import make_events

from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings

TARGET_RATIO = 1.5


def drain(settings: Settings, n_workers: int, expect: int) -> tuple[float, list[float]]:
    """Seconds for ``n_workers`` fresh workers in one new group to consume ``expect`` events."""
    group = f"scale-{n_workers}-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:
        workers = []
        for i in range(n_workers):
            if i:
                # Not at the same instant: two fresh members joining Tansu 0.6.0's coordinator
                # together can loop in join/rejoin (see tests/streams/test_faults.py). A second
                # later both still join before either has loaded the catalog and consumes.
                time.sleep(1.0)
            workers.append(stack.enter_context(WorkerProcess(settings, group)))
        first, last = asyncio.run(
            wait_consumed(workers, expect, timeout=120 + expect / 300, poll=0.05)
        )
        return last - first, [w.events_in() for w in workers]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="3,000 events, one round")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 3000, 1
    sim, events = make_events(args.events, seed=7)
    per_partition = [0] * args.partitions
    for e in events:  # the default partitioner: murmur2 of the key (the store id)
        per_partition[(murmur2(e.store_id.encode()) & 0x7FFFFFFF) % args.partitions] += 1
    with EmbeddedBroker() as broker:
        settings = bench_settings(broker.url, args.partitions)
        print(f"pre-filling {len(events):,} events on {broker.url} ...", flush=True)
        asyncio.run(publish(settings, sim.catalog_events(), events))
        print(f"  events per partition (by store key): {per_partition}", flush=True)
        times: dict[int, list[float]] = {1: [], 2: []}
        for round_ in range(1, args.rounds + 1):
            for n_workers in (1, 2):
                seconds, counts = drain(settings, n_workers, len(events))
                times[n_workers].append(seconds)
                shares = " / ".join(f"{c / len(events):.0%}" for c in counts)
                print(
                    f"  round {round_}: {n_workers} worker{'s' if n_workers > 1 else ''} "
                    f"drained {len(events):,} events in {seconds:.2f} s "
                    f"({len(events) / seconds:,.0f} events/s; shares {shares})",
                    flush=True,
                )
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print()
    print(f"{'workers':>8}{'median drain s':>16}{'events/s':>10}{'speed-up':>10}")
    print(f"{1:>8}{one:>16.2f}{len(events) / one:>10,.0f}{1.0:>10.2f}")
    print(f"{2:>8}{two:>16.2f}{len(events) / two:>10,.0f}{one / two:>10.2f}")
    verdict = "met" if one / two >= TARGET_RATIO else "not met"
    print(f"target speed-up >= {TARGET_RATIO}x with two workers: {verdict}")


if __name__ == "__main__":
    main()
