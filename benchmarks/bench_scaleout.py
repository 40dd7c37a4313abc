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
ratio is bounded well below 2 by the hardware, not only by the partition split. Each drain
prints the CPU the broker, the workers together and the whole machine (anyone's work) used
meanwhile, in cores: a machine at all its cores cannot drain faster with more workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass

from aiokafka.partitioner import murmur2
from process_cpu import CpuTrace
from worker_process import WorkerProcess, bench_settings, publish, wait_consumed
from workload import make_events

from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings

TARGET_RATIO = 1.5


@dataclass
class Drain:
    """One drain: how long it took, each worker's share, and the CPU (in cores) the broker,
    the workers together and the whole machine used meanwhile (the broker shares the
    machine's cores with the workers; so does anyone else's work)."""

    seconds: float
    counts: list[float]
    broker_cores: float
    worker_cores: float
    machine_cores: float


def drain(settings: Settings, n_workers: int, expect: int, broker_pid: int | None) -> Drain:
    """``n_workers`` fresh workers in one new group consume ``expect`` events."""
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
        machine = stack.enter_context(CpuTrace.of_machine())
        broker = None if broker_pid is None else stack.enter_context(CpuTrace(broker_pid))
        each = [stack.enter_context(CpuTrace(w.proc.pid)) for w in workers if w.proc]
        first, last = asyncio.run(
            wait_consumed(workers, expect, timeout=120 + expect / 300, poll=0.05)
        )
        seconds = last - first

        def cores(trace: CpuTrace) -> float:
            return trace.used(first, last) / seconds

        return Drain(
            seconds,
            [w.events_in() for w in workers],
            float("nan") if broker is None else cores(broker),
            sum(map(cores, each)),
            cores(machine),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--linear",
        action="store_true",
        help="workers without the interaction weights (the interactions setting off)",
    )
    parser.add_argument("--quick", action="store_true", help="3,000 events, one round")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 3000, 1
    sim, events = make_events(args.events, seed=7)
    per_partition = [0] * args.partitions
    for e in events:  # the default partitioner: murmur2 of the key (the store id)
        per_partition[(murmur2(e.store_id.encode()) & 0x7FFFFFFF) % args.partitions] += 1
    with EmbeddedBroker() as broker:
        settings = bench_settings(broker.url, args.partitions, interactions=not args.linear)
        print(f"pre-filling {len(events):,} events on {broker.url} ...", flush=True)
        asyncio.run(publish(settings, sim.catalog_events(), events))
        print(f"  events per partition (by store key): {per_partition}", flush=True)
        drains: dict[int, list[Drain]] = {1: [], 2: []}
        for round_ in range(1, args.rounds + 1):
            for n_workers in (1, 2):
                d = drain(settings, n_workers, len(events), broker.pid)
                drains[n_workers].append(d)
                shares = " / ".join(f"{c / len(events):.0%}" for c in d.counts)
                print(
                    f"  round {round_}: {n_workers} worker{'s' if n_workers > 1 else ''} "
                    f"drained {len(events):,} events in {d.seconds:.2f} s "
                    f"({len(events) / d.seconds:,.0f} events/s; shares {shares}); CPU in cores:"
                    f" broker {d.broker_cores:.2f}, workers {d.worker_cores:.2f}, the machine"
                    f" {d.machine_cores:.2f} of {os.cpu_count()}",
                    flush=True,
                )
    one = statistics.median(d.seconds for d in drains[1])
    print()
    print(
        f"{'workers':>8}{'median drain s':>16}{'events/s':>10}{'speed-up':>10}"
        f"{'broker cores':>14}{'worker cores':>14}{'machine cores':>15}"
    )
    for n_workers, rows in drains.items():
        seconds = statistics.median(d.seconds for d in rows)
        print(
            f"{n_workers:>8}{seconds:>16.2f}{len(events) / seconds:>10,.0f}{one / seconds:>10.2f}"
            f"{statistics.median(d.broker_cores for d in rows):>14.2f}"
            f"{statistics.median(d.worker_cores for d in rows):>14.2f}"
            f"{statistics.median(d.machine_cores for d in rows):>15.2f}"
        )
    two = statistics.median(d.seconds for d in drains[2])
    verdict = "met" if one / two >= TARGET_RATIO else "not met"
    print(f"target speed-up >= {TARGET_RATIO}x with two workers: {verdict}")


if __name__ == "__main__":
    main()
