"""Every worker's full copy of customers' preferences: a replay of the compacted topic.

A request may come from any customer to whichever worker owns the store of the order, so every
worker reads all of ``customers.preferences``, outside the group, as it reads the catalog
(catalog_reader.py). Records the contract refuses are skipped here: the group's
preferences-validate agent dead-letters each of them once.

Staleness: a record reaches every worker one fetch after it is written (the reader's fetch
wait, 50 ms, plus the broker's round trip); a request handled before that sees the record
before. A restarted worker answers requests only once it has read the whole topic.
"""

from __future__ import annotations

import asyncio
import logging
import time

from online_learning.contract import EventError, decode_preference
from online_learning.preferences import CustomerPreferences
from streams.connection import KafkaConnection
from streams.replay import RawRecord, TopicReplay

__all__ = ["PreferencesReader"]

log = logging.getLogger("fillrate.preferences")

PREFERENCES_FETCH_WAIT_MS = 50


class PreferencesReader:
    """Applies the preferences topic to a :class:`CustomerPreferences`; ``ready`` once the
    backlog is in."""

    def __init__(
        self, connection: KafkaConnection | str, topic: str, table: CustomerPreferences
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.table = table
        self.ready = asyncio.Event()
        self.applied = 0
        self.skipped = 0

    async def run(self) -> None:
        """Read forever (until cancelled)."""
        started = time.monotonic()
        async with TopicReplay(
            self.connection, self.topic, fetch_max_wait_ms=PREFERENCES_FETCH_WAIT_MS
        ) as replay:
            async for records in replay.follow():
                self._apply(records)
                if not self.ready.is_set() and await replay.reached():
                    self.ready.set()
                    log.warning(
                        "preferences loaded: %d records from %s in %.1fs",
                        len(self.table),
                        self.topic,
                        time.monotonic() - started,
                    )

    def _apply(self, records: list[RawRecord]) -> None:
        for record in records:
            if record.key is None:
                self.skipped += 1  # refused by the contract: dead-lettered by the group
                continue
            try:
                decoded = decode_preference(record.key, record.value)
                key = record.key.decode()
            except (EventError, UnicodeDecodeError):
                self.skipped += 1
                continue
            self.table.apply(key, decoded)
            self.applied += 1
