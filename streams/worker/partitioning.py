"""Where Kafka's default partitioner puts a key, and the check that input records arrived there.

A worker keeps each store's availability and live rankings with the signals partition the
store's records arrive on (state_changelog.py). That holds only while every producer puts a
store's records in the same partition: the contract's is the one Java's default partitioner
picks, murmur2 of the key (the store_id), which aiokafka's and franz-go's defaults pick too.
librdkafka's default (``consistent_random``, a CRC32 of the key) picks another partition for
most keys, so a librdkafka client (kcat, confluent-kafka-python, -go, -dotnet) must set
``partitioner=murmur2_random``; otherwise a store whose records come from both kinds of producer
has them on two partitions, read by two workers that each hold part of its state.

:class:`RoutingCheck` finds such records as they arrive: it still processes them (they are valid
input; refusing them would lose them) but counts them in
``fillrate_records_misrouted_total{topic}`` and logs, once per topic, what is wrong and the fix.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import faust
from aiokafka.partitioner import murmur2
from faust.types import EventT

from streams.faust_internals import producer_of
from streams.metrics import WorkerMetrics

__all__ = ["RoutingCheck", "StoreRecord", "murmur2_partition", "partition_count"]

log = logging.getLogger("fillrate.worker")

PartitionCount = Callable[[str], Awaitable[int]]
"""How many partitions a topic has."""

_HASH_CACHE_SIZE = 65_536  # stores remembered; a chain's store count is far below this


def murmur2_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java client (and aiokafka) picks by default for ``key`` among
    ``partitions``: the positive part of its murmur2 hash modulo the count.

    aiokafka's ``murmur2`` is a port of Java's ``Utils.murmur2`` (the tests check it against
    the hashes in Kafka's own tests).

    >>> [murmur2_partition(b"store-1", 4), murmur2_partition(b"store-2", 4)]
    [0, 1]
    >>> murmur2_partition(b"store-1", 1)
    0
    """
    return _positive_murmur2(key) % partitions


def _positive_murmur2(key: bytes) -> int:
    # Java's Utils.toPositive: the sign bit dropped, not the absolute value.
    return murmur2(key) & 0x7FFFFFFF


async def partition_count(app: faust.App, topic: str) -> int:
    """How many partitions ``topic`` has, from the metadata of ``app``'s producer.

    aiokafka keeps that metadata and refreshes it every ``metadata_max_age_ms``, so asking once
    per batch costs no request.
    """
    return len(await producer_of(app).partitions_for(topic))


class StoreRecord(Protocol):
    """A decoded input record that belongs to a store (signals, feedback)."""

    @property
    def store_id(self) -> str: ...


class RoutingCheck:
    """Counts decoded records that arrived on another partition than murmur2 of their
    store_id picks, and logs the first one of each topic with the fix.

    ``partitions`` answers how many partitions a topic has. A lookup that fails skips the
    check for that batch (logged once per topic): it never holds up or drops a record.
    ``topics``: the topics checked, whose counters are exported (as 0) from the start.
    """

    def __init__(
        self, metrics: WorkerMetrics, partitions: PartitionCount, topics: Iterable[str] = ()
    ) -> None:
        self.metrics = metrics
        self.partitions = partitions
        for topic in topics:
            metrics.records_misrouted.labels(topic)
        self._hashes: dict[str, int] = {}  # store_id -> murmur2 of its UTF-8, positive part
        self._logged: set[str] = set()  # topics whose first misrouted record was logged
        self._lookup_failed: set[str] = set()  # topics whose failed lookup was logged

    async def check(self, records: Sequence[tuple[EventT, StoreRecord]]) -> int:
        """Check ``records`` (all from one topic); returns how many were misrouted."""
        if not records:
            return 0
        topic = records[0][0].message.topic
        try:
            count = await self.partitions(topic)
        except Exception as exc:  # no metadata now: the next batch tries again
            if topic not in self._lookup_failed:
                self._lookup_failed.add(topic)
                log.warning("cannot check the partitions records of %s arrive on: %r", topic, exc)
            return 0
        if count <= 1:
            return 0
        hashes = self._hashes
        misrouted = 0
        for event, record in records:
            store = record.store_id
            hashed = hashes.get(store)
            if hashed is None:
                if len(hashes) >= _HASH_CACHE_SIZE:
                    hashes.clear()
                hashed = hashes[store] = _positive_murmur2(store.encode())
            partition = event.message.partition
            if hashed % count != partition:
                misrouted += 1
                if topic not in self._logged:
                    self._log_misrouted(event, store, hashed % count)
        if misrouted:
            self.metrics.records_misrouted.labels(topic).inc(misrouted)
        return misrouted

    def _log_misrouted(self, event: EventT, store: str, expected: int) -> None:
        message = event.message
        key = message.key
        if key is None:
            cause = "it has no key"
        elif key != store.encode():
            cause = f"its key is {key!r}, not its store_id"
        else:
            cause = "it is keyed by its store_id, so its producer's partitioner is not murmur2"
        self._logged.add(message.topic)
        log.warning(
            "a record of store %r on %s arrived on partition %d, where Kafka's default"
            " partitioner (murmur2, as Java's) puts that store_id in partition %d: %s."
            " Such records are processed, but a store whose records arrive on two partitions"
            " has its state split between two workers. Producers must key records by store_id"
            " and partition with murmur2: librdkafka clients (kcat, confluent-kafka) set"
            " partitioner=murmur2_random. Counted in fillrate_records_misrouted_total;"
            " this is logged once per topic.",
            store,
            message.topic,
            message.partition,
            expected,
            cause,
        )
