"""Every worker's full copy of the catalog: a consumer outside the group, over all partitions.

Signals and feedback travel on other topics than the catalog, so a signal can overtake the
catalog record of its item. :meth:`CatalogReader.sync` is the barrier for that: before an
event is dead-lettered for naming an unknown item, the agent waits until this reader has
applied everything the catalog topic held at that moment, then looks again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from online_learning.contract import EventError, decode_catalog
from online_learning.engine import SubstitutionEngine

__all__ = ["CatalogReader"]

log = logging.getLogger("fillrate.catalog")


class CatalogReader:
    """Applies the catalog topic to an engine; ``ready`` once the initial backlog is in."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        engine: SubstitutionEngine,
        min_sync_s: float = 0.5,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.engine = engine
        self.ready = asyncio.Event()
        self.applied = 0
        self.min_sync_s = min_sync_s
        self._consumer: AIOKafkaConsumer | None = None
        self._tps: list[TopicPartition] = []
        self._last_sync = 0.0
        self._target: dict[TopicPartition, int] | None = None
        self._progress = asyncio.Condition()

    async def run(self) -> None:
        """Read forever (until cancelled)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        try:
            self._tps = await self._partitions(consumer)
            consumer.assign(self._tps)
            await consumer.seek_to_beginning(*self._tps)
            started = time.monotonic()
            end = await consumer.end_offsets(self._tps)
            while True:
                await self._caught_up_or_read(consumer, end)
                if not self.ready.is_set() and await self._reached(end):
                    # Parse every name and build every aisle's columns now, before the agents
                    # start, rather than on the first stock-outs.
                    pools = self.engine.features.warm()
                    log.warning(
                        "catalog loaded: %d items in %d pools from %s in %.1fs",
                        len(self.engine.catalog),
                        pools,
                        self.topic,
                        time.monotonic() - started,
                    )
                    self.ready.set()
        finally:
            self._consumer = None
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        while True:
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                return [TopicPartition(self.topic, p) for p in sorted(partitions)]
            await asyncio.sleep(0.2)
            await consumer._client.force_metadata_update()

    async def _caught_up_or_read(
        self, consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]
    ) -> None:
        batches = await consumer.getmany(timeout_ms=100, max_records=5000)
        for records in batches.values():
            for record in records:
                try:
                    self.engine.apply_catalog(decode_catalog(record.key, record.value))
                    self.applied += 1
                except EventError:
                    pass  # dead-lettered, once, by the group's catalog-validate agent
        async with self._progress:
            self._progress.notify_all()

    async def _reached(self, end: dict[TopicPartition, int]) -> bool:
        consumer = self._consumer
        if consumer is None:
            return False
        for tp in self._tps:
            if await consumer.position(tp) < end.get(tp, 0):
                return False
        return True

    async def sync(self, timeout: float = 5.0) -> bool:
        """Wait until everything now in the catalog topic is applied; False on timeout.

        Calls closer together than ``min_sync_s`` reuse the previous call's end offsets
        instead of asking the broker again, so a flood of bad references cannot turn into a
        flood of offset requests.
        """
        consumer = self._consumer
        if consumer is None:
            return False
        now = time.monotonic()
        if self._target is None or now - self._last_sync >= self.min_sync_s:
            self._last_sync = now
            self._target = await consumer.end_offsets(self._tps)
        target = self._target
        deadline = now + timeout
        while not await self._reached(target):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            async with self._progress:
                try:
                    await asyncio.wait_for(self._progress.wait(), remaining)
                except TimeoutError:
                    return False
        return True
