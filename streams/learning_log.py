"""The shared learning log: one ordered sequence of valid feedback that every worker learns from.

The group's feedback agent validates the feedback of its own partitions (bad records are
dead-lettered there, once) and appends each valid event, raw, to a single-partition topic owned
by the app. Every worker reads that topic from the beginning with a consumer outside the group
and learns each event once (the engine de-duplicates by ``event_id``). One partition means one
order: every worker learns the same events in the same order, so every worker holds the same
model, and a restarted worker rebuilds exactly the model it had by replaying the log.

A feedback event re-forwarded after a crash (its offset was not committed yet) appears twice in
the log; the second copy is a duplicate by ``event_id`` on every worker and on every replay.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from online_learning.contract import EventError, decode_feedback
from online_learning.engine import FeedbackResult, SubstitutionEngine, UnknownReference
from online_learning.monitoring import LearningMonitor
from streams.catalog_reader import CatalogReader
from streams.connection import KafkaConnection
from streams.metrics import WorkerMetrics
from streams.replay import TopicReplay

__all__ = ["LearningLogReader", "event_ids_digest"]

log = logging.getLogger("fillrate.learning")

_MASK = (1 << 64) - 1


def _id_hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def event_ids_digest(event_ids: list[str] | set[str]) -> str:
    """Order-free digest of a set of event ids: what :class:`LearningLogReader` reports.

    >>> event_ids_digest({"a", "b"}) == event_ids_digest(["b", "a"])
    True
    """
    return f"{sum(_id_hash(e) for e in set(event_ids)) & _MASK:016x}"


class LearningLogReader:
    """Learns every record of the learning log, in log order; ``ready`` once the backlog is in.

    Each event learned is scored by ``monitor`` (progressive validation, drift); None: by a
    monitor of its own.
    """

    def __init__(
        self,
        connection: KafkaConnection | str,
        topic: str,
        engine: SubstitutionEngine,
        catalog: CatalogReader,
        metrics: WorkerMetrics,
        monitor: LearningMonitor | None = None,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.engine = engine
        self.catalog = catalog
        self.metrics = metrics
        self.monitor = LearningMonitor() if monitor is None else monitor
        self.ready = asyncio.Event()
        self.learned = 0
        self.duplicates = 0
        self.skipped = 0  # valid when forwarded, refused now (e.g. an item removed since)
        self._digest = 0
        self._replay: TopicReplay | None = None
        self._next_offset = 0

    @property
    def digest(self) -> str:
        """Order-free digest of the event ids learned (see :func:`event_ids_digest`)."""
        return f"{self._digest:016x}"

    def lag(self) -> int:
        """Records in the log not learned yet, as of the last fetch (the model's staleness)."""
        replay = self._replay
        if replay is None:
            return 0
        high = replay.highwater(0)
        if high is None:
            return 0
        return max(0, high - self._next_offset)

    async def run(self) -> None:
        """Read forever (until cancelled)."""
        await self.catalog.ready.wait()
        async with TopicReplay(self.connection, self.topic, [0], fetch_max_wait_ms=50) as replay:
            self._replay = replay
            try:
                await self._read(replay)
            finally:
                self._replay = None

    async def _read(self, replay: TopicReplay) -> None:
        started = time.monotonic()
        if await replay.reached():  # an empty log
            self._caught_up(started)
        async for records in replay.follow():
            for record in records:
                await self._learn(record.value)
                self._next_offset = record.offset + 1
            if not self.ready.is_set() and await replay.reached():
                self._caught_up(started)

    def _caught_up(self, started: float) -> None:
        log.warning(
            "model rebuilt from %s: %d feedback events learned (%d duplicates) in %.1fs",
            self.topic,
            self.learned,
            self.duplicates,
            time.monotonic() - started,
        )
        self.ready.set()

    async def _learn(self, value: bytes | None) -> None:
        try:
            feedback = decode_feedback(value)
            try:
                outcome = self.engine.on_feedback(feedback)
            except UnknownReference:
                await self.catalog.sync()
                outcome = self.engine.on_feedback(feedback)
        except EventError as exc:
            self.skipped += 1
            self.metrics.learning_skipped.labels("refused").inc()
            log.warning("learning log record not learned: %s", exc)
            return
        except Exception:
            # A bug must not stop every worker's learning (they all read this log): skip the
            # record, say so loudly, count it.
            self.skipped += 1
            self.metrics.learning_skipped.labels("internal").inc()
            log.exception(
                "bug while learning a learning log record; skipped: %r",
                value[:500] if value else value,
            )
            return
        if outcome.result is FeedbackResult.LEARNED:
            self.learned += 1
            self._digest = (self._digest + _id_hash(feedback.event_id)) & _MASK
            self.metrics.feedback_learned.inc()
            self.monitor.observe(outcome)
        else:
            self.duplicates += 1
            self.metrics.feedback_duplicates.inc()
