"""A producer of the worker's own, beside Faust's, for the records a caller waits for.

aiokafka keeps at most one produce request in flight per broker connection: a record batch
queued on a busy producer waits for the request already in flight (a batch's rankings, its
state records, the learning log's feedback) before it can leave in the next one, and then for
that one's round trip too. Almost nothing the worker writes is waited for, so that is fine for
Faust's producer; the replies to substitution requests are the exception (they are written to
the state changelog and acknowledged before they are published, state_changelog.py), and a
shopper is waiting for them in the aisle. Their records go on this producer, over a connection
of their own, with no linger: their round trip is one small request's.

Started when the app starts (:meth:`AwaitedProducer.run`, an early task), stopped after the
agents (the app stops its futures last), so a batch of replies under way finishes on it.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer

from streams.connection import KafkaConnection

__all__ = ["AwaitedProducer"]

log = logging.getLogger("fillrate.worker")


class AwaitedProducer:
    """One started ``AIOKafkaProducer`` (``acks="all"``, no linger) while :meth:`run` runs."""

    def __init__(self, connection: KafkaConnection) -> None:
        self.connection = connection
        self._producer: AIOKafkaProducer | None = None
        self._started = asyncio.Event()

    async def run(self) -> None:
        """Start the producer, keep it until cancelled (the app stopping), then stop it."""
        while True:
            producer = AIOKafkaProducer(
                **self.connection.client_options(),
                client_id="fillrate-awaited",
                acks="all",
                linger_ms=0,
            )
            try:
                await producer.start()
                break
            except asyncio.CancelledError:
                await producer.stop()
                raise
            except Exception as exc:  # broker trouble: the replies wait for it, keep trying
                log.error("the awaited-writes producer could not start, retrying: %r", exc)
                await producer.stop()
                await asyncio.sleep(1.0)
        self._producer = producer
        self._started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self._producer = None
            await producer.stop()

    async def producer(self) -> AIOKafkaProducer:
        """The started producer, once it is (records go on it with ``send_records``, whose
        delivery futures the caller awaits). Raises once the app has stopped it."""
        await self._started.wait()
        if self._producer is None:
            raise RuntimeError("the awaited-writes producer has stopped")
        return self._producer
