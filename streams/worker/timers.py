"""A worker's periodic work: model-update re-rankings and the gauges (with consumer lag)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiokafka.errors import IllegalStateError
from faust.types import ConsumerT

from streams.faust_internals import last_read_offset

if TYPE_CHECKING:
    from streams.worker.worker import Worker

__all__ = ["GAUGES_INTERVAL_S", "LOOP_PROBE_S", "Timers", "consumer_lag"]

GAUGES_INTERVAL_S = 1.0
LOOP_PROBE_S = 0.01  # the loop-lag probe's sleep: 100 wake-ups a second cost next to nothing
REFRESH_SLICE_S = 0.002  # re-ranking between two pauses for the event loop, at most (about)
REFRESH_PAUSE_S = 0.005
# While fetched records wait for an agent, a slice waits for them to be taken, for up to
# REFRESH_MAX_WAIT_S, so that the refresh cannot be held back for good by a busy stream.
REFRESH_MAX_WAIT_S = 0.1


class Timers:
    """The timers of ``worker``: :meth:`refresh_rankings` every ``refresh_interval_s``,
    :meth:`update_gauges` every :data:`GAUGES_INTERVAL_S`."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def refresh_rankings(self) -> None:
        """Re-rank live rankings after learning; publish those whose order changed and a
        tombstone for each that ended."""
        worker = self.worker
        if worker.stopping:  # the producer is about to stop: nothing new to publish
            return
        state, engine = worker.state, worker.engine
        # Rankings a restore found ended, with no signal of theirs since to hand them over.
        retired = engine.take_retired()
        if retired:
            await worker.output.publish((), None, retired)
            state.retired(retired)
            await state.flush()
        # Not while a rebalance or a restore is under way: state is incomplete then.
        if not worker.ready or state.busy():
            return
        # In slices of at most REFRESH_SLICE_S, yielding to the event loop between them. A
        # re-rank builds its item's candidate block (0.1 to 1 ms and more, by pool size and
        # machine): slices of a fixed 25 re-ranks held the loop 16-40 ms each on a busy
        # machine, and every message fetched meanwhile waited that long (bench_latency.py).
        # A slice starts only once the records fetched so far are in the agents' hands (or
        # after REFRESH_MAX_WAIT_S): a signal's own ranking comes before re-ranks for what
        # was learned, and under load the passes slow down instead of the stream.
        remaining = worker.settings.refresh_budget
        deliveries = worker.app.deliveries

        def going_on() -> bool:
            return remaining > 0 and worker.ready and not worker.stopping and not state.busy()

        while going_on():
            if deliveries is not None:
                await deliveries.settled(REFRESH_MAX_WAIT_S)  # returns at once if none wait
                if not going_on():  # it may have waited: the worker may be stopping now
                    break
            rankings = []
            deadline = time.perf_counter() + REFRESH_SLICE_S
            while True:
                rankings += engine.refresh(1)
                remaining -= 1
                if remaining <= 0 or not engine.refresh_pending:
                    break
                if time.perf_counter() >= deadline:
                    break
            retired = engine.take_retired()  # aged out or gone from the catalog
            if rankings or retired:
                await worker.output.publish(rankings, None, retired)
                state.ranked(rankings)
                state.retired(retired)
            if not engine.refresh_pending:
                break
            # a real pause, not sleep(0): Faust needs several loop turns per message, so the
            # consume path only gets through a batch if the refresh steps aside for a moment
            await asyncio.sleep(REFRESH_PAUSE_S)
        await state.flush()

    async def watch_loop(self) -> None:
        """Forever: sleep :data:`LOOP_PROBE_S` and observe how much later than asked the loop
        woke this up (``fillrate_event_loop_lag_seconds``). Whatever holds the loop that long
        holds every message waiting behind it: the worker's own latency can be no better."""
        loop = asyncio.get_running_loop()
        lag = self.worker.metrics.loop_lag
        while True:
            start = loop.time()
            await asyncio.sleep(LOOP_PROBE_S)
            lag.observe(max(0.0, loop.time() - start - LOOP_PROBE_S))

    async def update_gauges(self) -> None:
        """Publish the sizes and running counts kept elsewhere (engine, monitor, state)."""
        worker = self.worker
        metrics, settings = worker.metrics, worker.settings
        if worker.ready:
            topics = (settings.signals_topic, settings.feedback_topic)
            for topic, lag in (await consumer_lag(worker.app.consumer, topics)).items():
                metrics.consumer_lag.labels(topic).set(lag)
        stats = worker.engine.stats()
        metrics.availability_entries.set(stats.availability_entries)
        metrics.live_rankings.set(stats.live_rankings)
        metrics.catalog_items.set(stats.catalog_items)
        metrics.interactions_counted.set(stats.interactions_counted)
        learning = worker.monitor.snapshot()
        if stats.feedback_learned:
            metrics.model_log_loss.set(learning.log_loss)
            metrics.prior_log_loss.set(learning.prior_log_loss)
            metrics.model_roc_auc.set(learning.roc_auc)
            metrics.acceptance_rate.set(learning.acceptance_rate)
        metrics.catch_up(metrics.acceptance_drifts, learning.drifts)
        metrics.catch_up(metrics.stale_signals, stats.stale_signals)
        metrics.catch_up(metrics.signals_already_applied, worker.state.skipped_signals)
        metrics.learning_lag.set(worker.learning.lag())
        worker.gc_pauses.flush()


async def consumer_lag(consumer: ConsumerT, topics: Iterable[str]) -> dict[str, int]:
    """Per topic: high watermark minus the next offset to process, over our partitions.

    The next offset follows the last one Faust's streams processed; a partition with nothing
    processed yet counts from its fetch position.
    """
    lag = dict.fromkeys(topics, 0)
    for tp in consumer.assignment():
        if tp.topic not in lag:
            continue
        try:
            high = consumer.highwater(tp)
            if high is None:
                continue
            read = last_read_offset(consumer, tp)
            next_offset = read + 1 if read is not None else await consumer.position(tp)
        except (AssertionError, IllegalStateError):
            # Revoked by a rebalance under way (Faust's assignment is not updated yet):
            # aiokafka refuses the question, and a timer that raises crashes the worker.
            continue
        if next_offset is not None:
            lag[tp.topic] += max(0, high - next_offset)
    return lag
