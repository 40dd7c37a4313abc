"""Every worker's full copy of the catalog: a replay of all its partitions, outside the group.

The backlog (everything the catalog topic held when the worker started) goes to the engine in
one :meth:`~online_learning.engine.SubstitutionEngine.load_catalog` call once it is read, so
the engine learns the catalog's brand vocabulary from all of it; each later record is applied
as it arrives.

Signals and feedback travel on other topics than the catalog, so a signal can overtake the
catalog record of its item. :meth:`CatalogReader.sync` is the barrier for that: before an
event is dead-lettered for naming an unknown item, the agent waits until this reader has
applied everything the catalog topic held at that moment, then looks again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Iterator

from online_learning.contract import CatalogTombstone, EventError, Product, decode_catalog
from online_learning.engine import SubstitutionEngine
from streams.connection import KafkaConnection
from streams.replay import Offsets, RawRecord, TopicReplay

__all__ = ["CatalogReader"]

log = logging.getLogger("fillrate.catalog")


def _decoded(records: Iterable[RawRecord]) -> Iterator[Product | CatalogTombstone]:
    for record in records:
        try:
            decoded = decode_catalog(record.key, record.value)
        except EventError:
            continue  # dead-lettered, once, by the group's catalog-validate agent
        yield decoded


CATALOG_FETCH_WAIT_MS = 50
WARM_PAUSE = 3.0  # building pools in the background takes at most a quarter of the loop


class CatalogReader:
    """Applies the catalog topic to an engine; ``ready`` once the initial backlog is in."""

    def __init__(
        self,
        connection: KafkaConnection | str,
        topic: str,
        engine: SubstitutionEngine,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.engine = engine
        self.ready = asyncio.Event()
        self.features_warm = False  # every pool's feature columns built (warm_features)
        self.applied = 0
        self._replay: TopicReplay | None = None
        self._asked_at = -math.inf  # when the end offsets in _target were asked for
        self._target: Offsets | None = None
        self._progress = asyncio.Condition()

    async def run(self) -> None:
        """Read forever (until cancelled)."""
        # A short fetch wait: Tansu answers a fetch only when its wait runs out, even when data
        # arrives meanwhile, and a signal that overtook its item's catalog record waits for
        # this reader to see that record (on Apache Kafka it only sets the idle request rate).
        async with TopicReplay(
            self.connection, self.topic, fetch_max_wait_ms=CATALOG_FETCH_WAIT_MS
        ) as replay:
            self._replay = replay
            try:
                await self._read(replay)
            finally:
                self._replay = None

    async def _read(self, replay: TopicReplay) -> None:
        started = time.monotonic()
        backlog: list[Product | CatalogTombstone] = []
        async for records in replay.follow():
            if self.ready.is_set():
                self._apply(records)
            else:
                backlog.extend(_decoded(records))
                if await replay.reached():
                    # In a thread: seconds of parsing for a large catalog, while the event loop
                    # goes on joining the group and reading the model snapshot. Nothing else
                    # touches the engine's catalog until ``ready`` is set (agents, the model's
                    # restore and the views wait for it, or only read sizes).
                    await asyncio.to_thread(self._load, backlog, started)
                    self.ready.set()
                    backlog = []
            async with self._progress:
                self._progress.notify_all()

    def _apply(self, records: list[RawRecord]) -> None:
        for product in _decoded(records):
            self.engine.apply_catalog(product)
            self.applied += 1

    def _load(self, backlog: list[Product | CatalogTombstone], started: float) -> None:
        """The initial backlog, in one go. The caller sets ``ready`` (this runs in a thread).

        The pools' feature columns are built after the worker is ready
        (:meth:`warm_features`): they are a cache, and building them all (seconds for a
        large catalog) would hold up the start while the model waits for the catalog."""
        self.engine.load_catalog(backlog)
        self.applied += len(backlog)
        log.warning(
            "catalog loaded: %d items from %s in %.1fs",
            self.engine.stats().catalog_items,
            self.topic,
            time.monotonic() - started,
        )

    async def warm_features(self) -> int:
        """Build every pool's feature columns in small steps on the event loop, so the
        first stock-outs after the start find them built; returns the pools built.

        On the event loop, not in a thread: the agents read and the catalog reader changes
        the same catalog meanwhile. A pool a stock-out needs first is built then, as any
        pool is after a catalog change."""
        await self.ready.wait()
        started = time.monotonic()
        pools = 0
        built = time.perf_counter()
        for pool in self.engine.warm_pools():
            pools += pool is not None
            # A background task's share of the loop: after each step, a pause WARM_PAUSE
            # times as long as the step took, so the messages of the first seconds, and the
            # end of the learning log still being read, get most of it.
            now = time.perf_counter()
            await asyncio.sleep(WARM_PAUSE * (now - built))
            built = time.perf_counter()
        self.features_warm = True
        log.info("feature columns of %d pools built in %.1fs", pools, time.monotonic() - started)
        return pools

    async def sync(self, timeout: float = 5.0, since: float | None = None) -> bool:
        """Wait until everything the catalog topic held when the records that name unknown
        items arrived is applied; False on timeout.

        ``since``: when those records arrived (``time.monotonic``; None: now). A catalog
        record produced before a signal that names its item is in the topic's end offsets
        asked for after the signal arrived, and maybe not in any asked for before. So a call
        reuses the previous call's end offsets only when they were asked for after ``since``:
        a batch (or a flood) of bad references costs one offsets request, not one per record,
        and a reference never waits on offsets older than itself.
        """
        replay = self._replay
        if replay is None:
            return False
        now = time.monotonic()
        since = now if since is None else since
        if self._target is None or self._asked_at < since:
            self._asked_at = time.monotonic()
            self._target = await replay.end_offsets()
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

    async def _reached(self, target: Offsets) -> bool:
        replay = self._replay
        return replay is not None and await replay.reached(target)
