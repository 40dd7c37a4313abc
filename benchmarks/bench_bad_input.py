"""Bad input must not stall good input: dead-letter rate, and a good record's delay behind it.

One real `fillrate worker` process on the embedded broker. For each kind of bad record (an
unknown item, an unknown store, bytes that are not JSON, JSON that breaks the schema) on each
input topic, N bad records are produced to ONE partition, followed on the same partition by one
good record. Measured from the moment the burst was handed to the producer:

- the dead-letter rate: N / the time until the N-th dead letter of the burst was read back;
- the good record's delay: until its effect was seen (a signal's `stock_out` ranking read back
  from the rankings topic; a feedback event learned, on the worker's /health; a catalog record
  applied, on /health, and then a signal naming the new item ranked).

The baseline, in the same run and on the same worker: N *valid* signals on the same partition,
followed by the same kind of good stock-out. Its rate is what "as fast as valid signals" means.
Targets: dead letters at least as fast as valid signals (ratio >= 1), and the good ranking
within 10 s of its signal behind 2,000 bad records.

    .venv/bin/python benchmarks/bench_bad_input.py            # N = 2,000, 3 rounds
    .venv/bin/python benchmarks/bench_bad_input.py --quick    # CI smoke: N = 200, 1 round
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from worker_process import WorkerProcess, bench_settings, publish

from online_learning.contract import Product
from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings

PARTITIONS = 4
PARTITION = 1  # every record of a scenario goes here: the burst and the good record behind it
TS = 1_700_000_000.0
TARGET_DELAY_S = 10.0

Payload = bytes


def catalog(n: int = 300) -> list[Product]:
    return [
        Product(f"item-{i}", f"Brand{i % 9} Whole Milk {i}", "milk", "dairy eggs", 1.0 + i % 7)
        for i in range(n)
    ]


def signal(store: str, item: str, kind: str, ts: float) -> Payload:
    return orjson.dumps({"store_id": store, "item_id": item, "signal": kind, "ts": ts})


def feedback(store: str, item: str, sub: str) -> Payload:
    event = {
        "event_id": uuid.uuid4().hex,
        "store_id": store,
        "item_id": item,
        "substitute_id": sub,
        "outcome": "accepted",
        "ts": TS,
    }
    return orjson.dumps(event)


# The bad records, by topic and kind: (store, i) -> value
BAD: dict[str, dict[str, Callable[[str, int], Payload]]] = {
    "signals": {
        "unknown_item": lambda s, i: signal(s, f"ghost-{i}", "not_found", TS + i),
        "unknown_store": lambda s, i: signal("ghost-store", "item-1", "not_found", TS + i),
        "malformed": lambda s, i: b"\xff\xfe not json " + str(i).encode(),
        "schema": lambda s, i: orjson.dumps({"store_id": s, "item_id": "item-1", "ts": TS}),
    },
    "feedback": {
        "unknown_item": lambda s, i: feedback(s, f"ghost-{i}", "item-2"),
        "unknown_store": lambda s, i: feedback("ghost-store", "item-1", "item-2"),
        "malformed": lambda s, i: b"{not json " + str(i).encode(),
        "schema": lambda s, i: orjson.dumps({"event_id": f"e{i}", "store_id": s}),
    },
    "catalog": {
        "malformed": lambda s, i: b"\x00\x01 binary " + str(i).encode(),
        "schema": lambda s, i: orjson.dumps({"item_id": f"bad-{i}", "name": "No aisle"}),
    },
}


@dataclass
class Result:
    scenario: str
    n: int
    dead_letter_s: float | None  # until the N-th dead letter was read back
    good_delay_s: float | None  # until the good record's effect was seen

    @property
    def rate(self) -> float | None:
        return self.n / self.dead_letter_s if self.dead_letter_s else None


class Bench:
    """The worker, a producer, and readers of the dead-letter and rankings topics."""

    def __init__(self, settings: Settings, worker: WorkerProcess) -> None:
        self.settings = settings
        self.worker = worker
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, linger_ms=5, max_batch_size=256 * 1024
        )
        self.reader = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, group_id=None, fetch_max_wait_ms=20
        )
        self.dead_letters: list[tuple[float, dict[str, object]]] = []
        self.rankings: dict[tuple[str, str, float], float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.producer.start()
        await self.reader.start()
        s = self.settings
        tps = [
            TopicPartition(topic, p)
            for topic in (s.deadletter_topic, s.rankings_topic)
            for p in range(PARTITIONS)
        ]
        self.reader.assign(tps)
        await self.reader.seek_to_end(*tps)
        self._task = asyncio.ensure_future(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.reader.stop()
        await self.producer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.reader.getmany(timeout_ms=100)
            now = time.monotonic()
            for tp, records in batches.items():
                for record in records:
                    if record.value is None:
                        continue
                    body = orjson.loads(record.value)
                    if tp.topic == self.settings.deadletter_topic:
                        self.dead_letters.append((now, body))
                    else:
                        key = (body["store_id"], body["item_id"], float(body["source_ts"]))
                        self.rankings.setdefault(key, now)

    async def send(self, topic: str, values: list[Payload], key: bytes) -> float:
        """Produce ``values`` in order to the benchmark's partition; when they were handed over."""
        for value in values:
            await self.producer.send(topic, value=value, key=key, partition=PARTITION)
        await self.producer.flush()
        return time.monotonic()

    async def until(self, done: Callable[[], bool], timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return time.monotonic()
            await asyncio.sleep(0.02)
        return None

    async def until_health(
        self, done: Callable[[dict[str, object]], bool], timeout: float
    ) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = await asyncio.to_thread(self.worker.health)
            if health is not None and done(health):
                return time.monotonic()
            await asyncio.sleep(0.05)
        return None

    def dead_letter_arrivals(self, topic: str) -> list[float]:
        """When each dead letter of ``topic`` was read back, in order."""
        return [at for at, body in self.dead_letters if body.get("topic") == topic]

    def dead_letters_of(self, topic: str) -> int:
        return len(self.dead_letter_arrivals(topic))

    async def until_ranked(self, key: tuple[str, str, float]) -> float | None:
        """When the ranking of (store, item, source_ts) ``key`` was read back (its arrival)."""
        if await self.until(lambda: key in self.rankings, 120.0) is None:
            return None
        return self.rankings[key]

    async def until_dead_letters(self, topic: str, before: int, n: int) -> float | None:
        """When the ``n``-th dead letter of ``topic`` after the first ``before`` was read back
        (its arrival, not when this noticed it: the good record may be awaited first)."""
        if await self.until(lambda: self.dead_letters_of(topic) - before >= n, 120.0) is None:
            return None
        return self.dead_letter_arrivals(topic)[before + n - 1]


async def stock_out_behind(
    bench: Bench, store: str, topic: str, values: list[Payload], bad: bool = True
) -> Result:
    """``values`` then a stock-out at ``store``; the delay is until its ranking is read back.

    ``bad``: the values are bad records of ``topic``, and their dead letters are awaited."""
    s = bench.settings
    before = bench.dead_letters_of(topic)
    good_ts = TS + 10_000_000 + time.time() % 1000
    values = [*values, signal(store, "item-7", "out_of_stock", good_ts)]
    started = time.monotonic()
    await bench.send(s.signals_topic, values, store.encode())
    good_at = await bench.until_ranked((store, "item-7", good_ts))
    n_bad = len(values) - 1 if bad else 0
    dl_at = await bench.until_dead_letters(topic, before, n_bad) if n_bad else None
    return Result(
        "",
        n_bad,
        None if dl_at is None else dl_at - started,
        None if good_at is None else good_at - started,
    )


async def valid_baseline(bench: Bench, store: str, n: int) -> Result:
    """N valid signals (misses of known items), then the stock-out: the valid rate."""
    values = [signal(store, f"item-{100 + i % 150}", "found", TS + i) for i in range(n)]
    result = await stock_out_behind(bench, store, bench.settings.signals_topic, values, bad=False)
    # no dead letters here: the rate of the valid burst is N / the good ranking's delay
    return Result("valid signals (baseline)", n, result.good_delay_s, result.good_delay_s)


async def signal_scenario(bench: Bench, kind: str, store: str, n: int) -> Result:
    make = BAD["signals"][kind]
    result = await stock_out_behind(
        bench, store, bench.settings.signals_topic, [make(store, i) for i in range(n)]
    )
    result.scenario = f"signals, {kind}"
    return result


async def feedback_scenario(bench: Bench, kind: str, store: str, n: int) -> Result:
    s = bench.settings
    make = BAD["feedback"][kind]
    learned = await learned_now(bench)
    before = bench.dead_letters_of(s.feedback_topic)
    values = [*(make(store, i) for i in range(n)), feedback(store, "item-1", "item-2")]
    started = await _send_started(bench, s.feedback_topic, values, store.encode())
    good_at = await bench.until_health(lambda h: _learned(h) > learned, 120.0)
    dl_at = await bench.until_dead_letters(s.feedback_topic, before, n)
    return Result(
        f"feedback, {kind}",
        n,
        None if dl_at is None else dl_at - started,
        None if good_at is None else good_at - started,
    )


async def catalog_scenario(bench: Bench, kind: str, store: str, n: int) -> Result:
    s = bench.settings
    make = BAD["catalog"][kind]
    before = bench.dead_letters_of(s.catalog_topic)
    new_id = f"new-{uuid.uuid4().hex[:8]}"
    new = {
        "item_id": new_id,
        "name": "Brand3 Whole Milk New",
        "aisle": "milk",
        "department": "dairy eggs",
    }
    started = await _send_started(
        bench, s.catalog_topic, [make(store, i) for i in range(n)], b"catalog-burst"
    )
    await bench.send(s.catalog_topic, [orjson.dumps(new)], new_id.encode())  # right behind it
    # the good record: a stock-out of the new item is ranked once its catalog record is in
    good_ts = TS + 20_000_000 + time.time() % 1000
    await bench.send(
        s.signals_topic, [signal(store, new_id, "out_of_stock", good_ts)], store.encode()
    )
    good_at = await bench.until_ranked((store, new_id, good_ts))
    dl_at = await bench.until_dead_letters(s.catalog_topic, before, n)
    return Result(
        f"catalog, {kind}",
        n,
        None if dl_at is None else dl_at - started,
        None if good_at is None else good_at - started,
    )


async def _send_started(bench: Bench, topic: str, values: list[Payload], key: bytes) -> float:
    started = time.monotonic()
    await bench.send(topic, values, key)
    return started


Scenario = Callable[[Bench, str, int], Awaitable[Result]]


def scenarios() -> list[tuple[str, Scenario]]:
    out: list[tuple[str, Scenario]] = [("baseline", valid_baseline)]
    kinds = {"sig": signal_scenario, "fb": feedback_scenario, "cat": catalog_scenario}
    topics = {"sig": "signals", "fb": "feedback", "cat": "catalog"}
    for prefix, scenario in kinds.items():
        for kind in BAD[topics[prefix]]:
            out.append((f"{prefix}-{kind}", partial(_of_kind, scenario, kind)))
    return out


async def _of_kind(
    scenario: Callable[[Bench, str, str, int], Awaitable[Result]],
    kind: str,
    bench: Bench,
    store: str,
    n: int,
) -> Result:
    return await scenario(bench, kind, store, n)


def _learned(health: Mapping[str, object]) -> int:
    value = health.get("feedback_learned", 0)
    return value if isinstance(value, int) else 0


async def learned_now(bench: Bench) -> int:
    health = await asyncio.to_thread(bench.worker.health)
    return _learned(health or {})


async def run(n: int, rounds: int, only: str = "") -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {}
    with EmbeddedBroker() as broker:
        plan = [(name, sc) for name, sc in scenarios() if name == "baseline" or only in name]
        stores = ["store-warmup"] + [f"store-{name}-{r}" for r in range(rounds) for name, _ in plan]
        settings = bench_settings(broker.url, PARTITIONS)
        settings = Settings.load(
            {**_as_overrides(settings), "stores": ",".join(stores)}, environ={}
        )
        await publish(settings, catalog(), [])
        with WorkerProcess(settings, f"bench-bad-{uuid.uuid4().hex[:6]}").start() as worker:
            worker.wait_ready()
            bench = Bench(settings, worker)
            await bench.start()
            try:
                # warm up: the first ranking builds the milk pool's features
                await stock_out_behind(bench, "store-warmup", settings.signals_topic, [], bad=False)
                for r in range(rounds):
                    for name, scenario in plan:
                        result = await scenario(bench, f"store-{name}-{r}", n)
                        results.setdefault(result.scenario, []).append(result)
                        print(f"  round {r + 1}: {_line(result)}", flush=True)
                        if result.good_delay_s is None or result.dead_letter_s is None:
                            print(_tail(worker.log_path, 30), flush=True)  # why, at once
            finally:
                await bench.stop()
                waits = worker.metrics()
                count = waits.value("fillrate_catalog_wait_seconds_count")
                total = waits.value("fillrate_catalog_wait_seconds_sum")
                print(f"  waits for the catalog: {count:.0f} batches, {total:.2f} s in all")
    return results


def _as_overrides(settings: Settings) -> dict[str, object]:
    names = (
        "broker",
        "partitions",
        "catalog_topic",
        "signals_topic",
        "feedback_topic",
        "rankings_topic",
        "deadletter_topic",
    )
    return {name: getattr(settings, name) for name in names}


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _tail(path: Path, lines: int) -> str:
    """The last lines of the worker's log, indented, to show why a scenario never finished."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError as exc:
        return f"    (no worker log: {exc})"
    return "\n".join(f"    | {line}" for line in [f"worker log {path}:", *text])


def _line(r: Result) -> str:
    return (
        f"{r.scenario:<28} dead letters {_fmt(r.rate, ',.0f')}/s, good record after "
        f"{_fmt(r.good_delay_s, '.2f')} s"
    )


def report(results: dict[str, list[Result]], n: int) -> None:
    base = results["valid signals (baseline)"]
    base_rate = _median([r.rate for r in base])
    print(f"\n{n:,} records on one partition, then one good record (median of rounds)")
    print(f"{'scenario':<28} {'dead letters/s':>15} {'vs valid':>9} {'good record after':>18}")
    print(
        f"{'valid signals (baseline)':<28} {_fmt(base_rate, ',.0f'):>15} {'1.00x':>9} "
        f"{_fmt(_median([r.good_delay_s for r in base]), '.2f') + ' s':>18}"
    )
    for name, rows in results.items():
        if name.startswith("valid"):
            continue
        rate = _median([r.rate for r in rows])
        ratio = None if rate is None or not base_rate else rate / base_rate
        delay = _median([r.good_delay_s for r in rows])
        print(
            f"{name:<28} {_fmt(rate, ',.0f'):>15} {_fmt(ratio, '.2f') + 'x':>9} "
            f"{_fmt(delay, '.2f') + ' s':>18}"
        )
    print(
        f"targets: dead letters >= 1.00x the valid rate; good record within {TARGET_DELAY_S:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2000, help="bad records per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="CI smoke: 200 records, 1 round")
    parser.add_argument("--only", default="", help="run the scenarios whose name contains this")
    args = parser.parse_args()
    n, rounds = (200, 1) if args.quick else (args.records, args.rounds)
    report(asyncio.run(run(n, rounds, args.only)), n)


if __name__ == "__main__":
    main()
