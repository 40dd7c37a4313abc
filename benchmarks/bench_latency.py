"""Latency from a stock-out signal being produced to its ranking being consumed, under load.

One real `fillrate worker` process on the embedded broker. First its maximum sustained rate:
a burst of events is produced as fast as possible and the drain rate is read from the worker's
input counter, as bench_throughput.py does (median of the rounds). Then the realistic mix of
benchmarks/workload.py (about 90% inventory signals, 10% feedback, the same simulated stream
continued) is produced at a paced 25%, 50% and 90% of that rate, for a fixed time per load.

Every signal is tagged by its (store_id, item_id, ts), which the worker carries into the
ranking it causes as (store_id, item_id, source_ts). A consumer in this process reads the
rankings topic; for each `stock_out` ranking, the latency is the time it was received here
minus the time its signal was handed to the producer (same process, same clock). So it covers
producing, the broker, the worker's fetch, decode, state update, ranking, publishing, the broker
again and our fetch.

    .venv/bin/python benchmarks/bench_latency.py           # 3 rounds of 20 s per load
    .venv/bin/python benchmarks/bench_latency.py --quick   # CI smoke: 1 round of 2 s per load

Faust creates the worker's consumer with a fixed 1.5 s fetch wait, and the embedded Tansu
broker holds an empty fetch for that long even when data arrives meanwhile; the worker replaces
it with its ``fetch_wait_ms`` setting (default 40 ms, streams/faust_internals.py). As a baseline
the same measurement is repeated, in the same run and on the same stream, with the worker set
back to Faust's 1,500 ms (``--baseline-fetch-wait-ms 0`` skips it).

The worker's own part is read from its ``fillrate_worker_latency_seconds{output="ranking"}``
histogram (from the fetch response holding a message reaching its consumer to the ranking
being handed to its producer), taken before and after each load: p50 and p99 as PromQL's
histogram_quantile interpolates them, against the target of p99 under 5 ms at half the maximum
rate. Beside it, the p99 of ``fillrate_event_loop_lag_seconds`` (how late a 10 ms sleep woke
up): a message waits at least as long as whatever holds the worker's event loop; the p50 and
p99 of ``fillrate_fetch_records``, the records in each fetch its consumer handed over: a
fetch's records are processed in order, so the last of a large fetch waits for all before it;
and the model-update
re-rankings it published a second (``fillrate_rankings_out_total{trigger="model_update"}``):
the freshness the load leaves room for, since those passes step aside for fetched records.
Learning steps aside too (streams/learning_log.py), so each round also says how many records
of the learning log the worker had still to learn a second after it caught up
(``fillrate_learning_lag``): a load that learning cannot keep up with shows there.

Where the worker runs: on a machine with two or more cores the worker gets one of its own and
the broker and this process (the load, the rankings' consumer) the others, as a worker in
production has its CPU to itself rather than sharing it with its broker. Sharing two cores, the
worker's event loop waits, runnable, for a core 13-15% of the time at these loads, a few
milliseconds at a time, which is the machine's doing, not the worker's; ``--shared-cores``
measures it that way all the same. Either way the table's last column says how much of the time
the worker's event-loop thread waited for a core (/proc/<pid>/schedstat).

p50 and p99 are medians over rounds of each round's percentile; p99.9 needs more samples than
one round gives, so it is taken over the rankings of all rounds together.

    .venv/bin/python benchmarks/bench_latency.py --shared-cores   # all three on every core
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import statistics
import time
import uuid
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from percentiles import percentile
from process_cpu import cpu_seconds, pin_process, run_queue_seconds, split_cores
from worker_process import WorkerProcess, bench_settings, publish, wait_consumed
from workload import encode, make_events

from online_learning.contract import InventorySignal, Product
from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings

LEVELS = (0.25, 0.50, 0.90)
TARGET_P99_MS = 50.0  # the target: p99 under 50 ms at half the maximum sustained rate
TARGET_OWN_P99_MS = 5.0  # the worker's own part: p99 under 5 ms there

CATCH_UP_S = 180.0  # a load the worker has not caught up with by then is beyond its capacity

SignalKey = tuple[str, str, float]


class CpuShare:
    """Share of one core the broker and the worker used since the last call, and the share of
    that time the worker's main thread (its event loop) waited, runnable, for a core."""

    def __init__(self, broker_pid: int | None, worker_pid: int | None) -> None:
        self.pids = (broker_pid, worker_pid)
        self.worker_waited = 0.0  # of the wall time up to the last take()
        self._mark = self._now()

    def _now(self) -> tuple[float, float, float, float]:
        broker, worker = self.pids
        return (
            time.monotonic(),
            cpu_seconds(broker),
            cpu_seconds(worker),
            run_queue_seconds(worker),
        )

    def take(self) -> str:
        now = self._now()
        wall = max(now[0] - self._mark[0], 1e-6)
        broker, worker, waited = ((now[i] - self._mark[i]) / wall for i in (1, 2, 3))
        self._mark = now
        self.worker_waited = waited
        return (
            f"CPU: broker {broker:.0%}, worker {worker:.0%} of a core; the worker's event loop"
            f" waited for a core {waited:.1%} of the time"
        )


