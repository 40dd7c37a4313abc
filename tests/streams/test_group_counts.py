"""The business counters of a group of workers add up to exactly what producers sent.

The simulator runs against two workers of one group, sending feedback (a fifth of it twice, as
a retrying producer does) and completed orders. Over each window, the increase of each counter
summed over the workers (``sum(increase(...))`` in PromQL, a counter that restarted counted
from 0, as Prometheus does) equals what the simulator sent in it:

1. two workers sharing the partitions;
2. a third worker joining mid-window, partitions moving to it;
3. after a worker was killed (SIGKILL) and restarted, its counters starting again from 0.

What a crash itself costs the counts (the dead process's increments since its last scrape, and
orders it counted but had not committed) is in docs/operations.md; window 3 starts after the
restart, once the killed worker's offsets were committed.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import Counter
from typing import Any

import orjson
import pytest

from online_learning.contract import CompletedOrder, Feedback, encode_order, event_payload
from online_learning.offline.sim_config import SimConfig
from streams.simulate import SimulationDriver
from streams.worker_process import WorkerProcess
from tests.streams.conftest import same_topics, wait_ready

pytestmark = pytest.mark.broker

PARTITIONS = 6  # 3 each for two workers; a third takes 2 (faust balances to ceil(6/3))
COMMIT_INTERVAL_S = 2.8  # faust's broker_commit_interval default


class Tally:
    """What was sent: the counters' expected increases, by their labels."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, ...]] = Counter()

    def feedback(self, feedback: Feedback, department: str) -> None:
        self.counts["fillrate_feedback_total", feedback.outcome, department] += 1

    def order(self, order: CompletedOrder, department_of: Any) -> None:
        self.counts[("fillrate_orders_total",)] += 1
        self.counts[("fillrate_orders_perfect_total",)] += order.perfect
        for line in order.lines:
            self.counts[
                "fillrate_order_lines_total", line.outcome, department_of(line.item_id)
            ] += 1


class RecordingDriver(SimulationDriver):
    """The simulator, tallying what it sends; every fifth feedback event and order goes twice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tally = Tally()
        self.n_feedback = 0
        self.n_orders = 0
        self.propensities: list[float | None] = []

    def department(self, item_id: str) -> str:
        return self.sim.products[item_id].department

    async def _send_feedback(self, feedback: Feedback) -> None:
        await super()._send_feedback(feedback)
        self.propensities.append(feedback.propensity)
        self.tally.feedback(feedback, self.department(feedback.item_id))
        self.n_feedback += 1
        if self.n_feedback % 5 == 0:  # a producer's retry: the same event again
            assert self._producer is not None
            await self._producer.send(
                self.settings.feedback_topic,
                key=feedback.store_id.encode(),
                value=orjson.dumps(event_payload(feedback)),
            )

    async def _send_orders(self) -> None:
        assert self._producer is not None
        for order in self.sim.take_completed_orders():
            key, value = encode_order(order)
            copies = 2 if self.n_orders % 5 == 0 else 1
            for _ in range(copies):
                await self._producer.send(self.settings.orders_topic, key=key, value=value)
            self.n_orders += 1
            self.tally.order(order, self.department)


Counts = dict[int, dict[tuple[str, ...], float]]


def counted(workers: list[WorkerProcess]) -> Counts:
    """Each worker's counters now (by its web port), keyed as :class:`Tally` keys them."""
    out: Counts = {}
    for worker in workers:
        values: dict[tuple[str, ...], float] = {}
        for s in worker.metrics():
            if s.name in ("fillrate_feedback_total", "fillrate_order_lines_total"):
                values[s.name, s.labels["outcome"], s.labels["department"]] = s.value
            elif s.name in ("fillrate_orders_total", "fillrate_orders_perfect_total"):
                values[(s.name,)] = s.value
        out[worker.settings.web_port] = values
    return out


def increase(before: Counts, after: Counts) -> Counter[tuple[str, ...]]:
    """Summed over workers, what each counter grew by; a counter lower than before restarted
    from 0 (Prometheus's reset rule), so all of its value is new, as is all of a worker's that
    was not there before."""
    total: Counter[tuple[str, ...]] = Counter()
    for worker, new in after.items():
        old = before.get(worker, {})
        for key, value in new.items():
            start = old.get(key, 0.0)
            grew = value - start if value >= start else value
            if grew:
                total[key] += int(grew)
    return total


