"""Read a topic's partitions from the beginning, outside any consumer group, then follow.

Three parts of the worker read a topic this way: the catalog (all its partitions, on every
worker), the shared learning log (its one partition, on every worker) and, when the group
hands a worker a partition, that partition of the store-state changelog. None of them may
join the group (each worker needs every record, and nothing is committed), so each reads with
its own consumer: it assigns the partitions, seeks to the beginning and notes the end offsets
it found at start. :meth:`TopicReplay.reached` says when the reading position has passed them,
that is when the backlog that existed at start has been read; after that the same consumer
follows whatever arrives.

The end offsets are the broker's. On the embedded Tansu broker (0.6.0) a partition's reported
end is the first offset of its last record batch plus one, not the true end
(docs/performance.md): "reached" then turns true as soon as a fetch returns the first record
of that last batch. A fetch returns whole batches unless ``max_records`` cuts one, so the rest
of the batch normally comes in the same fetch; when a fetch was cut (it returned
``max_records`` records), :meth:`TopicReplay.reached` says no until a fetch that was not, so a
backlog read never stops in the middle of the last batch.

Asking for the end offsets *while following* uses a second connection that never fetches. A
broker answers one connection's requests in order, so on the reading connection the question
would queue behind a waiting fetch: up to ``fetch_max_wait_ms`` (500 ms by default) for every
answer, which is what made a burst of records naming unknown items crawl.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.aiokafka_internals import force_metadata_update
from streams.connection import KafkaConnection

__all__ = ["Offsets", "RawRecord", "TopicReplay"]

Offsets: TypeAlias = Mapping[TopicPartition, int]
RawRecord: TypeAlias = "ConsumerRecord[bytes, bytes]"


class TopicReplay:
    """A consumer outside any group over ``partitions`` of ``topic`` (all of them if None),
    from their beginning.

    Use it as an async context manager (or call :meth:`start` and :meth:`stop`). ``end`` holds
    the end offsets found at start. ``consumer_options`` go to :class:`AIOKafkaConsumer`
    (``fetch_max_wait_ms``, ``max_partition_fetch_bytes``, ...); ``fetch_timeout_ms`` and
    ``max_records`` shape each :meth:`fetch`.
    """

    def __init__(
        self,
        connection: KafkaConnection | str,
        topic: str,
        partitions: Sequence[int] | None = None,
        *,
        fetch_timeout_ms: int = 100,
        max_records: int = 5000,
        **consumer_options: Any,
    ) -> None:
        self.connection = KafkaConnection.of(connection)
        self.topic = topic
        self.fetch_timeout_ms = fetch_timeout_ms
        self.max_records = max_records
        self.partitions: list[TopicPartition] = (
            [] if partitions is None else [TopicPartition(topic, p) for p in partitions]
        )
        self.end: dict[TopicPartition, int] = {}
        self._wanted = partitions
        self._options = consumer_options
        self._consumer: AIOKafkaConsumer | None = None
        self._offsets: AIOKafkaConsumer | None = None  # asks for end offsets, never fetches
        self._offsets_lock = asyncio.Lock()
        self._cut = False  # the last fetch returned max_records: it may have cut a batch

    # -- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, assign the partitions (waiting for the topic to exist when it was asked for
        all of them), seek to their beginning and note their end offsets."""
        consumer = AIOKafkaConsumer(
            **self.connection.client_options(),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._options,
        )
        await consumer.start()
        try:
            if self._wanted is None:
                self.partitions = await self._all_partitions(consumer)
            consumer.assign(self.partitions)
            await consumer.seek_to_beginning(*self.partitions)
            self.end = await consumer.end_offsets(self.partitions)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        offsets, self._offsets = self._offsets, None
        for client in (consumer, offsets):
            if client is not None:
                await client.stop()

    def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` on instead of from its beginning."""
        self.consumer.seek(TopicPartition(self.topic, partition), offset)

    async def __aenter__(self) -> TopicReplay:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _all_partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while True:
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                return [TopicPartition(self.topic, p) for p in sorted(partitions)]
            await asyncio.sleep(0.2)
            await force_metadata_update(consumer)

    @property
    def consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError(f"the replay of {self.topic} is not running")
        return self._consumer

    @property
    def running(self) -> bool:
        return self._consumer is not None

    # -- reading -------------------------------------------------------------------------------
    async def fetch(self) -> list[RawRecord]:
        """The records of one fetch, in offset order within each partition; empty when none
        arrived within ``fetch_timeout_ms``."""
        batches = await self.consumer.getmany(
            *self.partitions, timeout_ms=self.fetch_timeout_ms, max_records=self.max_records
        )
        records = [record for records in batches.values() for record in records]
        self._cut = len(records) >= self.max_records  # more of a batch may be waiting
        return records

    async def backlog(self) -> AsyncIterator[list[RawRecord]]:
        """Fetches until the end offsets found at start are reached (a one-off read)."""
        while not await self.reached():
            yield await self.fetch()

    async def follow(self) -> AsyncIterator[list[RawRecord]]:
        """Fetches forever: the backlog first, then whatever arrives (empty lists while
        nothing does, so the reader can look at :meth:`reached` and its other state)."""
        while True:
            yield await self.fetch()

    # -- where the reading is ------------------------------------------------------------------
    async def reached(self, end: Offsets | None = None) -> bool:
        """Has the reading position passed ``end`` (default: the end offsets found at start)
        in every partition, the last fetch not cut by ``max_records``?"""
        if self._cut:
            return False
        target = self.end if end is None else end
        consumer = self.consumer
        for tp in self.partitions:
            if await consumer.position(tp) < target.get(tp, 0):
                return False
        return True

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """The partitions' end offsets now (asks the broker, on a connection of its own)."""
        self.consumer  # noqa: B018 - refuse the question when the replay is not running
        async with self._offsets_lock:
            if self._offsets is None:
                client = AIOKafkaConsumer(
                    **self.connection.client_options(),
                    group_id=None,
                    enable_auto_commit=False,
                    **_connection_options(self._options),
                )
                await client.start()
                self._offsets = client
        ends: dict[TopicPartition, int] = await self._offsets.end_offsets(self.partitions)
        return ends

    def highwater(self, partition: int) -> int | None:
        """The partition's end offset as of the last fetch (no request); None before one."""
        high: int | None = self.consumer.highwater(TopicPartition(self.topic, partition))
        return high


# What a connection needs (security, client id, timeouts), without the fetch-shaping options.
_FETCH_OPTIONS = frozenset(
    {"fetch_max_wait_ms", "fetch_max_bytes", "fetch_min_bytes", "max_partition_fetch_bytes"}
)


def _connection_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in _FETCH_OPTIONS}
