"""The private parts of Faust the worker relies on, each behind one function.

Checked against faust-streaming 0.15.3 (the version pinned in pyproject.toml). When upgrading
it, read these against the new ``faust/transport/consumer.py`` and
``faust/transport/drivers/aiokafka.py``: nothing else in the project touches Faust's private
attributes.

The fetch wait: a Kafka fetch that finds no new data waits up to ``fetch_max_wait_ms`` for
some to arrive. Apache Kafka answers as soon as data arrives, so the wait costs nothing there
but idle requests. The embedded Tansu broker answers only when the wait runs out, so with
Faust's fixed 1,500 ms a stock-out signal on a quiet topic could wait most of that before the
worker even saw it (benchmarks/bench_latency.py measured p50 1.6 s). Faust offers no setting
for it, so :func:`install_fetch_wait` wraps the driver's consumer factory once per process and
applies the app's own value (:func:`set_fetch_wait`) to the consumer it creates, before the
consumer starts.

When the worker has a message: Faust's Monitor stamps ``message.time_in`` when a stream takes
the message from its channel, not when the consumer delivered it, so a message queued behind a
busy agent would not count its wait. :func:`stamp_delivery` stamps it when the consumer hands
it to the app (the records of a fetch, in order), and the app's :class:`DeliveryMonitor` keeps
that stamp; :func:`received_at` reads it.

The commit: Faust flushes its producer right before it commits input offsets, and the store
state of processed batches is produced in the background once their rankings have left
(streams/state_changelog.py); :func:`flush_after` makes that flush wait for it first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from faust.sensors import Monitor
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ConsumerT, Message

from streams.aiokafka_internals import set_fetch_max_wait

__all__ = [
    "FAUST_VERSION",
    "DeliveryMonitor",
    "install_fetch_wait",
    "last_read_offset",
    "producer_of",
    "received_at",
    "set_fetch_wait",
    "stamp_delivery",
]

FAUST_VERSION = "0.15.3"
"""The faust-streaming release these wrappers were checked against."""

_FETCH_WAIT_ATTR = "_fillrate_fetch_wait_ms"


def set_fetch_wait(app: faust.App, wait_ms: int) -> None:
    """Use ``wait_ms`` as the fetch wait of ``app``'s group consumer."""
    if wait_ms < 0:
        raise ValueError(f"fetch wait must be >= 0 ms, got {wait_ms}")
    install_fetch_wait()
    setattr(app, _FETCH_WAIT_ATTR, int(wait_ms))


def install_fetch_wait() -> None:
    """Wrap Faust's worker-consumer factory, ``_create_worker_consumer`` (idempotent)."""
    thread = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread._create_worker_consumer, "_fillrate", False):
        return
    original = thread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, _FETCH_WAIT_ATTR, None)
        if wait is not None:
            set_fetch_max_wait(consumer, wait)
        return consumer

    create_worker_consumer._fillrate = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


def producer_of(app: faust.App) -> AIOKafkaProducer:
    """The aiokafka producer inside ``app``'s Faust producer (``_ensure_producer``).

    Faust's own producer, with its settings and flushed by Faust before every offset commit,
    used for what Faust's wrapper lacks: record batches (batch_produce.py). Raises Faust's
    ``NotReady`` before the producer has started.
    """
    return app.producer._ensure_producer()  # type: ignore[attr-defined, no-any-return]


def flush_after(app: faust.App, first: Callable[[], Awaitable[None]]) -> None:
    """Make ``app``'s producer flush await ``first`` before it flushes.

    Faust flushes its producer right before every offset commit (``Consumer._commit_offsets``
    in faust/transport/consumer.py), after it chose the offsets to commit; records queued by
    ``first`` then leave before those offsets are committed. Faust has no hook there.
    """
    producer = app.producer
    flush = producer.flush

    async def flush_after_first() -> None:
        await first()
        await flush()

    producer.flush = flush_after_first  # type: ignore[method-assign]


def last_read_offset(consumer: ConsumerT, tp: TP) -> int | None:
    """The offset of the last message Faust's streams processed from ``tp`` (``_read_offset``).

    None when nothing was processed from it since it was assigned here. Faust keeps this for
    its own commits and offers no public accessor.
    """
    read: int | None = consumer._read_offset.get(tp)  # type: ignore[attr-defined]
    return read


class DeliveryMonitor(Monitor):
    """Faust's Monitor, keeping the delivery stamp of :func:`stamp_delivery` in
    ``message.time_in``: Faust's own stamps it again when a stream takes the message
    (``Stream._c_aiter`` calls ``on_message_in`` there; faust/sensors/monitor.py)."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        delivered = message.time_in
        super().on_message_in(tp, offset, message)
        if delivered is not None:
            message.time_in = delivered


def stamp_delivery(app: faust.App) -> None:
    """Stamp ``message.time_in`` (``time.monotonic()``) as ``app``'s consumer delivers each
    message, before it waits in a stream's channel; ``app`` must use :class:`DeliveryMonitor`.

    The consumer reads its ``callback`` when it starts draining (``Consumer._drain_messages``
    in faust/transport/consumer.py), so this wraps it before the app starts.
    """
    if not isinstance(app.monitor, DeliveryMonitor):
        raise TypeError("stamp_delivery needs the app's Monitor to be DeliveryMonitor")
    consumer = app.consumer
    deliver = consumer.callback  # type: ignore[attr-defined]
    clock = time.monotonic

    async def delivered(message: Message) -> None:
        message.time_in = clock()
        await deliver(message)

    consumer.callback = delivered  # type: ignore[attr-defined]


def received_at(message: Any) -> float | None:
    """When the worker's consumer delivered ``message`` (:func:`stamp_delivery`), on
    ``time.monotonic``'s clock; None if unknown."""
    value = getattr(message, "time_in", None)
    return value if isinstance(value, float) else None
