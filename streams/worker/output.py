"""Everything a worker writes: rankings, replies, dead letters, and record batches.

Nothing here raises to an agent. A message that cannot be queued is counted in
``fillrate_produce_errors_total`` and logged; one queued but not delivered is counted when its
delivery fails. Delivery is never awaited on the hot path: Faust flushes its producer before it
commits input offsets, so a committed input always has its output written.

The rankings topic is a table keyed by ``store_id:item_id``: a ranking is the key's new value,
and a live ranking that ended (restock, ...; the engine's ``take_retired``) is a tombstone, a
null value, which deletes the key from every table consumer (and, compacted, from the topic).
Rankings and tombstones are queued under one lock, in the order the engine decided them, so a
tombstone can never overtake the ranking that made its key live again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, cast

import faust
import orjson
from faust.types import Message

from online_learning.contract import dead_letter_payload
from online_learning.ranking import Ranking, empty_reason
from streams.awaited_producer import AwaitedProducer
from streams.batch_produce import Record, send_records
from streams.connection import KafkaConnection
from streams.faust_internals import producer_of
from streams.metrics import WorkerMetrics, error_kind
from streams.settings import Settings
from streams.worker.partitioning import murmur2_partition

__all__ = ["Output"]

log = logging.getLogger("fillrate.worker")


class Output:
    """Publishes rankings, dead-letters refused messages, writes record batches."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        metrics: WorkerMetrics,
        connection: KafkaConnection,
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        # the replies' changelog records, which a reply waits for (run by the worker)
        self.awaited = AwaitedProducer(connection)
        self._dead: list[tuple[bytes | None, bytes, int]] = []  # (key, value, source partition)
        self._deadletter_partition_ids: list[int] = []
        # asyncio.Lock wakes waiters in order: the engine's decisions reach the producer in the
        # order they were made, across the signal agent and the refresh timer
        self._rankings_order = asyncio.Lock()
        # rankings and tombstones queued and not yet acknowledged (or failed): the changelog's
        # state records wait for them (undelivered_rankings)
        self._undelivered: set[asyncio.Future[Any]] = set()

    # -- rankings ------------------------------------------------------------------------------
    async def publish(
        self,
        rankings: Sequence[Ranking],
        caused_at: float | None,
        retired: Mapping[tuple[str, str], str] | None = None,
        received_at: float | None = None,
    ) -> None:
        """Queue a tombstone for each key of ``retired`` ((store, item) -> why, counted by
        why), then ``rankings``. ``caused_at``: the triggering event's Kafka timestamp (None
        for a model-update re-rank), for the latency histogram; ``received_at``: when this
        worker's consumer handed that event over (monotonic clock), for the worker's own
        latency. Call it right after the engine decided them, with no await between, so the
        lock keeps the engine's order (and undelivered_rankings sees every decision)."""
        async with self._rankings_order:
            for (store_id, item_id), why in (retired or {}).items():
                if await self._send_ranking(f"{store_id}:{item_id}", None, "retired"):
                    self.metrics.rankings_retired.labels(why).inc()
            await self._publish(rankings, caused_at, received_at)

    async def _send_ranking(self, key: str, value: bytes | None, what: str) -> bool:
        """Queue one record of the rankings topic; False if it could not be queued (counted)."""
        try:
            future = cast(
                "asyncio.Future[Any]",
                await self.app.producer.send(
                    self.settings.rankings_topic, key.encode(), value, None, None, None
                ),
            )
        except Exception:
            self.metrics.produce_errors.inc()
            log.exception("could not publish %s %s", what, key)
            return False
        future.add_done_callback(partial(self._delivered, f"{what} {key}"))
        self._undelivered.add(future)
        future.add_done_callback(self._undelivered.discard)
        return True

    async def undelivered_rankings(self) -> tuple[asyncio.Future[Any], ...]:
        """The delivery futures of the rankings and tombstones not yet delivered, once every
        ranking decided so far is queued on the producer (a publish under way finished).

        The store-state changelog writes the state those rankings came from only once these
        are done (state_changelog.py): the producer drains each partition's batch on its own
        linger, so a state record could otherwise reach the broker in an earlier request than
        the ranking it implies, and a crash between the two would lose that ranking for good
        (its signal reads as applied and is skipped when delivered again).
        """
        while self._rankings_order.locked():
            # rankings decided but maybe not queued yet (decisions go to publish() with no
            # await before it, see publish)
            async with self._rankings_order:
                pass
        return tuple(self._undelivered)

    async def _publish(
        self, rankings: Sequence[Ranking], caused_at: float | None, received_at: float | None
    ) -> None:
        # Straight to the producer (batched by linger_ms), not through Faust's Topic.send and
        # its per-message FutureMessage bookkeeping; delivery failures are counted on arrival.
        metrics = self.metrics
        own = metrics.worker_latency.labels("ranking")
        for ranking in rankings:
            value = orjson.dumps(ranking.to_payload())
            if not await self._send_ranking(ranking.key, value, f"ranking {ranking.ranking_id}"):
                continue
            metrics.rankings_out.labels(ranking.trigger).inc()
            if not ranking.substitutes:
                metrics.rankings_empty.labels(empty_reason(ranking.reason)).inc()
            if ranking.explored:
                metrics.rankings_explored.inc()
            if caused_at is not None:
                metrics.latency.observe(max(0.0, time.time() - caused_at))
            if received_at is not None:
                own.observe(max(0.0, time.monotonic() - received_at))

    # -- replies -------------------------------------------------------------------------------
    async def publish_replies(
        self, replies: Sequence[tuple[bytes, bytes, float | None, float | None]]
    ) -> None:
        """Queue replies ((key, value, the request's Kafka timestamp, when this worker's
        consumer handed the request over)) on the replies topic, keyed by order id, and observe
        each one's latency, end to end and the worker's own."""
        topic = self.settings.replies_topic
        own = self.metrics.worker_latency.labels("reply")
        for key, value, caused_at, received_at in replies:
            try:
                future = cast(
                    "asyncio.Future[Any]",
                    await self.app.producer.send(topic, key, value, None, None, None),
                )
            except Exception:
                self.metrics.produce_errors.inc()
                log.exception("could not publish the reply for order %r", key)
                continue
            future.add_done_callback(partial(self._delivered, f"reply {key!r}"))
            if caused_at is not None:
                self.metrics.reply_latency.observe(max(0.0, time.time() - caused_at))
            if received_at is not None:
                own.observe(max(0.0, time.monotonic() - received_at))

    def _delivered(self, what: str, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self.metrics.produce_errors.inc()
            log.error(
                "%s was not delivered: %r",
                what,
                None if future.cancelled() else future.exception(),
            )

    # -- dead letters --------------------------------------------------------------------------
    def refuse(self, message: Message, exc: Exception) -> None:
        """Count ``message`` as refused and queue it, with the reason, for the dead-letter topic.

        :meth:`flush_dead_letters` sends what was queued, in record batches: refusing a record
        costs about what accepting one does, so a burst of bad input does not stall the good
        input behind it. An exception that is not a refusal of the input is a bug: logged with
        its traceback, dead-lettered as ``internal``.
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
        self._dead.append((message.key, orjson.dumps(payload), message.partition))

    async def flush_dead_letters(self) -> None:
        """Send the queued dead letters: one record batch per dead-letter partition.

        A keyed record goes where Kafka's default partitioner (murmur2, as Java's) puts its
        key, as a plain producer would; an unkeyed one to its source partition number.
        """
        if not self._dead:
            return
        dead, self._dead = self._dead, []
        topic = self.settings.deadletter_topic
        partitions = await self._deadletter_partitions()
        batches: dict[int, list[Record]] = {}
        for key, value, source_partition in dead:
            if not partitions:
                partition = source_partition
            elif key is not None:
                partition = partitions[murmur2_partition(key, len(partitions))]
            else:
                partition = partitions[source_partition % len(partitions)]
            batches.setdefault(partition, []).append((key, value))
        for partition, records in batches.items():
            await self.write(topic, partition, records, "dead letters")

    async def _deadletter_partitions(self) -> list[int]:
        if not self._deadletter_partition_ids:
            try:
                found = await producer_of(self.app).partitions_for(self.settings.deadletter_topic)
            except Exception:
                log.exception("no metadata for %s", self.settings.deadletter_topic)
                return []
            self._deadletter_partition_ids = sorted(found)
        return self._deadletter_partition_ids

    # -- record batches ------------------------------------------------------------------------
    async def write(
        self, topic: str, partition: int, records: list[Record], what: str, awaited: bool = False
    ) -> list[asyncio.Future[Any]]:
        """Queue records as record batches (batch_produce.py); delivery is checked on arrival.

        Returns the batches' delivery futures (none if they could not be queued). ``what``
        names the records in the log line if they cannot be queued. ``awaited``: on the
        producer of the records a caller waits for (awaited_producer.py), not Faust's.
        """
        try:
            producer = await self.awaited.producer() if awaited else producer_of(self.app)
            return await send_records(producer, topic, partition, records, self._lost)
        except Exception:
            self.metrics.produce_errors.inc(len(records))
            log.exception("could not write %d %s", len(records), what)
            return []

    async def write_state(self, partition: int, records: list[Record]) -> list[asyncio.Future[Any]]:
        """Records of the store-state changelog (state_changelog.py)."""
        return await self.write(
            self.settings.state_topic, partition, records, "state changelog records"
        )

    async def write_replies(
        self, partition: int, records: list[Record]
    ) -> list[asyncio.Future[Any]]:
        """The replies' records of the store-state changelog, which the replies wait for: on
        the producer of their own (awaited_producer.py)."""
        return await self.write(
            self.settings.state_topic, partition, records, "replies' changelog records", True
        )

    async def forward(self, records: list[Record]) -> None:
        """Append valid feedback events to the learning log (learning_log.py)."""
        await self.write(
            self.settings.learning_topic, 0, records, "feedback events to the learning log"
        )

    def _lost(self, topic: str, partition: int, n: int, exc: BaseException) -> None:
        self.metrics.produce_errors.inc(n)
        log.error("%d records for %s[%d] were not delivered: %r", n, topic, partition, exc)
