"""Durable per-store state: availability and live rankings on a compacted changelog topic.

Each worker owns the stores of the signal partitions the group gave it. What it learns about
them (every availability entry, every live ranking) is written to the app's changelog topic, in
the same partition number as the signals of that store, keyed by the entry: the latest record
of each key is the state. When the group gives a worker a partition (a crash, a restart, a
worker added), it reads that changelog partition to its end and puts the stores back into its
engine before it processes the partition's signals. That is what Faust tables do; this is
cheaper on the hot path: writes are collected during a batch and produced at its end as one
record batch per partition, without awaiting their delivery.

Rankings before state: a flush reads the state at once but produces it only once the rankings
published before it have left, in the order of the flushes, without holding up the stream
(``written`` waits for what is queued). The producer sends each partition's batch on its own
linger, so otherwise a state record could reach the broker ahead of its ranking, and a crash
between the two would lose the ranking for good. The other way round a crash costs a ranking
sent twice, never one lost. The worker makes Faust's producer flush, which Faust runs before
every offset commit, wait for ``written`` first (``streams.faust_internals.flush_after``), so
a committed signal still always has its state in the changelog.

Exactly once: an availability entry carries the offset of the last signal applied to it. After
a crash, the new owner re-reads signals from the last committed offset; one whose entry already
records its offset (or a later one) was applied before the crash and is skipped, so a
``not_found`` is never compounded twice and its rankings are not sent twice. Within a batch the
live-ranking records are produced before the availability records, in one partition, so an
entry that marks a signal as applied is never in the log without the rankings it changed.

Replies to substitution requests (partitioned like the signals too) are kept in a fixed number
of slots per partition, :data:`REPLY_SLOTS`, the reply to the request at offset ``o`` in slot
``o % REPLY_SLOTS``, and written *before* the reply is published (:meth:`write_replies`
returns once the broker has them; the worker sends them on a producer of their own,
streams/awaited_producer.py, so that wait is one small request's round trip): a request
handled again after a crash, by whichever worker, is answered with the very reply sent before
(``stored_reply``), not a new one the model may have changed since. The replies' records and
the other state records are different keys, so the two producers need no order between them.
That holds for the requests of the last :data:`REPLY_SLOTS` offsets of a partition, far more
than arrive between two offset commits.

Completed orders are counted the same way, once: the offset up to which a partition of the
orders topic (partitioned like the signals, by store) was counted goes to the changelog
partition of the same number, so the worker the partition moves to skips what was counted
before the move (``already_counted``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from online_learning.contract import decode_entry, encode_availability, encode_live
from online_learning.contract.changelog import encode_counted, encode_reply_slot
from online_learning.engine import SubstitutionEngine
from online_learning.ranking import Ranking
from streams.batch_produce import Record
from streams.connection import KafkaConnection
from streams.replay import TopicReplay

__all__ = ["RestoredPartition", "StoreState"]

log = logging.getLogger("fillrate.state")

Send = Callable[[int, list[Record]], Awaitable[list["asyncio.Future[Any]"]]]
"""Queue (key, value) records, in order, for one changelog partition (not awaiting delivery);
returns their delivery futures."""

Undelivered = Callable[[], Awaitable[Collection["asyncio.Future[Any]"]]]
"""The delivery futures of the rankings not delivered yet, once every ranking decided so far is
queued (``streams.worker.output.Output.undelivered_rankings``)."""


async def _none_undelivered() -> tuple[()]:
    return ()


REPLY_SLOTS = 4096
"""Replies kept per requests partition: the last this many requests' replies survive a crash."""


@dataclass
class RestoredPartition:
    """What a restore found; the offsets let re-delivered signals be recognised."""

    partition: int
    availability: int = 0
    live: int = 0
    records: int = 0
    seconds: float = 0.0
    applied: dict[tuple[str, str], int] = field(default_factory=dict)
    applied_upto: int = -1


