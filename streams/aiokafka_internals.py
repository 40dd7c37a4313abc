"""The private parts of aiokafka the worker relies on, each behind one function.

Checked against aiokafka 0.14.0 (the version pinned in pyproject.toml). When upgrading it, read
these against the new ``aiokafka/consumer/consumer.py``, ``aiokafka/consumer/fetcher.py`` and
``aiokafka/client.py``: nothing else in the project touches aiokafka's private attributes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer import fetcher as aiokafka_fetcher

__all__ = [
    "AIOKAFKA_VERSION",
    "fetched_at",
    "force_metadata_update",
    "set_fetch_max_wait",
    "stamp_fetches",
    "stop_consumer",
]

AIOKAFKA_VERSION = "0.14.0"
"""The aiokafka release these wrappers were checked against."""


async def force_metadata_update(consumer: AIOKafkaConsumer) -> None:
    """Ask the broker for fresh cluster metadata now, not at the next refresh interval.

    A consumer outside any group learns of a topic created after it started only from its
    metadata; ``consumer._client`` is the consumer's connection pool, which has no public
    accessor.
    """
    await consumer._client.force_metadata_update()


def set_fetch_max_wait(consumer: AIOKafkaConsumer, wait_ms: int) -> None:
    """Change ``fetch_max_wait_ms`` of a consumer created elsewhere, before it starts.

    ``AIOKafkaConsumer.start()`` reads the private ``_fetch_max_wait_ms`` when it builds its
    fetcher; a change after that has no effect.
    """
    consumer._fetch_max_wait_ms = wait_ms


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """``consumer.stop()``, also right after ``start()``.

    A consumer outside any group runs a background task that resets committed offsets;
    ``stop()`` cancels it and awaits it, and a task cancelled before it ever ran raises
    CancelledError into the caller, leaving the fetcher and connections open
    (aio-libs/aiokafka#647). One pass of the event loop lets it start first, as it does when
    anything was awaited between the two (a command that finds no topic awaits nothing).
    """
    await asyncio.sleep(0)
    await consumer.stop()


_FETCHED_AT = "_fillrate_fetched_at"


def stamp_fetches() -> None:
    """Mark the records a consumer hands out with when their fetch response arrived
    (idempotent, for every consumer of the process); :func:`fetched_at` reads the mark.

    The fetcher parses each partition's part of a fetch response into a ``FetchResult``, which
    notes ``time.monotonic()`` as it is made (``_created``), and keeps it until the application
    asks for records (``getmany``): a response can wait there while the application is busy
    with the previous one. ``FetchResult.getall`` hands out one list of its records per call;
    the first record of each list carries the mark (an attribute of the ``ConsumerRecord``
    dataclass), once per list rather than once per record.
    """
    result = aiokafka_fetcher.FetchResult
    if getattr(result.getall, "_fillrate", False):
        return
    original = result.getall

    def getall(self: Any, max_records: int | None = None) -> list[Any]:
        records: list[Any] = original(self, max_records)
        if records:
            setattr(records[0], _FETCHED_AT, self._created)
        return records

    getall._fillrate = True  # type: ignore[attr-defined]
    result.getall = getall  # type: ignore[method-assign]


def fetched_at(records: Sequence[Any]) -> float | None:
    """When the fetch response holding ``records`` (one partition's list from ``getmany``)
    arrived, on ``time.monotonic``'s clock; None if :func:`stamp_fetches` was not installed
    when they were handed out."""
    if not records:
        return None
    value = getattr(records[0], _FETCHED_AT, None)
    return value if isinstance(value, float) else None
