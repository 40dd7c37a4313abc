"""Latency from a substitution request being produced to its reply being consumed, under load.

A shopper standing in the aisle waits for the reply, so this is the latency a user feels. One
real `fillrate worker` process on the embedded broker, with the real catalog and a few
thousand customers' preferences on ``customers.preferences`` (some pick their own substitutes
for an item, some want none for it, some state needs such as ``lactose_free``, most say
nothing). First the worker's maximum sustained rate on the benchmark mix
(benchmarks/workload.py: ~90% inventory signals, 10% feedback), from one burst as
bench_latency.py measures it. Then, for a fixed time per rate, the mix runs in the background at
a paced share of that rate while requests are produced at a paced 20, 100 and 300 per second
(rates interleaved over rounds, so drift on the machine hits every rate).

Every request is tagged by its (store_id, item_id, ts), which the worker carries into its reply
as (store_id, item_id, source_ts). A consumer in this process reads the replies topic; the
latency of a reply is the time it was received here minus the time its request was handed to
the producer (same process, same clock). The baseline is measured in the same periods, on the
same stream: the background's stock_out rankings, matched to their signals as bench_latency.py
does (signal to ranking). A reply costs one round trip more than a ranking: the worker writes
each batch of replies to its state changelog, on a producer of its own, and waits for the
broker's acknowledgement before it publishes them (streams/state_changelog.py,
streams/awaited_producer.py), so a request handled again after a crash gets the same reply.

The worker's own view is read from its /metrics before and after each period and printed per
rate (p50 and p99 interpolated within buckets, as PromQL's histogram_quantile does):
``fillrate_request_to_reply_latency_seconds`` (the request's Kafka timestamp to the reply
queued for publishing), and ``fillrate_worker_latency_seconds`` for replies and for rankings
(its consumer handing over the message to the output handed to the producer: no broker time,
except that a reply's includes the changelog round trip). The whole request-to-reply histogram
is printed at the end.

    .venv/bin/python benchmarks/bench_replies.py           # 3 rounds of 20 s per rate
    .venv/bin/python benchmarks/bench_replies.py --quick   # CI smoke: 1 round of 2 s per rate

p50 and p99 are medians over rounds of each round's percentile; p99.9 is over all rounds'
replies together, as in bench_latency.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import random
import statistics
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from bench_latency import CpuShare, RankingWatcher, SignalKey, histogram_quantile, paced
from percentiles import percentile
from worker_process import WorkerProcess, bench_settings, publish, wait_consumed
from workload import encode, make_events

from online_learning.contract import (
    CustomerNeeds,
    EventError,
    InventorySignal,
    ItemChoice,
    Product,
    SubstitutionRequest,
    encode_preference,
    encode_request,
)
from online_learning.contract.replies import decode_reply
from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings

RATES = (20.0, 100.0, 300.0)
HISTOGRAM = "fillrate_request_to_reply_latency_seconds"
OWN = "fillrate_worker_latency_seconds"
HISTOGRAMS = {  # what WorkerHistograms reads: our name -> (metric, labels)
    "request to reply": (HISTOGRAM, {}),
    "own, reply": (OWN, {"output": "reply"}),
    "own, ranking": (OWN, {"output": "ranking"}),
}
CATCH_UP_S = 120.0
NEEDS = ("lactose_free", "gluten_free", "vegan", "organic")

Tagged = tuple[str, bytes, bytes, SignalKey | None]  # as bench_latency.paced sends them


class ReplyWatcher:
    """Reads the replies topic; matches each reply to the request that caused it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sent: dict[SignalKey, float] = {}  # requests of the current period: send time
        self.latencies: list[float] = []
        self.kinds: collections.Counter[str] = collections.Counter()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=10,  # bounds what an idle fetch adds to a measured latency
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        topic = self.settings.replies_topic
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
                    try:
                        reply = decode_reply(record.value)
                    except EventError:
                        self.kinds["undecodable"] += 1
                        continue
                    sent = self.sent.pop((reply.store_id, reply.item_id, reply.source_ts), None)
                    if sent is None:
                        continue
                    self.latencies.append(received - sent)
                    if not reply.substitutes:
                        self.kinds[f"empty ({reply.reason})"] += 1
                    else:
                        self.kinds[f"first pick from the {reply.substitutes[0].source}"] += 1

    async def take(self, expected: int, timeout: float) -> list[float]:
        """The latencies matched since the last call, once ``expected`` replies came or
        ``timeout`` ran out; forgets unanswered requests."""
        deadline = time.monotonic() + timeout
        while len(self.latencies) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        out, self.latencies = self.latencies, []
        self.sent.clear()
        return out

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