async def run_window(
    driver: RecordingDriver,
    workers: list[WorkerProcess],
    seconds: float,
    during: Any = None,
) -> tuple[Counter[tuple[str, ...]], Counter[tuple[str, ...]]]:
    """Run the simulator for ``seconds``, with ``during`` run halfway (it may add a worker to
    ``workers``), then wait until the workers counted it all; (sent, counted) in the window."""
    before = counted(workers)
    driver.tally = Tally()
    stop = asyncio.Event()
    running = asyncio.ensure_future(driver.run(None, stop, out=io.StringIO()))
    await asyncio.sleep(seconds / 2)
    if during is not None:
        await during()  # the simulator keeps sending meanwhile
    await asyncio.sleep(seconds / 2)
    stop.set()
    await running
    sent = +driver.tally.counts
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        got = increase(before, counted(workers))
        if got == sent:
            await asyncio.sleep(1.0)  # a late double count would show by now
            return sent, increase(before, counted(workers))
        await asyncio.sleep(0.3)
    return sent, increase(before, counted(workers))


def settled(workers: list[WorkerProcess]) -> bool:
    """Every worker ready and holding signal partitions, together all of them."""
    healths = [w.health() for w in workers]
    if not all(h and h["status"] == "ok" and not h["restoring"] for h in healths):
        return False
    owned = sorted(p for h in healths if h for p in h["signal_partitions"])
    return owned == list(range(PARTITIONS)) and all(h and h["signal_partitions"] for h in healths)


def wait_settled(workers: list[WorkerProcess], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settled(workers):
            return
        time.sleep(0.3)
    raise AssertionError(f"the group did not settle: {[w.health() for w in workers]}")


def diff(sent: Counter[tuple[str, ...]], got: Counter[tuple[str, ...]]) -> dict[Any, Any]:
    return {k: (sent.get(k, 0), got.get(k, 0)) for k in set(sent) | set(got) if sent[k] != got[k]}


async def test_counters_summed_over_the_group_equal_what_was_sent_across_joins_and_a_kill(
    worker_factory: Any,
) -> None:
    a = worker_factory(partitions=PARTITIONS)
    group = same_topics(a.settings)
    b = worker_factory(partitions=PARTITIONS, **group)
    config = SimConfig(
        seed=17,
        n_stores=8,
        n_customers=400,
        catalog_limit=1500,
        orders_per_minute=30.0,
        out_of_stock_rate=0.1,
    )
    driver = RecordingDriver(a.settings, config, speed=60.0, wait_s=2.0)
    await driver.start()
    try:
        await driver.publish_catalog()
        wait_settled([a, b])
        workers = [a, b]

        # 1. Two workers sharing the partitions.
        sent, got = await run_window(driver, workers, 4.0)
        assert sent[("fillrate_orders_total",)] > 20 and driver.n_feedback > 20, sent
        # The simulator echoes each ranking's propensity in its feedback: the exploration log.
        assert all(p is not None and 0 < p <= 1 for p in driver.propensities)
        assert got == sent, diff(sent, got)

        # 2. A third worker joins halfway through the window; partitions move to it.
        async def join() -> None:
            c = await asyncio.to_thread(worker_factory, partitions=PARTITIONS, **group)
            workers.append(c)
            await asyncio.to_thread(wait_settled, workers)  # c holds partitions now

        sent, got = await run_window(driver, workers, 4.0, during=join)
        assert got == sent, diff(sent, got)
        c = workers[2]

        # 3. b killed (its offsets committed first) and restarted: its counters start from 0.
        await asyncio.sleep(COMMIT_INTERVAL_S + 1.0)
        b.process.kill()
        b.process.wait()
        b.start()
        wait_ready(b)
        wait_settled([a, b, c])
        assert b.metric("fillrate_orders_total") == 0  # a restarted process counts from 0
        sent, got = await run_window(driver, workers, 4.0)
        assert got == sent, diff(sent, got)
    finally:
        await driver.stop()
