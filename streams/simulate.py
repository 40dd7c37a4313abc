"""``fillrate simulate``: drive the simulator against a live worker through Kafka.

It publishes the real Instacart catalog and what the simulated customers say they want
(``customers.preferences``: dietary needs, choices for some items), then in a loop advances
simulated time, produces the shoppers' and stores' stock signals, and sends every missing
item as a substitution request (``substitutions.requests``). The worker's reply for that
customer (``substitutions.replies``) is what the simulated shopper walks: the first in-stock
substitute is offered and the customer's hidden tastes and stated choices decide the feedback,
which goes back to the worker with the customer's id. A request whose reply has not arrived
within ``wait_s`` real seconds goes unfilled. The store-level rankings (``substitutions.
rankings``) are read too, as a table: on the same requests, the true acceptance of what the
shopper would have offered from them is the baseline the personal replies are compared with.
Each order, once every line is settled, goes to ``orders.completed`` with its lines' outcomes,
so the worker counts the perfect-order fill rate the simulator computes.
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

from online_learning.contract import (
    Feedback,
    encode_order,
    encode_preference,
    encode_request,
    event_payload,
    product_payload,
)
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
    # requests with both a reply and a store-level ranking that offer something in stock
    personal_paired: int = 0
    personal: float = 0.0  # sum of true P(accept) of what the reply has the shopper offer
    store: float = 0.0  # the same for the store-level ranking, on those requests


@dataclass
class DriverStats:
    signals: int = 0
    feedback: int = 0
    rankings: int = 0
    requests: int = 0
    replies: int = 0
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

    def personal_vs_store(self) -> tuple[int, float, float] | None:
        """(requests, true acceptance of the personal replies, of the store-level rankings)
        over every closed interval and the current one; None before any paired request."""
        windows = [*self.windows, self.current]
        n = sum(w.personal_paired for w in windows)
        if not n:
            return None
        return n, sum(w.personal for w in windows) / n, sum(w.store for w in windows) / n


class SimulationDriver:
    """Runs a :class:`Simulation` against Kafka topics; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        config: SimConfig,
        speed: float = 60.0,
        wait_s: float = 10.0,
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
        # request id -> (when it was sent, the request), until its reply arrives
        self.awaiting: dict[str, tuple[float, SubstitutionRequest]] = {}
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
        tps = [
            TopicPartition(topic, p)
            for topic in (self.settings.rankings_topic, self.settings.replies_topic)
            for p in sorted(consumer.partitions_for_topic(topic) or set())
        ]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, before any signal can cause an output
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

    async def publish_preferences(self) -> int:
        """What the simulated customers say they want, on ``customers.preferences``."""
        assert self._producer is not None
        records = self.sim.preferences()
        for key, record in records:
            await self._producer.send(
                self.settings.preferences_topic,
                key=key.encode(),
                value=encode_preference(record)[1],
            )
        await self._producer.flush()
        return len(records)

    async def _read_outputs(self) -> list[dict[str, Any]]:
        """Apply the rankings that arrived to the table; the replies that arrived, decoded."""
        assert self._consumer is not None
        replies: list[dict[str, Any]] = []
        batches = await self._consumer.getmany(timeout_ms=0, max_records=10_000)
        for tp, records in batches.items():
            if tp.topic == self.settings.replies_topic:
                for record in records:
                    with contextlib.suppress(orjson.JSONDecodeError, TypeError):
                        replies.append(orjson.loads(record.value or b"null") or {})
                continue
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
        return replies

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

    async def _answer(self, request: SubstitutionRequest, reply: dict[str, Any]) -> None:
        """The shopper walks the worker's reply for this customer; the customer decides."""
        ids = [s["item_id"] for s in reply.get("substitutes", ())]
        if self.shadow is not None:
            self._compare(request, ids)
        self._compare_store_level(request, ids)
        feedback = self.sim.resolve(request, ids)
        if feedback is None:
            self.stats.unfilled += 1
        else:
            # The reply's propensity, echoed as the shopper app would: the exploration log
            # off-policy evaluation reads, kept with the feedback (docs/design.md).
            propensity = float(reply.get("propensity", 1.0))
            await self._send_feedback(replace(feedback, propensity=propensity))

    def _compare_store_level(self, request: SubstitutionRequest, ids: list[str]) -> None:
        """True acceptance of the personal reply's offer and the store-level ranking's."""
        ranking = self.rankings.get((request.store_id, request.item_id))
        if ranking is None:
            return
        personal = self.sim.expected_acceptance(request, ids)
        store = self.sim.expected_acceptance(request, ranking[1])
        if personal is None or store is None:
            return
        window = self.stats.current
        window.personal_paired += 1
        window.personal += personal
        window.store += store

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
        for request in requests:
            key, value = encode_request(request)
            await self._producer.send(self.settings.requests_topic, key=key, value=value)
            self.awaiting[request.request_id] = (now, request)
        self.stats.requests += len(requests)
        for reply in await self._read_outputs():
            waiting = self.awaiting.pop(str(reply.get("request_id")), None)
            if waiting is None:
                continue  # a copy resent after a worker's crash, or another run's
            self.stats.replies += 1
            await self._answer(waiting[1], reply)
        for request_id, (since, request) in list(self.awaiting.items()):
            if now - since > self.wait_s:
                del self.awaiting[request_id]
                self.sim.expire(request)
                self.stats.unfilled += 1
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
            f"replies {st.replies:>6,}",
            f"acceptance(last {len(st.recent)}) "
            + ("  -  " if rolling is None else f"{rolling:5.1%}"),
            "perfect orders " + ("  -  " if fill is None else f"{fill:5.1%}"),
        ]
        lift = st.rolling_lift()
        if lift is not None:
            parts.append(f"vs prior(last {len(st.recent_lift)}) {lift:+.3f}")
        personal = st.personal_vs_store()
        if personal is not None:
            parts.append(f"personal {personal[1]:.3f} vs store-level {personal[2]:.3f}")
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
        needs_share=getattr(args, "needs_share", 0.0),
        choice_share=getattr(args, "choice_share", 0.0),
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
            n = await driver.publish_preferences()
            print(f"published {n:,} customer preferences to {settings.preferences_topic}")
            await driver.run(args.duration, stop)
        finally:
            await driver.stop()
        return 0

    return asyncio.run(main())
