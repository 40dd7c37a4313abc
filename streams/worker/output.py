"""Everything a worker writes: rankings, dead letters, and record batches.

Nothing here raises to an agent. A message that cannot be queued is counted in
``fillrate_produce_errors_total`` and logged; one queued but not delivered is counted when its
delivery fails. Delivery is never awaited on the hot path: Faust flushes its producer before it
commits input offsets, so a committed input always has its output written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, cast

import faust
import orjson
from faust.types import Message, TopicT

from online_learning.contract import dead_letter_payload
from online_learning.ranking import Ranking
from streams.batch_produce import Record, send_records
from streams.faust_internals import producer_of
from streams.metrics import WorkerMetrics, error_kind
from streams.settings import Settings

__all__ = ["Output"]

log = logging.getLogger("fillrate.worker")


class Output:
    """Publishes rankings, dead-letters refused messages, writes record batches."""

    def __init__(
        self, app: faust.App, settings: Settings, metrics: WorkerMetrics, deadletter: TopicT
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.deadletter = deadletter

    # -- rankings ------------------------------------------------------------------------------
    async def publish(self, rankings: Sequence[Ranking], caused_at: float | None) -> None:
        """Queue ``rankings``; ``caused_at``: the triggering event's Kafka timestamp (None for
        a model-update re-rank), for the latency histogram."""
        # Straight to the producer (batched by linger_ms), not through Faust's Topic.send and
        # its per-message FutureMessage bookkeeping; delivery failures are counted on arrival.
        metrics = self.metrics
        for ranking in rankings:
            value = orjson.dumps(ranking.to_payload())
            try:
                future = cast(
                    "asyncio.Future[Any]",
                    await self.app.producer.send(
                        self.settings.rankings_topic, ranking.key.encode(), value, None, None, None
                    ),
                )
            except Exception:
                metrics.produce_errors.inc()
                log.exception("could not publish ranking %s", ranking.ranking_id)
                continue
            future.add_done_callback(partial(self._delivered, ranking.ranking_id))
            metrics.rankings_out.labels(ranking.trigger).inc()
            if ranking.explored:
                metrics.rankings_explored.inc()
            if caused_at is not None:
                metrics.latency.observe(max(0.0, time.time() - caused_at))

    def _delivered(self, ranking_id: str, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.metrics.produce_errors.inc()
            log.error(
                "ranking %s was not delivered: %r",
                ranking_id,
                None if future.cancelled() else future.exception(),
            )

    # -- dead letters --------------------------------------------------------------------------
    async def dead_letter(self, message: Message, exc: Exception) -> None:
        """Send ``message`` with the reason it was refused to the dead-letter topic; count it.

        An exception that is not a refusal of the input is a bug: logged with its traceback,
        dead-lettered as ``internal``.
        """
        kind = error_kind(exc)
        if kind == "internal":
            log.exception(
                "bug while processing %s@%s/%s",
                message.topic,
                message.partition,
                message.offset,
                exc_info=exc,
            )
            error = f"internal error: {exc.__class__.__name__}: {exc}"
        else:
            error = str(exc)
        self.metrics.dead_letters.labels(message.topic, kind).inc()
        payload = dead_letter_payload(
            message.topic, message.partition, message.offset, error, message.value, time.time()
        )
        try:
            await self.deadletter.send(key=message.key, value=orjson.dumps(payload))
        except Exception:
            self.metrics.produce_errors.inc()
            log.exception(
                "could not dead-letter %s@%s/%s", message.topic, message.partition, message.offset
            )

    # -- record batches ------------------------------------------------------------------------
    async def write(self, topic: str, partition: int, records: list[Record], what: str) -> None:
        """Queue records as record batches (batch_produce.py); delivery is checked on arrival.

        ``what`` names the records in the log line if they cannot be queued.
        """
        try:
            await send_records(producer_of(self.app), topic, partition, records, self._lost)
        except Exception:
            self.metrics.produce_errors.inc(len(records))
            log.exception("could not write %d %s", len(records), what)

    async def write_state(self, partition: int, records: list[Record]) -> None:
        """Records of the store-state changelog (state_changelog.py)."""
        await self.write(self.settings.state_topic, partition, records, "state changelog records")

    async def forward(self, records: list[Record]) -> None:
        """Append valid feedback events to the learning log (learning_log.py)."""
        await self.write(
            self.settings.learning_topic, 0, records, "feedback events to the learning log"
        )

    def _lost(self, topic: str, partition: int, n: int, exc: BaseException) -> None:
        self.metrics.produce_errors.inc(n)
        log.error("%d records for %s[%d] were not delivered: %r", n, topic, partition, exc)
