"""The private parts of aiokafka the worker relies on, each behind one function.

Checked against aiokafka 0.14.0 (the version pinned in pyproject.toml). When upgrading it, read
these against the new ``aiokafka/consumer/consumer.py`` and ``aiokafka/client.py``: nothing
else in the project touches aiokafka's private attributes.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer

__all__ = ["AIOKAFKA_VERSION", "force_metadata_update", "set_fetch_max_wait", "stop_consumer"]

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