class RankingWatcher:
    """Reads the rankings topic; matches each stock_out ranking to the signal that caused it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sent: dict[SignalKey, float] = {}  # tagged signals of the current load: send time
        self.latencies: list[float] = []
        self.rankings = 0
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=10,  # bounds what an idle fetch adds to a measured latency
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        topic = self.settings.rankings_topic
        tps = [
            TopicPartition(topic, p)
            for p in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            received = time.time()
            for records in batches.values():
                for record in records:
                    if record.value is None:  # a retired ranking's tombstone
                        continue
                    self.rankings += 1
                    ranking = orjson.loads(record.value)
                    if ranking["trigger"] != "stock_out":
                        continue
                    key = (ranking["store_id"], ranking["item_id"], ranking["source_ts"])
                    sent = self.sent.pop(key, None)
                    if sent is not None:
                        self.latencies.append(received - sent)

    def take(self) -> list[float]:
        """The latencies matched since the last call; forgets unmatched signals."""
        out, self.latencies = self.latencies, []
        self.sent.clear()
        return out

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def paced(
    producer: AIOKafkaProducer,
    settings: Settings,
    chunk: list[tuple[str, bytes, bytes, SignalKey | None]],
    rate: float,
    sent: dict[SignalKey, float],
) -> tuple[float, float]:
    """Produce ``chunk`` at ``rate`` events/s on a fixed schedule; returns (first, last) send."""
    start = time.time()
    first = last = start
    for i, (topic, key, value, tag) in enumerate(chunk):
        due = start + i / rate
        now = time.time()
        if due > now:
            await asyncio.sleep(due - now)
        last = time.time()
        if tag is not None:
            sent[tag] = last
        await producer.send(getattr(settings, topic), key=key, value=value)
    return first, last


# per load: (sent/s, catch-up s, end-to-end latencies, the worker's own p50 and p99, its event
# loop's p99 lag (in s), the share of its own latencies within the target, the model-update
# re-rankings it published per second, and the share of the time its event loop's thread
# waited for a core)
Own = tuple[float, float, float, float, float, float, float, float]
Results = dict[float, list[tuple[float, float, list[float], Own]]]
OWN = "fillrate_worker_latency_seconds_bucket"
LOOP_LAG = "fillrate_event_loop_lag_seconds_bucket"
FETCH_RECORDS = "fillrate_fetch_records_bucket"
RANKINGS_OUT = "fillrate_rankings_out_total"
LEARNING_LAG = "fillrate_learning_lag"


@dataclass(frozen=True, slots=True)
class Reading:
    """What the worker's metrics said at one moment: its own-latency histogram for rankings
    and its event-loop lag histogram (cumulative count per upper bound), how many
    model-update re-rankings it had published, and how many records of the learning log it
    had still to learn (its gauge, updated every second)."""

    own: dict[float, float]
    loop_lag: dict[float, float]
    fetch_records: dict[float, float]
    model_update_rankings: float
    learning_lag: float


def read_metrics(worker: WorkerProcess) -> Reading:
    own: dict[float, float] = {}
    loop_lag: dict[float, float] = {}
    fetch_records: dict[float, float] = {}
    model_update = learning_lag = 0.0
    for sample in worker.metrics():
        if sample.name == OWN and sample.labels.get("output") == "ranking":
            own[float(sample.labels["le"])] = sample.value
        elif sample.name == LOOP_LAG:
            loop_lag[float(sample.labels["le"])] = sample.value
        elif sample.name == FETCH_RECORDS:
            fetch_records[float(sample.labels["le"])] = sample.value
        elif sample.name == RANKINGS_OUT and sample.labels.get("trigger") == "model_update":
            model_update = sample.value
        elif sample.name == LEARNING_LAG:
            learning_lag = sample.value
    return Reading(own, loop_lag, fetch_records, model_update, learning_lag)


def histogram_quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """The q-quantile of what a cumulative histogram gained between two readings, interpolated
    within a bucket as PromQL's histogram_quantile does (nan without observations).

    >>> histogram_quantile(0.5, {}, {0.001: 2.0, 0.01: 4.0, float("inf"): 4.0})
    0.001
    """
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def share_within(bound: float, before: dict[float, float], after: dict[float, float]) -> float:
    """The share of what a cumulative histogram gained between two readings that was at most
    ``bound`` (one of its bucket bounds; nan without observations).

    >>> share_within(0.005, {}, {0.005: 3.0, 0.01: 4.0, float("inf"): 4.0})
    0.75
    """
    total = after[math.inf] - before.get(math.inf, 0.0)
    if total <= 0:
        return math.nan
    return (after[bound] - before.get(bound, 0.0)) / total


async def measure(
    broker_url: str,
    broker_pid: int | None,
    catalog: list[Product],
    stream: list[tuple[str, bytes, bytes, SignalKey | None]],
    fetch_wait_ms: int | None,
    args: argparse.Namespace,
    worker_cores: set[int] | None,
) -> tuple[float, Results]:
    """One worker on fresh topics: its maximum sustained rate, then the paced loads.
    ``worker_cores``: the cores the worker runs on (None: wherever the scheduler puts it)."""
    settings = bench_settings(broker_url, partitions=4, batch_wait_ms=args.batch_wait_ms)
    await publish(settings, catalog, [])
    worker = WorkerProcess(settings, f"lat-{uuid.uuid4().hex[:8]}", fetch_wait_ms).start()
    if worker_cores is not None and worker.proc is not None:
        pin_process(worker.proc.pid, worker_cores)  # before it starts its threads
    watcher = RankingWatcher(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=1)
    try:
        await asyncio.to_thread(worker.wait_ready)
        if worker_cores is not None and worker.proc is not None:
            pin_process(worker.proc.pid, worker_cores)  # and any started before it was pinned
        await producer.start()
        await watcher.start()
        cursor = 0
        cpu = CpuShare(broker_pid, worker.proc.pid if worker.proc else None)

        # 1. The maximum sustained rate: bursts drained by the worker.
        max_rates = []
        for round_ in range(1, args.rounds + 1):
            chunk = stream[cursor : cursor + args.burst]
            cursor += len(chunk)
            waiting = asyncio.create_task(wait_consumed([worker], cursor, 60 + len(chunk) / 200))
            await asyncio.sleep(0.1)  # the poller has its baseline before the burst starts
            for topic, key, value, _tag in chunk:
                await producer.send(getattr(settings, topic), key=key, value=value)
            await producer.flush()
            cpu.take()
            first, last = await waiting
            max_rates.append(len(chunk) / max(last - first, 1e-6))
            print(
                f"  round {round_}: drained {len(chunk):,} events at {max_rates[-1]:,.0f} events/s"
                f" ({cpu.take()})",
                flush=True,
            )
            watcher.take()
        max_rate = statistics.median(max_rates)
        print(f"  maximum sustained rate (median): {max_rate:,.0f} events/s", flush=True)
        if max_rate > args.rate_cap:
            print(f"  (paced loads capped at --rate-cap {args.rate_cap:,.0f} events/s)")

        # 2. Paced loads, interleaved by round so drift on the machine hits every level.
        results: Results = {f: [] for f in LEVELS}
        for round_ in range(1, args.rounds + 1):
            for level in LEVELS:
                rate = level * min(max_rate, args.rate_cap)
                chunk = stream[cursor : cursor + int(rate * args.seconds)]
                cursor += len(chunk)
                before = await asyncio.to_thread(read_metrics, worker)
                cpu.take()
                first, last = await paced(producer, settings, chunk, rate, watcher.sent)
                cpu_used = cpu.take()  # while the load was sent
                await producer.flush()
                try:
                    _, caught_up = await wait_consumed([worker], cursor, CATCH_UP_S)
                except TimeoutError:
                    caught_up = math.inf
                # rankings still on their way to us; the learning-lag gauge updated
                await asyncio.sleep(1.1)
                latencies = watcher.take()
                achieved = len(chunk) / max(last - first, 1e-6)
                catch_up = max(0.0, caught_up - last)
                after = await asyncio.to_thread(read_metrics, worker)
                own = (
                    histogram_quantile(0.5, before.own, after.own),
                    histogram_quantile(0.99, before.own, after.own),
                    histogram_quantile(0.99, before.loop_lag, after.loop_lag),
                    share_within(TARGET_OWN_P99_MS / 1e3, before.own, after.own),
                    (after.model_update_rankings - before.model_update_rankings)
                    / max(last - first, 1e-6),
                    cpu.worker_waited,
                    histogram_quantile(0.5, before.fetch_records, after.fetch_records),
                    histogram_quantile(0.99, before.fetch_records, after.fetch_records),
                )
                results[level].append((achieved, catch_up, latencies, own))
                summary = (
                    f"p50 {percentile(latencies, 50) * 1e3:.1f} ms, "
                    f"p99 {percentile(latencies, 99) * 1e3:.1f} ms"
                    if latencies
                    else "no stock-out rankings matched"
                )
                print(
                    f"  round {round_}: {level:.0%} load, {achieved:,.0f} events/s sent, "
                    f"{len(latencies):,} stock-out rankings, {summary} (the worker's own: "
                    f"p50 {own[0] * 1e3:.2f} ms, p99 {own[1] * 1e3:.2f} ms, "
                    f"{own[3]:.1%} within {TARGET_OWN_P99_MS:.0f} ms; its event loop's "
                    f"lag p99 {own[2] * 1e3:.2f} ms; records per fetch p50 {own[6]:.0f}, p99"
                    f" {own[7]:.0f}; {own[4]:,.0f} model-update re-rankings/s), "
                    f"caught up {catch_up_cell(catch_up)} s after the last send, "
                    f"{after.learning_lag:,.0f} records of the learning log still to learn"
                    f" a second later; {cpu_used}",
                    flush=True,
                )
                if math.isinf(catch_up):
                    print(f"  the worker fell behind for good: stopping at {level:.0%} load")
                    return max_rate, results
        return max_rate, results
    finally:
        await watcher.stop()
        await producer.stop()
        worker.stop()


def catch_up_cell(seconds: float) -> str:
    return f">{CATCH_UP_S:.0f}" if math.isinf(seconds) else f"{seconds:.2f}"


def report(name: str, max_rate: float, results: Results, rate_cap: float) -> None:
    print()
    print(f"{name}: maximum sustained rate {max_rate:,.0f} events/s")
    print(
        f"{'load':>5}{'events/s':>10}{'sent/s':>10}{'rankings':>10}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'catch-up s':>12}"
        f"{'own p50 ms':>12}{'own p99 ms':>12}{'own <= 5 ms':>13}{'loop lag p99 ms':>17}"
        f"{'re-ranks/s':>12}{'waited for a core':>19}{'fetch p50':>11}{'fetch p99':>11}"
    )
    p99_at_half = own_p99_at_half = math.nan
    for level, rounds in results.items():
        pooled = [x for _, _, lat, _ in rounds for x in lat]
        per_round = [lat for _, _, lat, _ in rounds if lat]
        if not per_round:
            print(f"{level:>5.0%}  no stock-out rankings matched")
            continue
        p50 = statistics.median(percentile(lat, 50) for lat in per_round) * 1e3
        p99 = statistics.median(percentile(lat, 99) for lat in per_round) * 1e3
        p999 = percentile(pooled, 99.9) * 1e3
        if level == 0.5:
            p99_at_half = p99
        print(
            f"{level:>5.0%}{level * min(max_rate, rate_cap):>10,.0f}"
            f"{statistics.median(a for a, _, _, _ in rounds):>10,.0f}{len(pooled):>10,}"
            f"{p50:>9.1f}{p99:>9.1f}{p999:>10.1f}"
            f"{catch_up_cell(statistics.median(c for _, c, _, _ in rounds)):>12}"
            f"{statistics.median(o[0] for *_, o in rounds) * 1e3:>12.2f}"
            f"{statistics.median(o[1] for *_, o in rounds) * 1e3:>12.2f}"
            f"{statistics.median(o[3] for *_, o in rounds):>13.1%}"
            f"{statistics.median(o[2] for *_, o in rounds) * 1e3:>17.2f}"
            f"{statistics.median(o[4] for *_, o in rounds):>12,.0f}"
            f"{statistics.median(o[5] for *_, o in rounds):>19.1%}"
            f"{statistics.median(o[6] for *_, o in rounds):>11.0f}"
            f"{statistics.median(o[7] for *_, o in rounds):>11.0f}"
        )
        if level == 0.5:
            own_p99_at_half = statistics.median(o[1] for *_, o in rounds) * 1e3
    verdict = "met" if p99_at_half < TARGET_P99_MS else "not met"
    print(f"target p99 < {TARGET_P99_MS:.0f} ms at 50% of the maximum rate: {verdict}")
    verdict = "met" if own_p99_at_half < TARGET_OWN_P99_MS else "not met"
    print(
        f"target: the worker's own p99 < {TARGET_OWN_P99_MS:.0f} ms at 50% of the maximum"
        f" rate: {verdict} ({own_p99_at_half:.2f} ms)"
    )


async def run(args: argparse.Namespace) -> None:
    n_events = args.burst * args.rounds + math.ceil(
        args.rounds * args.seconds * sum(LEVELS) * args.rate_cap
    )
    print(f"generating {n_events:,} events of the workload mix ...", flush=True)
    sim, events = make_events(n_events, seed=7)
    stream = [
        (*encode(e), (e.store_id, e.item_id, e.ts) if isinstance(e, InventorySignal) else None)
        for e in events
    ]
    catalog = sim.catalog_events()
    shipped = Settings.load({"broker": "kafka://localhost:9092"}, environ={})
    label = (
        "worker as shipped"
        if args.batch_wait_ms == shipped.batch_wait_ms
        else f"worker with a {args.batch_wait_ms:g} ms batch wait"
    )
    configs: list[tuple[str, int | None]] = [
        (f"{label} (fetch wait {shipped.fetch_wait_ms} ms)", None)
    ]
    if args.baseline_fetch_wait_ms:
        wait = args.baseline_fetch_wait_ms
        configs.append((f"baseline: the same worker with a {wait} ms fetch wait", wait))
    cores = None if args.shared_cores else split_cores()
    if cores is None:
        worker_cores = None
        print("the worker shares the machine's cores with the broker and this process")
    else:
        # The worker's own latency is what the worker itself adds: on cores shared with the
        # broker and the load, its event loop also waits, runnable, while they run (up to a
        # few ms at a time, docs/performance.md); production gives a worker its own CPU.
        worker_cores, rest = cores
        pin_process(os.getpid(), rest)  # the broker, started below, inherits this
        print(
            f"the worker on core {min(worker_cores)} of its own; the broker and this process on"
            f" {', '.join(map(str, sorted(rest)))} (--shared-cores: all on all)"
        )
    measured = []
    for name, fetch_wait_ms in configs:
        # A broker of its own: Tansu keeps every message in memory, and the second worker
        # should not share the broker with the first one's backlog and consumers.
        with EmbeddedBroker() as broker:
            print(f"{name}, on {broker.url}:", flush=True)
            measured.append(
                (
                    name,
                    *await measure(
                        broker.url, broker.pid, catalog, stream, fetch_wait_ms, args, worker_cores
                    ),
                )
            )
        report(*measured[-1], args.rate_cap)
    if len(measured) > 1:  # all tables together at the end, for copying
        for name, max_rate, results in measured:
            report(name, max_rate, results, args.rate_cap)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="paced time per load")
    parser.add_argument("--burst", type=int, default=40_000, help="events per max-rate burst")
    parser.add_argument(
        "--rate-cap", type=float, default=6000.0, help="events generated for at most this rate"
    )
    parser.add_argument(
        "--baseline-fetch-wait-ms",
        type=int,
        default=1500,
        help="also run a worker with this fetch wait, Faust's own (0: only the shipped worker)",
    )
    parser.add_argument(
        "--batch-wait-ms",
        type=float,
        default=Settings.load({}, environ={}).batch_wait_ms,
        help="the workers' batch_wait_ms setting (default: the shipped one)",
    )
    parser.add_argument(
        "--shared-cores",
        action="store_true",
        help="run the worker on the same cores as the broker and the load (default: on a core"
        " of its own, the rest on the others, when the machine has two or more)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 2 s per load, the shipped worker only"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds, args.burst, args.baseline_fetch_wait_ms = 1, 2.0, 3000, 0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