class StoreState:
    """Writes the owned stores' state to the changelog and restores it for new partitions."""

    def __init__(
        self,
        connection: KafkaConnection | str,
        topic: str,
        engine: SubstitutionEngine,
        send: Send,
        undelivered_rankings: Undelivered = _none_undelivered,
        send_replies: Send | None = None,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.engine = engine
        self.send = send
        # the replies' records, which the replies wait for: ``send`` unless given their own
        self.send_replies = send_replies or send
        self.undelivered_rankings = undelivered_rankings
        self._writing: asyncio.Task[None] | None = None  # the last flush's write, in order
        self.owned: set[int] = set()
        self.rebalancing = True  # until the first assignment
        self.store_partition: dict[str, int] = {}
        self.restored_entries = 0
        self.skipped_signals = 0
        self._restores: dict[int, asyncio.Task[RestoredPartition]] = {}
        self._applied: dict[int, RestoredPartition] = {}
        self._dirty_live: set[tuple[str, str]] = set()
        self._dirty_availability: dict[tuple[str, str], int] = {}
        self._counted: dict[tuple[str, int], int] = {}  # (topic, partition) -> counted upto
        self._dirty_counted: set[tuple[str, int]] = set()
        # (topic, partition) -> offset -> (key, value) of the reply sent before a restore
        self._stored_replies: dict[tuple[str, int], dict[int, tuple[bytes, bytes]]] = {}
        self._new_replies: list[tuple[int, Record]] = []  # (partition, changelog record)

    # -- ownership -----------------------------------------------------------------------------
    def on_revoked(self) -> None:
        """A rebalance began: stop model-update passes until the new assignment is known."""
        self.rebalancing = True

    def on_assigned(self, partitions: Iterable[int]) -> None:
        """The new assignment: forget the stores of lost partitions, restore the gained ones."""
        new = set(partitions)
        lost, gained = self.owned - new, new - self.owned
        if lost:
            for p in lost:
                task = self._restores.pop(p, None)
                if task is not None:
                    task.cancel()
                self._applied.pop(p, None)
            for key in [key for key in self._counted if key[1] in lost]:
                del self._counted[key]
                self._dirty_counted.discard(key)
            for key in [key for key in self._stored_replies if key[1] in lost]:
                del self._stored_replies[key]
            stores = {s for s, p in self.store_partition.items() if p in lost}
            self.engine.forget_stores(stores)
            for s in stores:
                del self.store_partition[s]
            log.info("partitions %s moved away: forgot %d stores", sorted(lost), len(stores))
        self.owned = new
        for p in gained:
            if p not in self._restores:  # an early event may have started it already
                self._start_restore(p)
        self.rebalancing = False

    def busy(self) -> bool:
        """True while a rebalance or a restore is under way (state is incomplete)."""
        return self.rebalancing or any(not t.done() for t in self._restores.values())

    async def ready(self, partition: int) -> None:
        """Wait until ``partition``'s state is restored (returns at once when it is)."""
        task = self._restores.get(partition)
        if task is None:
            task = self._start_restore(partition)
        if not task.done():
            await asyncio.shield(task)

    def _start_restore(self, partition: int) -> asyncio.Task[RestoredPartition]:
        task = asyncio.ensure_future(self._restore(partition))
        self._restores[partition] = task
        return task

    # -- the hot path --------------------------------------------------------------------------
    def already_applied(self, partition: int, offset: int, store_id: str, item_id: str) -> bool:
        """Was this signal applied before a crash (its state is in the changelog)?"""
        restored = self._applied.get(partition)
        if restored is None:
            return False
        if offset > restored.applied_upto:
            del self._applied[partition]  # past everything the changelog knew: stop checking
            return False
        done = restored.applied.get((store_id, item_id))
        if done is not None and offset <= done:
            self.skipped_signals += 1
            return True
        return False

    def applied(
        self, partition: int, offset: int, store_id: str, item_id: str, was_live: bool
    ) -> None:
        """A signal at ``offset`` changed (store, item): note what to write at the batch end."""
        self.store_partition[store_id] = partition
        self._dirty_availability[(store_id, item_id)] = offset
        if was_live:
            self._dirty_live.add((store_id, item_id))

    def already_counted(self, topic: str, partition: int, offset: int) -> bool:
        """Was the message at ``offset`` of ``topic``'s ``partition`` counted already (here,
        or by the partition's owner before it moved here)? Wait for :meth:`ready` first."""
        return offset <= self._counted.get((topic, partition), -1)

    def counted(self, topic: str, partition: int, offset: int) -> None:
        """The message at ``offset`` was counted: note it, to write at the next flush."""
        self._counted[(topic, partition)] = offset
        self._dirty_counted.add((topic, partition))

    def stored_reply(self, topic: str, partition: int, offset: int) -> tuple[bytes, bytes] | None:
        """The reply (key, value) sent to the request at ``offset`` before this partition was
        restored here (a crash, a move), if the changelog kept it; wait for :meth:`ready`."""
        stored = self._stored_replies.get((topic, partition))
        return None if stored is None else stored.get(offset)

    def replied(self, topic: str, partition: int, offset: int, key: bytes, value: bytes) -> None:
        """The reply to the request at ``offset``: written by the next :meth:`write_replies`,
        before the reply itself is published."""
        record = encode_reply_slot(topic, offset % REPLY_SLOTS, offset, key, value)
        self._new_replies.append((partition, record))

    def ranked(self, rankings: Iterable[Ranking]) -> None:
        for ranking in rankings:
            self._dirty_live.add((ranking.store_id, ranking.item_id))

    def retired(self, keys: Iterable[tuple[str, str]]) -> None:
        """Live rankings that ended: their changelog tombstones go out at the next flush."""
        self._dirty_live.update(keys)

    async def write_replies(self) -> None:
        """Write the replies noted since the last call and return once the broker has them
        (or their delivery failed, which is counted): only then may they be published."""
        replies, self._new_replies = self._new_replies, []
        records: dict[int, list[Record]] = {}
        for number, record in replies:
            if number in self.owned:
                records.setdefault(number, []).append(record)
        futures = []
        for partition, batch in records.items():
            futures.extend(await self.send_replies(partition, batch))
        if futures:
            await asyncio.gather(*futures, return_exceptions=True)  # failures: counted on arrival

    async def flush(self) -> None:
        """Read the current state of everything changed since the last flush and have it
        produced once the rankings published before it have left, after the earlier flushes'
        writes (:meth:`written` returns once it is queued on the producer).

        One call of ``send`` per partition; in each, live rankings go first, then availability
        entries: see the module docstring. Nothing awaits between taking the undelivered
        rankings and reading the state, so the state read never runs ahead of them.
        """
        undelivered: Collection[asyncio.Future[Any]] = ()
        if self._dirty_live or self._dirty_availability:
            undelivered = await self.undelivered_rankings()
        live, self._dirty_live = self._dirty_live, set()
        availability, self._dirty_availability = self._dirty_availability, {}
        counted, self._dirty_counted = self._dirty_counted, set()
        engine = self.engine
        records: dict[int, list[Record]] = {}
        for topic, number in counted:
            if number in self.owned:
                upto = self._counted[(topic, number)]
                records.setdefault(number, []).append(encode_counted(topic, upto))
        for store_id, item_id in live:
            partition = self.store_partition.get(store_id)
            if partition is None:
                continue
            record = encode_live(store_id, item_id, engine.live_ranking(store_id, item_id))
            records.setdefault(partition, []).append(record)
        for (store_id, item_id), offset in availability.items():
            entry = engine.availability_entry(store_id, item_id)
            if entry is None:
                continue
            record = encode_availability(store_id, item_id, entry, offset)
            records.setdefault(self.store_partition[store_id], []).append(record)
        if records:
            self._writing = asyncio.ensure_future(self._write(self._writing, undelivered, records))

    async def _write(
        self,
        after: asyncio.Task[None] | None,
        undelivered: Collection[asyncio.Future[Any]],
        records: dict[int, list[Record]],
    ) -> None:
        if after is not None:
            await asyncio.wait((after,))
        if undelivered:
            await asyncio.wait(undelivered)  # failures: counted and logged on arrival
        try:
            for partition, batch in records.items():
                await self.send(partition, batch)
        except Exception:  # a bug: the next flushes must still go out
            log.exception("could not queue the store-state records of %s", sorted(records))

    async def written(self) -> None:
        """Return once what every flush so far read is queued on the producer."""
        while self._writing is not None and not self._writing.done():
            await asyncio.wait((self._writing,))

    # -- restore -------------------------------------------------------------------------------
    async def _restore(self, partition: int) -> RestoredPartition:
        started = time.monotonic()
        while True:
            try:
                found = await self._read(partition)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker trouble: keep trying, the partition waits
                log.error("restoring %s[%d] failed, retrying: %r", self.topic, partition, exc)
                await asyncio.sleep(1.0)
        availability, live, counted, replies = found
        restored = self._import(partition, availability, live)
        for topic, by_offset in replies.items():
            self._stored_replies[(topic, partition)] = by_offset
        for topic, offset in counted.items():
            key = (topic, partition)
            self._counted[key] = max(self._counted.get(key, -1), offset)
        restored.seconds = time.monotonic() - started
        self.restored_entries += restored.availability + restored.live
        if restored.availability or restored.live:
            self._applied[partition] = restored
        log.warning(
            "restored %s[%d]: %d availability entries, %d live rankings from %d records in %.2fs",
            self.topic,
            partition,
            restored.availability,
            restored.live,
            restored.records,
            restored.seconds,
        )
        return restored

    async def _read(
        self, partition: int
    ) -> tuple[
        dict[tuple[str, str], list[Any]],
        dict[tuple[str, str], list[str] | None],
        dict[str, int],
        dict[str, dict[int, tuple[bytes, bytes]]],
    ]:
        """The latest value of every key in one changelog partition, up to its end at start:
        availability entries, live rankings, counted offsets by topic, replies by topic."""
        availability: dict[tuple[str, str], list[Any]] = {}
        live: dict[tuple[str, str], list[str] | None] = {}
        counted: dict[str, int] = {}
        replies: dict[str, dict[int, tuple[bytes, bytes]]] = {}
        async with TopicReplay(
            self.connection,
            self.topic,
            [partition],
            fetch_timeout_ms=200,
            max_records=20_000,
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        ) as replay:
            async for records in replay.backlog():
                for record in records:
                    kind, store_id, item_id, value = decode_entry(record.key, record.value)
                    if kind == "c":
                        if value is not None:
                            counted[store_id] = int(value)  # store_id holds the topic here
                    elif kind == "q":
                        if value is not None:  # store_id holds the topic, item_id the slot
                            offset, key, payload = value
                            reply = (key.encode(), orjson.dumps(payload))
                            replies.setdefault(store_id, {})[int(offset)] = reply
                    else:
                        (availability if kind == "a" else live)[(store_id, item_id)] = value
        return availability, live, counted, replies

    def _import(
        self,
        partition: int,
        availability: dict[tuple[str, str], list[Any]],
        live: dict[tuple[str, str], list[str] | None],
    ) -> RestoredPartition:
        """Put the stores back into the engine in one go (no await: nothing sees half of it).

        Every availability entry first, then the live rankings: the engine judges each ranking
        against availability at the stream time the entries bring back.
        """
        engine = self.engine
        restored = RestoredPartition(partition, records=len(availability) + len(live))
        for (store_id, item_id), value in availability.items():
            if value is None:
                continue
            p, ts, held, offset = value
            engine.restore_availability(store_id, item_id, p, ts, held)
            self.store_partition[store_id] = partition
            restored.applied[(store_id, item_id)] = offset
            restored.applied_upto = max(restored.applied_upto, offset)
            restored.availability += 1
        for (store_id, item_id), substitutes in live.items():
            # A ranking whose item is available again by now (its miss aged out unseen) is
            # not restored; the engine counts it retired and the worker writes its tombstones.
            if substitutes is None:
                continue
            self.store_partition[store_id] = partition  # also where a tombstone would go
            if not engine.restore_live_ranking(store_id, item_id, tuple(substitutes)):
                continue
            restored.live += 1
        return restored
