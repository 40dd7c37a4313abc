"""``fillrate simulate``: drive the simulator against a live worker through Kafka.

It publishes the real Instacart catalog, then in a loop advances simulated time, produces the
shoppers' and stores' stock signals, and answers every missing item with the ranking the worker
published for it: the simulated shopper offers the best in-stock substitute and the customer's
hidden preferences decide the feedback, which goes back to the worker. A missing item whose
ranking has not arrived within ``wait_s`` real seconds goes unfilled. Each order, once every
line is settled, goes to ``orders.completed`` with its lines' outcomes, so the worker counts
the perfect-order fill rate the simulator computes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from online_learning.contract import Feedback, encode_order, event_payload, product_payload
from online_learning.offline.shadow import PriorShadow
from online_learning.offline.simulation import SimConfig, Simulation, SubstitutionRequest
from streams.connection import KafkaConnection
from streams.settings import EMBEDDED, Settings
from streams.topics import TopicsError, ensure_topics

__all__ = ["SimulationDriver", "run_simulate"]


@dataclass(slots=True)
class Window:
    """One reporting interval: realised outcomes, and (with a prior shadow) the true
    acceptance of what was offered against what the prior alone would have offered."""

    t: float = 0.0  # seconds since the start, when the interval was closed
    offered: int = 0
    accepted: int = 0
    paired: int = 0
    learned: float = 0.0  # sum of true P(accept) of the worker's offers, paired requests
    prior: float = 0.0  # the same for the prior shadow's offers on those requests


@dataclass
class DriverStats:
    signals: int = 0
    feedback: int = 0
    rankings: int = 0
    accepted: int = 0
    orders: int = 0  # completed orders published
    perfect_orders: int = 0
    unfilled: int = 0
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=300))
    recent_lift: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    windows: list[Window] = field(default_factory=list)  # closed intervals
    current: Window = field(default_factory=Window)  # the interval under way

    def rolling_acceptance(self) -> float | None:
        return sum(self.recent) / len(self.recent) if self.recent else None

    def rolling_lift(self) -> float | None:
        """Mean true-acceptance gain of the worker's offers over the prior's, recent requests."""
        return sum(self.recent_lift) / len(self.recent_lift) if self.recent_lift else None


class SimulationDriver:
    """Runs a :class:`Simulation` against Kafka topics; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        config: SimConfig,
        speed: float = 60.0,
        wait_s: float = 3.0,
        compare_prior: bool = False,
    ) -> None:
        self.settings = settings
        self.sim = Simulation(config)
        self.sim.record_orders()  # every completed order is published
        # Built here, before the clock starts: the features of the whole catalog take a while.
        self.shadow = PriorShadow(self.sim.catalog_events()) if compare_prior else None
        self.speed = speed
        self.wait_s = wait_s
        self.stats = DriverStats()
        # (store, item) -> (ranking id, substitute ids, propensity) of its live ranking
        self.rankings: dict[tuple[str, str], tuple[str, list[str], float]] = {}
        self.pending: deque[tuple[float, SubstitutionRequest]] = deque()
        self._ranking_keys: dict[bytes | None, tuple[str, str]] = {}  # record key -> ranking
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        await ensure_topics(self.settings)
        connection = KafkaConnection.from_settings(self.settings).client_options()
        self._producer = AIOKafkaProducer(**connection, linger_ms=5)
        await self._producer.start()
        consumer = AIOKafkaConsumer(
            **connection,
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        parts = consumer.partitions_for_topic(self.settings.rankings_topic) or set()
        tps = [TopicPartition(self.settings.rankings_topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, before any signal can cause a ranking
            await consumer.position(tp)
        self._consumer = consumer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()

    async def publish_catalog(self) -> int:
        assert self._producer is not None
        products = self.sim.catalog_events()
        for p in products:
            await self._producer.send(
                self.settings.catalog_topic,
                key=p.item_id.encode(),
                value=orjson.dumps(product_payload(p)),
            )
        await self._producer.flush()
        return len(products)

    async def _read_rankings(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=0, max_records=10_000)
        for records in batches.values():
            for record in records:
                if record.value is None:  # a retired ranking: the shopper has nothing to offer
                    retired = self._ranking_keys.pop(record.key, None)
                    if retired is not None:
                        self.rankings.pop(retired, None)
                    continue
                try:
                    r = orjson.loads(record.value)
                    ids = [s["item_id"] for s in r["substitutes"]]
                    self.rankings[r["store_id"], r["item_id"]] = (
                        r["ranking_id"],
                        ids,
                        float(r.get("propensity", 1.0)),
                    )
                    self._ranking_keys[record.key] = (r["store_id"], r["item_id"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue
                self.stats.rankings += 1

    async def _send_feedback(self, feedback: Feedback) -> None:
        assert self._producer is not None
        await self._producer.send(
            self.settings.feedback_topic,
            key=feedback.store_id.encode(),
            value=orjson.dumps(event_payload(feedback)),
        )
        self.stats.feedback += 1
        accepted = feedback.outcome == "accepted"
        self.stats.recent.append(accepted)
        self.stats.accepted += accepted
        self.stats.current.offered += 1
        self.stats.current.accepted += accepted

    async def _answer(self, request: SubstitutionRequest) -> bool:
        """Offer a substitute if a ranking is there; False if the request must wait."""
        found = self.rankings.get((request.store_id, request.item_id))
        if found is None:
            return False
        ranking_id, ids, propensity = found
        if self.shadow is not None:
            self._compare(request, ids)
        feedback = self.sim.resolve(request, ids, ranking_id)
        if feedback is None:
            self.stats.unfilled += 1
        else:
            # The ranking's propensity, echoed as the shopper app would: the exploration log
            # off-policy evaluation reads, kept with the feedback (docs/design.md).
            await self._send_feedback(replace(feedback, propensity=propensity))
        return True

    def _compare(self, request: SubstitutionRequest, ids: list[str]) -> None:
        """True acceptance of the worker's offer and of the prior's, for the same request."""
        assert self.shadow is not None
        prior_ids = self.shadow.ranked_ids(request.store_id, request.item_id)
        if prior_ids is None:
            return
        learned = self.sim.expected_acceptance(request, ids)
        prior = self.sim.expected_acceptance(request, prior_ids)
        if learned is None or prior is None:
            return
        window = self.stats.current
        window.paired += 1
        window.learned += learned
        window.prior += prior
        self.stats.recent_lift.append(learned - prior)

    async def step(self, real_seconds: float) -> None:
        """Advance simulated time by ``real_seconds * speed`` and exchange events."""
        assert self._producer is not None
        signals, requests = self.sim.advance(real_seconds * self.speed)
        for s in signals:
            if self.shadow is not None:
                self.shadow.observe(s)
            await self._producer.send(
                self.settings.signals_topic,
                key=s.store_id.encode(),
                value=orjson.dumps(event_payload(s)),
            )
        self.stats.signals += len(signals)
        now = time.monotonic()
        self.pending.extend((now, r) for r in requests)
        await self._read_rankings()
        still: deque[tuple[float, SubstitutionRequest]] = deque()
        for since, request in self.pending:
            if await self._answer(request):
                continue
            if now - since > self.wait_s:
                self.sim.expire(request)
                self.stats.unfilled += 1
            else:
                still.append((since, request))
        self.pending = still
        await self._send_orders()

    async def _send_orders(self) -> None:
        """Publish the orders completed since the last step, each once."""
        assert self._producer is not None
        for order in self.sim.take_completed_orders():
            key, value = encode_order(order)
            await self._producer.send(self.settings.orders_topic, key=key, value=value)
            self.stats.orders += 1
            self.stats.perfect_orders += order.perfect

    async def run(
        self,
        duration: float | None,
        stop: asyncio.Event,
        out: TextIO = sys.stdout,
        tick: float = 0.1,
        report_every: float = 2.0,
        extra_status: Any = None,
    ) -> DriverStats:
        started = last_report = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                break
            await self.step(tick)
            if now - last_report >= report_every:
                st = self.stats
                st.current.t = now - started
                st.windows.append(st.current)
                st.current = Window()
                last_report = now
                print(self.status_line(now - started, extra_status), file=out, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick)
        assert self._producer is not None
        await self._producer.flush()
        return self.stats

    def status_line(self, elapsed: float, extra: Any = None) -> str:
        st = self.stats
        rolling = st.rolling_acceptance()
        sim = self.sim.stats()
        fill = sim.get("perfect_order_fill_rate")
        parts = [
            f"[{elapsed:5.0f}s]",
            f"signals {st.signals:>7,}",
            f"feedback {st.feedback:>6,}",
            f"rankings in {st.rankings:>6,}",
            f"acceptance(last {len(st.recent)}) "
            + ("  -  " if rolling is None else f"{rolling:5.1%}"),
            "perfect orders " + ("  -  " if fill is None else f"{fill:5.1%}"),
        ]
        lift = st.rolling_lift()
        if lift is not None:
            parts.append(f"vs prior(last {len(st.recent_lift)}) {lift:+.3f}")
        if extra is not None:
            parts.append(str(extra()))
        return "  ".join(parts)


def sim_config(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        seed=args.seed,
        n_stores=args.n_stores,
        n_customers=args.customers,
        orders_per_minute=args.orders_per_minute,
        catalog_limit=args.catalog_limit,
        start_ts=time.time(),
        population=args.population,
    )


def install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def run_simulate(settings: Settings, args: argparse.Namespace) -> int:
    if settings.broker in (None, EMBEDDED):
        print(
            "fillrate simulate: no broker given; pass --broker kafka://HOST:PORT or set "
            "FILLRATE_BROKER (a worker started with --broker embedded prints its broker's URL)",
            file=sys.stderr,
        )
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        install_stop(stop)
        driver = SimulationDriver(
            settings, sim_config(args), speed=args.speed, compare_prior=args.compare_prior
        )
        try:
            await driver.start()
        except (ConnectionError, TopicsError) as exc:
            print(f"fillrate simulate: {exc}", file=sys.stderr)
            return 2
        try:
            n = await driver.publish_catalog()
            print(f"published {n:,} catalog items to {settings.catalog_topic}", flush=True)
            await driver.run(args.duration, stop)
        finally:
            await driver.stop()
        return 0

    return asyncio.run(main())
