"""The shared learning log: one ordered sequence of valid feedback that every worker learns from.

The group's feedback agent validates the feedback of its own partitions (bad records are
dead-lettered there, once) and appends each valid event, raw, to a single-partition topic owned
by the app. Every worker reads that topic from the beginning with a consumer outside the group
and learns each event once (the engine de-duplicates by ``event_id``). One partition means one
order: every worker learns the same events in the same order, so every worker holds the same
model, and a restarted worker rebuilds exactly the model it had by replaying the log.

A feedback event re-forwarded after a crash (its offset was not committed yet) appears twice in
the log; the second copy is a duplicate by ``event_id`` on every worker and on every replay.

The log also carries what the popularity feature learns from: every :data:`DEMAND_INTERVAL_S`
each worker appends the demand its own signals showed (``found`` / ``not_found`` counts per
item, :func:`publish_demand`), and every worker applies those summaries where they stand in
the log, so popularity too is the same on every worker and after a replay.

Snapshots (model_snapshots.py) keep a restart short at any log length: every
``snapshot_every`` records, the worker that holds signals partition 0 writes everything the log
taught its engine, with this reader's own counters, at the offset it reached. A starting worker
loads the newest snapshot and reads the log from the offset after it; a snapshot that cannot be
used (damaged, another learning configuration, another format) is said loudly and counted
(``fillrate_snapshot_fallbacks_total``), and the whole log is replayed instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from online_learning.contract import (
    DemandSummary,
    EventError,
    decode_demand,
    decode_feedback,
    encode_demand,
    is_demand_record,
)
from online_learning.engine import FeedbackResult, SubstitutionEngine, UnknownReference
from online_learning.monitoring import LearningMonitor
from online_learning.snapshot import (
    SnapshotError,
    decode_state_in_bulk,
    encode_state,
    engine_state,
    restore_decoded,
)
from streams.batch_produce import Record
from streams.catalog_reader import CatalogReader
from streams.connection import KafkaConnection
from streams.metrics import WorkerMetrics
from streams.model_snapshots import Manifest, SnapshotTopic
from streams.replay import TopicReplay

__all__ = ["DEMAND_INTERVAL_S", "LearningLogReader", "event_ids_digest", "publish_demand"]

log = logging.getLogger("fillrate.learning")

DEMAND_INTERVAL_S = 60.0
"""How often (wall-clock seconds) a worker appends the demand its signals showed to the log.
Popularity fades over days, so a minute's delay changes nothing that matters, and one summary
a minute per worker keeps the log, and a replay of it, small."""

_MASK = (1 << 64) - 1
LEARN_SLICE_S = 0.002  # learning between two turns of the event loop, at most (about)
# Once serving, a slice of learning waits (``step_aside``) for the records the worker's
# consumer fetched to be in the agents' hands, for at most LEARN_MAX_WAIT_S, and only while
# the reader is fewer than LEARN_BEHIND_RECORDS behind the log: a busy stream delays learning
# a little, never for good.
LEARN_MAX_WAIT_S = 0.02
LEARN_BEHIND_RECORDS = 1_000


def _id_hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def event_ids_digest(event_ids: list[str] | set[str]) -> str:
    """Order-free digest of a set of event ids: what :class:`LearningLogReader` reports.

    >>> event_ids_digest({"a", "b"}) == event_ids_digest(["b", "a"])
    True
    """
    return f"{sum(_id_hash(e) for e in set(event_ids)) & _MASK:016x}"


async def publish_demand(
    engine: SubstitutionEngine, forward: Callable[[list[Record]], Awaitable[None]]
) -> int:
    """Append the demand ``engine`` counted since the last call to the learning log with
    ``forward``; returns the records written (0: nothing to say)."""
    summary = engine.take_demand()
    if summary is None:
        return 0
    records: list[Record] = [(key, value) for key, value in encode_demand(summary)]
    await forward(records)
    return len(records)


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
        snapshots: SnapshotTopic | None = None,
        snapshot_every: int = 0,
        writes_snapshots: Callable[[], bool] = lambda: False,
        snapshot_min_interval_s: float = 60.0,
        step_aside: Callable[[float], Awaitable[object]] | None = None,
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
        self.demand_summaries = 0  # demand summary records applied
        self._digest = 0
        self._replay: TopicReplay | None = None
        self._next_offset = 0
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every
        self.writes_snapshots = writes_snapshots
        self.snapshot_min_interval_s = snapshot_min_interval_s
        self._last_snapshot_at = -math.inf  # monotonic time of the last snapshot taken
        self.restored_from: int | None = None  # the log offset of the snapshot loaded at start
        self._last_snapshot = 0  # the next offset at the last snapshot written or loaded
        self._writing: asyncio.Task[None] | None = None
        # awaited with the longest wait before each slice once serving (the worker's
        # Deliveries.settled: until what its consumer fetched is in the agents' hands)
        self.step_aside = step_aside

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
        # The newest snapshot is read and decoded (in a thread), and the log's consumer
        # connects, while the catalog loads; only putting the snapshot into the engine waits
        # for the catalog, and the tail is read as soon as it is in.
        snapshot = asyncio.ensure_future(self._read_snapshot())
        try:
            async with TopicReplay(
                self.connection, self.topic, [0], fetch_max_wait_ms=50
            ) as replay:
                await self.catalog.ready.wait()
                start = await self._restore(snapshot)
                self._replay = replay
                if start:
                    replay.seek(0, start)
                self._next_offset = start
                try:
                    await self._read(replay)
                finally:
                    self._replay = None
        finally:
            snapshot.cancel()  # done by then, unless the start failed

    # -- snapshots -----------------------------------------------------------------------------
    async def _read_snapshot(self) -> tuple[Manifest, dict[str, Any]] | None:
        """The newest snapshot's manifest and decoded state; None without one."""
        if self.snapshots is None:
            return None
        found = await self.snapshots.read()
        if found is None:
            return None
        manifest, data = found
        loop = asyncio.get_running_loop()
        return manifest, await loop.run_in_executor(None, decode_state_in_bulk, data)

    async def _restore(self, snapshot: Awaitable[tuple[Manifest, dict[str, Any]] | None]) -> int:
        """Load the newest snapshot into the engine; the log offset to read from (0: the
        whole log)."""
        started = time.monotonic()
        try:
            found = await snapshot
            if found is None:
                return 0
            manifest, state = found
            extra = restore_decoded(self.engine, state)
            del state
            self._load_counters(extra)
        except SnapshotError as exc:
            self._fall_back("unusable", exc)
            return 0
        except Exception as exc:  # the topic unreadable, or a bug: the log still works
            self._fall_back("error", exc)
            return 0
        self.restored_from = manifest.offset
        self._last_snapshot = manifest.offset + 1
        log.warning(
            "model restored from the snapshot at %s offset %d (%s bytes, %d feedback events)"
            " in %.1fs after the catalog; reading the log from there",
            self.topic,
            manifest.offset,
            f"{manifest.size:,}",
            self.learned,
            time.monotonic() - started,
        )
        return manifest.offset + 1

    def _fall_back(self, reason: str, exc: Exception) -> None:
        self.metrics.snapshot_fallbacks.labels(reason).inc()
        log.error(
            "the newest model snapshot cannot be used (%s); replaying the whole learning log"
            " %s instead, which takes longer",
            exc,
            self.topic,
        )

    def _counters(self) -> dict[str, Any]:
        return {
            "offset": self._next_offset - 1,
            "learned": self.learned,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "demand_summaries": self.demand_summaries,
            "digest": self._digest,
            "monitor": self.monitor.state(),
        }

    def _load_counters(self, extra: Mapping[str, Any]) -> None:
        self.learned = int(extra["learned"])
        self.duplicates = int(extra["duplicates"])
        self.skipped = int(extra["skipped"])
        self.demand_summaries = int(extra["demand_summaries"])
        self._digest = int(extra["digest"])
        self.monitor.load_state(extra["monitor"])

    def _maybe_snapshot(self) -> None:
        """Start writing a snapshot if ``snapshot_every`` records and
        ``snapshot_min_interval_s`` passed since the last one, this worker is the writer, and
        no write is under way."""
        now = time.monotonic()
        if (
            self.snapshots is None
            or self.snapshot_every <= 0
            or self._next_offset - self._last_snapshot < self.snapshot_every
            or now - self._last_snapshot_at < self.snapshot_min_interval_s
            or (self._writing is not None and not self._writing.done())
            or not self.writes_snapshots()
        ):
            return
        offset = self._next_offset - 1
        # Copied now, between two records (the engine must not change while it is read): this
        # part holds up learning, about 2-6 s at a million learned events on these machines
        # (benchmarks/bench_snapshot.py); compressing and writing it do not.
        state = engine_state(self.engine, self._counters())
        self._last_snapshot = self._next_offset
        self._last_snapshot_at = now
        self._writing = asyncio.ensure_future(self._write(state, offset, now))

    async def _write(self, state: dict[str, Any], offset: int, started: float) -> None:
        assert self.snapshots is not None
        try:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(None, encode_state, state, "zlib")
            await self.snapshots.write(data, offset)
        except Exception as exc:
            self.metrics.snapshot_fallbacks.labels("write_failed").inc()
            log.error("writing the model snapshot at log offset %d failed: %r", offset, exc)
            return
        self.metrics.snapshots_written.inc()
        self.metrics.snapshot_bytes.set(len(data))
        log.info(
            "model snapshot at log offset %d written: %s bytes in %.2fs",
            offset,
            f"{len(data):,}",
            time.monotonic() - started,
        )

    async def _read(self, replay: TopicReplay) -> None:
        # Caught up is decided after a fetch, never before the first: read from a snapshot's
        # offset, the position can already be past the end the embedded broker reports (the
        # first offset of the last record batch plus one, streams/replay.py) while the rest
        # of that batch is still to be learned. An empty log costs one empty fetch.
        started = time.monotonic()
        async for records in replay.follow():
            # A fetch holds up to hundreds of records at 0.3-1 ms each: once the worker serves
            # (the log caught up), it is learned in slices of LEARN_SLICE_S, each after the
            # records the consumer fetched meanwhile are in the agents' hands (_step_aside), so
            # a signal's ranking does not wait behind learning. Not while catching up: nothing
            # waits on the loop then but the start itself, and the other tasks' turns slowed
            # the catch-up (5,000 events: 1.1 s without, 1.5 s with; bench_restart.py --quick).
            serving = self.ready.is_set()
            if serving and records:
                await self._step_aside()
            deadline = time.perf_counter() + LEARN_SLICE_S
            for record in records:
                await self._apply(record.key, record.value)
                self._next_offset = record.offset + 1
                if serving and time.perf_counter() >= deadline:
                    await self._step_aside()
                    deadline = time.perf_counter() + LEARN_SLICE_S
            if records:
                self._maybe_snapshot()
            if not self.ready.is_set() and await replay.reached():
                self._caught_up(started)

    async def _step_aside(self) -> None:
        """Let the event loop turn, and let the records the worker fetched go first, unless
        the reader is LEARN_BEHIND_RECORDS or more behind the log."""
        await asyncio.sleep(0)
        if self.step_aside is not None and self.lag() < LEARN_BEHIND_RECORDS:
            await self.step_aside(LEARN_MAX_WAIT_S)

    def _caught_up(self, started: float) -> None:
        since = (
            "" if self.restored_from is None else f" (from the snapshot at {self.restored_from})"
        )
        log.warning(
            "model rebuilt from %s%s: %d feedback events learned (%d duplicates) in %.1fs",
            self.topic,
            since,
            self.learned,
            self.duplicates,
            time.monotonic() - started,
        )
        self.ready.set()

    async def _apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the log: a demand summary (by its key and shape) or a feedback event."""
        if is_demand_record(key):
            try:
                summary = decode_demand(value)
            except EventError as exc:
                try:  # a feedback event whose producer happened to use the demand key
                    decode_feedback(value)
                except EventError:
                    self._skip("refused", exc, value)
                    return
            else:
                self._learn_demand(summary, value)
                return
        await self._learn(value)

    def _learn_demand(self, summary: DemandSummary, value: bytes | None) -> None:
        try:
            self.engine.apply_demand(summary)
        except Exception as exc:  # a bug: the same on every worker, so skipping keeps them equal
            self._skip("internal", exc, value)
            return
        self.demand_summaries += 1

    def _skip(self, reason: str, exc: Exception, value: bytes | None) -> None:
        self.skipped += 1
        self.metrics.learning_skipped.labels(reason).inc()
        if reason == "refused":
            log.warning("learning log record not learned: %s", exc)
        else:
            log.error(
                "bug while learning a learning log record; skipped: %r",
                value[:500] if value else value,
                exc_info=exc,
            )

    async def _learn(self, value: bytes | None) -> None:
        try:
            feedback = decode_feedback(value)
            try:
                outcome = self.engine.on_feedback(feedback)
            except UnknownReference:
                await self.catalog.sync()
                outcome = self.engine.on_feedback(feedback)
        except EventError as exc:
            self._skip("refused", exc, value)
            return
        except Exception as exc:
            # A bug must not stop every worker's learning (they all read this log): skip the
            # record, say so loudly, count it.
            self._skip("internal", exc, value)
            return
        if outcome.result is FeedbackResult.LEARNED:
            self.learned += 1
            self._digest = (self._digest + _id_hash(feedback.event_id)) & _MASK
            self.metrics.feedback_learned.inc()
            self.monitor.observe(outcome)
        else:
            self.duplicates += 1
            self.metrics.feedback_duplicates.inc()
