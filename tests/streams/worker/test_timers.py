"""Consumer lag, as the gauges timer computes it from Faust's consumer (no broker)."""

from __future__ import annotations

import asyncio
import itertools
import time
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.faust_internals import Deliveries
from streams.worker.timers import REFRESH_MAX_WAIT_S, REFRESH_SLICE_S, Timers, consumer_lag

SIGNALS, FEEDBACK = "inventory.signals", "substitutions.feedback"


class Consumer:
    """Faust's consumer as the timer sees it: an assignment, high-water marks, the offsets
    its streams processed (``_read_offset``), fetch positions."""

    def __init__(self) -> None:
        self._read_offset: dict[TP, int | None] = {TP(SIGNALS, 0): 89}
        self.high = {TP(SIGNALS, 0): 100, TP(SIGNALS, 1): 50, TP(FEEDBACK, 0): None}
        self.revoked = TP(SIGNALS, 2)

    def assignment(self) -> set[TP]:
        return {*self.high, self.revoked, TP("catalog.items", 0)}

    def highwater(self, tp: TP) -> int | None:
        if tp == self.revoked:
            raise IllegalStateError("No current assignment for partition")
        return self.high.get(tp, 7)

    async def position(self, tp: TP) -> int:
        return 20  # nothing processed from signals[1] yet: counted from its fetch position


def test_lag_counts_from_the_last_processed_offset_else_the_fetch_position() -> None:
    consumer: Any = Consumer()
    lag = asyncio.run(consumer_lag(consumer, (SIGNALS, FEEDBACK)))
    # signals[0]: 100 - (89 + 1); signals[1]: 50 - 20; signals[2] is being revoked; feedback[0]
    # has no high-water mark yet; the catalog is not an input topic here.
    assert lag == {SIGNALS: 10 + 30, FEEDBACK: 0}


class SlowEngine:
    """A pass of ``live`` re-ranks of ``cost_s`` each, every third one changing its order."""

    def __init__(self, live: int, cost_s: float) -> None:
        self.pending = live
        self.cost_s = cost_s
        self.calls = 0

    @property
    def refresh_pending(self) -> bool:
        return self.pending > 0

    def refresh(self, budget: int) -> list[str]:
        out = []
        for _ in range(min(budget, self.pending)):
            self.pending -= 1
            self.calls += 1
            end = time.perf_counter() + self.cost_s
            while time.perf_counter() < end:
                pass
            if self.calls % 3 == 0:
                out.append(f"ranking-{self.calls}")
        return out

    def take_retired(self) -> dict[tuple[str, str], str]:
        return {}


def refresh_worker(engine: SlowEngine, budget: int) -> tuple[Any, list[list[str]], list[float]]:
    """A worker as the refresh timer sees it, and the list of what it published."""
    published: list[list[str]] = []

    async def publish(rankings: list[str], caused_at: Any, retired: Any) -> None:
        published.append(list(rankings))

    async def flush() -> None:
        return None

    state = SimpleNamespace(
        busy=lambda: False, ranked=lambda r: None, retired=lambda r: None, flush=flush
    )
    worker = SimpleNamespace(
        engine=engine,
        state=state,
        ready=True,
        stopping=False,
        settings=SimpleNamespace(refresh_budget=budget),
        output=SimpleNamespace(publish=publish),
        app=SimpleNamespace(deliveries=Deliveries()),
    )
    return worker, published, []


def test_the_refresh_steps_aside_for_the_event_loop_every_few_milliseconds() -> None:
    """Re-ranks of 1 ms each: the timer yields after about REFRESH_SLICE_S of them (2 ms: two
    or three), not after a fixed count (25 held the loop 16-40 ms on a busy machine), publishes
    every changed ranking once and keeps to its budget."""
    engine = SlowEngine(live=60, cost_s=0.001)
    worker, published, _ = refresh_worker(engine, budget=40)
    turns: list[int] = []  # the re-ranks done by each turn the event loop gave the probe

    async def run() -> None:
        async def probe() -> None:
            while True:
                await asyncio.sleep(0)
                turns.append(engine.calls)

        watcher = asyncio.create_task(probe())
        await Timers(worker).refresh_rankings()
        watcher.cancel()

    asyncio.run(run())
    assert engine.calls == 40  # the budget, though 60 were pending
    assert [r for batch in published for r in batch] == [f"ranking-{i}" for i in range(3, 41, 3)]
    assert len(published) >= 10  # published slice by slice, not once at the end
    # the loop got a turn after every slice of two or three re-ranks (~REFRESH_SLICE_S)
    steps = [b - a for a, b in itertools.pairwise(turns)]
    assert max(steps) <= round(REFRESH_SLICE_S / engine.cost_s) + 1


def test_the_refresh_publishes_nothing_new_once_the_worker_is_stopping() -> None:
    """Faust stops the producer right after the app's shutdown began: a re-rank published then
    fails ("Producer service not yet started") and is logged as an error at every stop."""
    engine = SlowEngine(live=60, cost_s=0.0005)
    worker, published, _ = refresh_worker(engine, budget=60)

    async def run() -> None:
        async def stop_soon() -> None:
            while not published:  # the pass is under way
                await asyncio.sleep(0)
            worker.stopping = True

        stopper = asyncio.create_task(stop_soon())
        await Timers(worker).refresh_rankings()
        await stopper

    asyncio.run(run())
    assert len(published) == 1, "a slice published after the worker began to stop"
    assert engine.calls < 60
    calls = engine.calls
    asyncio.run(Timers(worker).refresh_rankings())  # a tick once stopping: nothing at all
    assert engine.calls == calls and len(published) == 1


def test_the_refresh_waits_while_fetched_records_wait_for_an_agent() -> None:
    """A signal's own ranking comes before re-ranks for what was learned: no slice starts
    while the consumer holds records no agent has had, and the pass goes on once they are
    taken."""
    engine = SlowEngine(live=10, cost_s=0.0001)
    worker, published, _ = refresh_worker(engine, budget=10)
    deliveries = worker.app.deliveries
    deliveries.fetched({TP(SIGNALS, 0): [object(), object()]})  # two records to deliver
    calls_while_waiting: list[int] = []

    async def run() -> None:
        async def agent() -> None:
            await asyncio.sleep(0.02)
            calls_while_waiting.append(engine.calls)
            deliveries.delivered(SIGNALS)  # into the agent's buffer
            deliveries.buffered += 1
            deliveries.delivered(SIGNALS)
            deliveries.buffered += 1
            await asyncio.sleep(0.02)
            calls_while_waiting.append(engine.calls)
            deliveries.buffered -= 2  # the batch handed over

        taken = asyncio.create_task(agent())
        await Timers(worker).refresh_rankings()
        await taken

    asyncio.run(run())
    assert calls_while_waiting == [0, 0]
    assert engine.calls == 10 and [r for b in published for r in b] == [
        "ranking-3",
        "ranking-6",
        "ranking-9",
    ]


def test_a_stream_that_never_lets_up_delays_the_refresh_but_does_not_stop_it() -> None:
    engine = SlowEngine(live=6, cost_s=0.0001)
    worker, published, _ = refresh_worker(engine, budget=6)
    worker.app.deliveries.buffered = 5  # always something waiting
    started = time.perf_counter()
    asyncio.run(Timers(worker).refresh_rankings())
    assert engine.calls == 6 and len([r for b in published for r in b]) == 2
    assert time.perf_counter() - started >= REFRESH_MAX_WAIT_S  # it did wait first