class Customers:
    """Customers' preferences and the requests they make, from one seed.

    Each customer has a usual item (drawn from what the signals show shoppers buy). A tenth
    each: own picks for it (two items of its aisle), no substitute for it, or stated needs;
    the rest say nothing (best match). Half of a customer's requests are for the usual item.
    """

    def __init__(
        self, n_customers: int, catalog: list[Product], bought: list[tuple[str, str]], seed: int
    ) -> None:
        self.rng = random.Random(seed)
        self.bought = bought
        by_id = {p.item_id: p for p in catalog}
        by_aisle: dict[str, list[str]] = collections.defaultdict(list)
        for p in catalog:
            by_aisle[p.aisle].append(p.item_id)
        self.usual: list[tuple[str, str]] = []  # (customer_id, item_id)
        self.preferences: list[ItemChoice | CustomerNeeds] = []
        now = time.time()
        for i in range(n_customers):
            customer = f"cust-{i:05d}"
            item = self.rng.choice(bought)[1]
            self.usual.append((customer, item))
            kind = i % 10
            if kind == 0:
                aisle = [x for x in by_aisle[by_id[item].aisle] if x != item]
                picks = tuple(self.rng.sample(aisle, min(2, len(aisle))))
                self.preferences.append(ItemChoice(customer, item, "specific", picks, now))
            elif kind == 1:
                self.preferences.append(ItemChoice(customer, item, "no_substitute", (), now))
            elif kind == 2:
                self.preferences.append(CustomerNeeds(customer, frozenset({NEEDS[i % 4]}), now))
        self._n = 0
        self._base = round(now, 0)

    def requests(self, n: int) -> list[Tagged]:
        """``n`` requests, encoded and tagged; each tag (and so each reply's key) is unique."""
        out: list[Tagged] = []
        for _ in range(n):
            customer, usual = self.rng.choice(self.usual)
            store, bought = self.rng.choice(self.bought)
            item = usual if self.rng.random() < 0.5 else bought
            self._n += 1
            ts = self._base + self._n / 1000  # ms steps: exact through JSON, never repeated
            request = SubstitutionRequest(
                uuid.uuid4().hex, f"order-{self._n}", customer, store, item, ts
            )
            key, value = encode_request(request)
            out.append(("requests_topic", key, value, (store, item, ts)))
        return out


Buckets = dict[float, float]  # cumulative count by upper bound, as Prometheus exports them


class WorkerHistograms:
    """The worker's latency histograms of :data:`HISTOGRAMS`, from one reading of /metrics."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker

    async def read(self) -> dict[str, Buckets]:
        metrics = await asyncio.to_thread(self.worker.metrics)
        out: dict[str, Buckets] = {name: {} for name in HISTOGRAMS}
        for sample in metrics:
            for name, (metric, labels) in HISTOGRAMS.items():
                if sample.name == metric + "_bucket" and labels.items() <= sample.labels.items():
                    out[name][float(sample.labels["le"])] = sample.value
        return out

    @staticmethod
    def add(
        total: dict[str, Buckets], after: dict[str, Buckets], before: dict[str, Buckets]
    ) -> None:
        """Add to ``total`` what each histogram gained from ``before`` to ``after``."""
        for name, buckets in after.items():
            into = total.setdefault(name, {})
            for le, n in buckets.items():
                into[le] = into.get(le, 0.0) + n - before[name].get(le, 0.0)


Round = tuple[float, list[float], list[float]]  # requests/s sent, reply and ranking latencies
Results = dict[float, list[Round]]


async def measure(
    broker_url: str,
    broker_pid: int | None,
    catalog: list[Product],
    stream: list[Tagged],
    customers: Customers,
    args: argparse.Namespace,
) -> tuple[float, float, Results, dict[float, dict[str, Buckets]], Buckets]:
    """One worker on fresh topics: its maximum rate, then requests over a paced background.

    Returns the maximum rate, the background rate, the latencies by request rate, the
    worker's histograms by request rate, and its request-to-reply histogram at the end.
    """
    settings = bench_settings(broker_url, partitions=4)
    await publish(settings, catalog, [])
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=1)
    worker = WorkerProcess(settings, f"rep-{uuid.uuid4().hex[:8]}")
    rankings = RankingWatcher(settings)
    replies = ReplyWatcher(settings)
    histograms = WorkerHistograms(worker)
    try:
        await producer.start()
        for record in customers.preferences:  # there before the worker: it reads them whole
            key, value = encode_preference(record)
            await producer.send(settings.preferences_topic, key=key, value=value)
        await producer.flush()
        worker.start()
        await asyncio.to_thread(worker.wait_ready)
        await rankings.start()
        await replies.start()
        cpu = CpuShare(broker_pid, worker.proc.pid if worker.proc else None)

        # 1. The maximum sustained rate: one burst drained by the worker.
        chunk = stream[: args.burst]
        cursor = len(chunk)
        waiting = asyncio.create_task(wait_consumed([worker], cursor, 60 + len(chunk) / 200))
        await asyncio.sleep(0.1)  # the poller has its baseline before the burst starts
        for topic, key, value, _tag in chunk:
            await producer.send(getattr(settings, topic), key=key, value=value)
        await producer.flush()
        first, last = await waiting
        max_rate = len(chunk) / max(last - first, 1e-6)
        background = args.background or args.share * min(max_rate, args.rate_cap)
        share = "set" if args.background else f"{args.share:.0%} of it"
        print(
            f"  drained {len(chunk):,} events at {max_rate:,.0f} events/s ({cpu.take()});"
            f" background ({share}): {background:,.0f} events/s",
            flush=True,
        )
        rankings.take()

        async def period(rate: float, seconds: float) -> tuple[float, list[float], list[float]]:
            nonlocal cursor
            chunk = stream[cursor : cursor + int(background * seconds)]
            cursor += len(chunk)
            asks = customers.requests(int(rate * seconds))
            sending = asyncio.gather(
                paced(producer, settings, chunk, background, rankings.sent),
                paced(producer, settings, asks, rate, replies.sent),
            )
            _, (first, last) = await sending
            await producer.flush()
            await wait_consumed([worker], cursor, CATCH_UP_S)
            latencies = await replies.take(len(asks), timeout=30.0)
            await asyncio.sleep(0.3)  # rankings still on their way to us
            return len(asks) / max(last - first, 1e-6), latencies, rankings.take()

        # 2. A short warm-up at the lowest rate (first replies, caches), not counted.
        await period(RATES[0], min(2.0, args.seconds))
        replies.kinds.clear()
        cpu.take()

        # 3. Requests at each rate over the paced background, interleaved by round.
        results: Results = {r: [] for r in RATES}
        worker_side: dict[float, dict[str, Buckets]] = {r: {} for r in RATES}
        for round_ in range(1, args.rounds + 1):
            for rate in RATES:
                before = await histograms.read()
                sent, latencies, ranked = await period(rate, args.seconds)
                WorkerHistograms.add(worker_side[rate], await histograms.read(), before)
                results[rate].append((sent, latencies, ranked))
                asked = int(rate * args.seconds)
                print(
                    f"  round {round_}: {rate:g} requests/s ({sent:,.1f} sent), "
                    f"{len(latencies):,}/{asked:,} replies, {summary(latencies)}; "
                    f"{len(ranked):,} stock-out rankings, {summary(ranked)}; {cpu.take()}",
                    flush=True,
                )
        print("  replies by kind: " + ", ".join(f"{k} {n:,}" for k, n in replies.kinds.items()))
        whole = (await histograms.read())["request to reply"]
        return max_rate, background, results, worker_side, whole
    finally:
        await replies.stop()
        await rankings.stop()
        await producer.stop()
        worker.stop()


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "none matched"
    return (
        f"p50 {percentile(latencies, 50) * 1e3:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1e3:.1f} ms"
    )


def medians(rounds: list[list[float]]) -> tuple[float, float, float]:
    """(p50, p99, p99.9) in ms: medians over rounds, p99.9 over all rounds together."""
    per_round = [lat for lat in rounds if lat]
    pooled = [x for lat in per_round for x in lat]
    if not per_round:
        return math.nan, math.nan, math.nan
    p50 = statistics.median(percentile(lat, 50) for lat in per_round)
    p99 = statistics.median(percentile(lat, 99) for lat in per_round)
    return p50 * 1e3, p99 * 1e3, percentile(pooled, 99.9) * 1e3


def report(
    max_rate: float,
    background: float,
    results: Results,
    worker_side: dict[float, dict[str, Buckets]],
    whole: Buckets,
) -> None:
    print()
    print(f"maximum sustained rate {max_rate:,.0f} events/s; background {background:,.0f} events/s")
    print("request to reply (received here), and in the same periods signal to stock-out ranking:")
    print(
        f"{'req/s':>6}{'sent/s':>8}{'replies':>9}{'p50 ms':>8}{'p99 ms':>8}{'p99.9 ms':>10}"
        f"{'rankings':>10}{'p50 ms':>8}{'p99 ms':>8}{'p99.9 ms':>10}{'p50 x':>7}{'p99 x':>7}"
    )
    for rate, rounds in results.items():
        reply = medians([lat for _, lat, _ in rounds])
        ranking = medians([ranked for _, _, ranked in rounds])
        print(
            f"{rate:>6g}{statistics.median(s for s, _, _ in rounds):>8.1f}"
            f"{sum(len(lat) for _, lat, _ in rounds):>9,}"
            f"{reply[0]:>8.1f}{reply[1]:>8.1f}{reply[2]:>10.1f}"
            f"{sum(len(r) for _, _, r in rounds):>10,}"
            f"{ranking[0]:>8.1f}{ranking[1]:>8.1f}{ranking[2]:>10.1f}"
            f"{reply[0] / ranking[0]:>7.2f}{reply[1] / ranking[1]:>7.2f}"
        )
    print()
    print("the worker's histograms over the same periods (ms, interpolated within buckets):")
    print(f"{'':>15}" + "".join(f"{name:>20}" for name in HISTOGRAMS))
    print(f"{'req/s':>6}{'replies':>9}" + f"{'p50':>10}{'p99':>10}" * len(HISTOGRAMS))
    for rate, histograms in worker_side.items():
        cells = [
            f"{histogram_quantile(q, {}, histograms[name]) * 1e3:>10.1f}"
            for name in HISTOGRAMS
            for q in (0.5, 0.99)
        ]
        replies = histograms["request to reply"].get(math.inf, 0.0)
        print(f"{rate:>6g}{replies:>9,.0f}" + "".join(cells))
    total = whole.get(math.inf, 0.0)
    print(f"{HISTOGRAM}, whole run, warm-up included ({total:,.0f} replies):")
    print(f"{'le ms':>8}{'replies':>9}{'share':>8}")
    for le in sorted(whole):
        label = "+Inf" if math.isinf(le) else f"{le * 1e3:g}"
        share = whole[le] / total if total else 0.0
        print(f"{label:>8}{whole[le]:>9,.0f}{share:>8.1%}")


async def run(args: argparse.Namespace) -> None:
    periods = 1 + args.rounds * len(RATES)
    most = args.background or args.share * args.rate_cap
    n_events = args.burst + math.ceil(periods * args.seconds * most)
    print(f"generating {n_events:,} events of the workload mix ...", flush=True)
    sim, events = make_events(n_events, seed=7)
    stream: list[Tagged] = [
        (*encode(e), (e.store_id, e.item_id, e.ts) if isinstance(e, InventorySignal) else None)
        for e in events
    ]
    catalog = sim.catalog_events()
    bought = sorted({(e.store_id, e.item_id) for e in events if isinstance(e, InventorySignal)})
    customers = Customers(args.customers, catalog, bought, seed=11)
    kinds = collections.Counter(type(p).__name__ for p in customers.preferences)
    print(
        f"{args.customers:,} customers, {len(customers.preferences):,} preference records"
        f" ({', '.join(f'{k} {n:,}' for k, n in sorted(kinds.items()))})",
        flush=True,
    )
    with EmbeddedBroker() as broker:
        print(f"one worker as shipped, on {broker.url}:", flush=True)
        measured = await measure(broker.url, broker.pid, catalog, stream, customers, args)
    report(*measured)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="paced time per rate")
    parser.add_argument("--burst", type=int, default=20_000, help="events of the max-rate burst")
    parser.add_argument(
        "--share", type=float, default=0.25, help="background mix, share of the maximum rate"
    )
    parser.add_argument(
        "--rate-cap", type=float, default=4000.0, help="events generated for at most this rate"
    )
    parser.add_argument(
        "--background", type=float, default=0.0, help="background mix, events/s (0: --share)"
    )
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 2 s per rate, a set background"
    )
    args = parser.parse_args()
    if args.quick:
        # A burst this small drains at the worker's start-up rate, a fraction of its real one:
        # a share of it can leave 2 s without a single stock-out, so the background is set.
        args.rounds, args.seconds, args.burst, args.customers = 1, 2.0, 1500, 500
        args.background = 300.0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
