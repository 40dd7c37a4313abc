"""The private parts of Faust the worker relies on, each behind one function.

Checked against faust-streaming 0.15.3 (the version pinned in pyproject.toml) and its
mode-streaming 0.7.1. When upgrading them, read these against the new
``faust/transport/consumer.py``, ``faust/streams.py``, ``faust/sensors/monitor.py``,
``faust/transport/drivers/aiokafka.py`` and mode's ``Service.wait_first``: nothing else in the
project touches Faust's private attributes.

The fetch wait: a Kafka fetch that finds no new data waits up to ``fetch_max_wait_ms`` for
some to arrive. Apache Kafka answers as soon as data arrives, so the wait costs nothing there
but idle requests. The embedded Tansu broker answers only when the wait runs out, so with
Faust's fixed 1,500 ms a stock-out signal on a quiet topic could wait most of that before the
worker even saw it (benchmarks/bench_latency.py measured p50 1.6 s). Faust offers no setting
for it, so :func:`install_fetch_wait` wraps the driver's consumer factory once per process and
applies the app's own value (:func:`set_fetch_wait`) to the consumer it creates, before the
consumer starts.

When the worker has a message: Faust's Monitor stamps ``message.time_in`` when a stream takes
the message from its channel, so a message queued behind a busy agent would not count its
wait. :func:`stamp_delivery` stamps it with when its fetch response reached the consumer
(aiokafka notes it, streams/aiokafka_internals.py), so the time a fetched record waits to be
delivered also counts: the consumer delivers a fetch's records one after another, between the
agents' batches, and a response can wait whole in the consumer while the app is busy with the
previous one. The app's :class:`DeliveryMonitor` keeps that stamp; :func:`received_at` reads
it.

The batches: Faust's ``Stream.take_events(max_, within)`` hands a batch over only when it is
full or when ``within`` has passed since the last batch, so a message that finds the worker
idle waits up to ``within`` for nothing, and an idle agent wakes every ``within``.
:func:`take_batches` waits for the first message without a timer and hands the batch over as
soon as it holds every record of its topic that the consumer fetched (:class:`Deliveries`,
kept by :func:`stamp_delivery`), ``within`` being only the longest a batch waits to fill up
(or ``behind_within``, longer, while the consumer holds a backlog); it registers its generator
and acks events as ``take_events`` does.

The log level: Faust's worker turns a terminal spinner on every log record, and to see them
all it sets the root logger to DEBUG whenever the level asked for is WARNING or above
(``Worker._setup_spinner_handler`` in faust/worker.py), for good: every debug call of
aiokafka, Faust and mode then builds a LogRecord (its caller looked up on the stack) that the
handlers drop. :class:`NoSpinnerWorker` leaves the spinner out, so the root logger keeps the
level asked for.

The commit: Faust flushes its producer right before it commits input offsets, and the store
state of processed batches is produced in the background once their rankings have left
(streams/state_changelog.py); :func:`flush_after` makes that flush wait for it first.

The delivery: for every message it fetches, Faust's consumer (``Consumer._drain_messages``)
hands it to the app through ``Service.wait_first(callback(message), suspend_flow.wait())``,
which makes four tasks (the callback, the flow's suspension, the service's stop and crash) and
an ``asyncio.wait`` per message, so that a callback blocked on a full queue is given up when the
flow is suspended for a rebalance. That was about half of what Faust costs per event with the
worker's shape (docs/performance.md). :func:`deliver_in_place` awaits the callback itself while
the flow is not suspended, then lets the event loop turn once (so the agents run between
deliveries, as they did); a suspended flow still goes through ``wait_first``. A callback that
blocks is given up as before when it matters: a rebalance and a stop both stop the fetcher, which
cancels the task running the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import faust
from aiokafka import AIOKafkaProducer
from faust.sensors import Monitor
from faust.streams import Stream
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ConsumerT, EventT, Message
from mode.services import WaitResults

from streams.aiokafka_internals import fetched_at, set_fetch_max_wait, stamp_fetches

__all__ = [
    "FAUST_VERSION",
    "Deliveries",
    "DeliveryMonitor",
    "NoSpinnerWorker",
    "install_fetch_wait",
    "last_read_offset",
    "producer_of",
    "received_at",
    "set_fetch_wait",
    "stamp_delivery",
    "take_batches",
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


class NoSpinnerWorker(faust.Worker):
    """Faust's worker without its terminal spinner, whose log handler would set the root
    logger to DEBUG at a WARNING or ERROR level (the module's docstring)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None  # "Ready" is logged at INFO instead of the spinner's " OK ^"
        super().on_setup_root_logger(logger, level)


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


class Deliveries:
    """How many records of the consumer's fetch under way, by topic, it has still to deliver,
    and how many delivered ones wait in a :func:`take_batches` buffer for their batch.

    Set from each fetch's record map (``Consumer._wait_next_records``, which ``getmany``
    calls once per fetch and iterates to its end before the next) and counted down as the
    consumer delivers each record. A record the consumer skips (a partition paused or
    revoked meanwhile) is never counted down: the count reads high until the next fetch, and
    a :func:`take_batches` relying on it waits its ``within``, no more. A delivered record
    waits in its stream's queue (each :func:`take_batches` registers its queue's size in
    ``queues``) and then in the batch's buffer (``buffered``) until its batch is handed over.
    :meth:`settled` is what background work awaits so as to run between batches.
    """

    def __init__(self) -> None:
        self._left: dict[str, int] = {}
        self._undelivered = 0  # the sum of _left
        self.listeners: list[Callable[[str], None]] = []  # told a topic's last was delivered
        self._buffered = 0
        # the sizes of the take_batches streams' queues: delivered, not in a buffer yet
        self.queues: list[Callable[[], int]] = []
        self._settled: list[asyncio.Future[None]] = []  # settled() calls waiting for 0
        self.on_fetch: Callable[[int], None] | None = None  # told each fetch's record count

    @property
    def buffered(self) -> int:
        """Delivered into a :func:`take_batches` buffer, its batch not handed over yet."""
        return self._buffered

    @buffered.setter
    def buffered(self, count: int) -> None:
        self._buffered = count
        self._note()

    def _note(self) -> None:
        """Wake the :meth:`settled` calls if nothing waits any more (a count went down)."""
        # (the counts first: while a fetch is being delivered they end it at once)
        if (
            self._settled
            and not (self._undelivered or self._buffered)
            and not any(size() for size in self.queues)
        ):
            for waiter in self._settled:
                if not waiter.done():
                    waiter.set_result(None)
            self._settled.clear()

    async def settled(self, timeout: float) -> bool:
        """Return once no fetched record waits for an agent (:meth:`waiting` is 0): True; or
        False once ``timeout`` seconds have passed with records still waiting.

        A moment with none waiting counts even if the next fetch arrived before this woke up:
        background work that waits here between its slices runs between two fetches'
        batches, not in the middle of one, and a stream that never lets up delays it by at
        most ``timeout`` a slice.

        >>> async def fetch_and_deliver(d: Deliveries) -> list[bool]:
        ...     d.fetched({TP("t", 0): [1]})
        ...     before = await d.settled(0.001)
        ...     d.delivered("t"); d.buffered += 1  # into an agent's buffer
        ...     d.buffered -= 1  # handed over in a batch
        ...     return [before, await d.settled(0.001)]
        >>> asyncio.run(fetch_and_deliver(Deliveries()))
        [False, True]
        """
        if not self.waiting():
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._settled.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            return False
        finally:
            if waiter in self._settled:
                self._settled.remove(waiter)
        return True

    def waiting(self) -> int:
        """Records fetched that no agent has had in a batch yet: work that background work
        should step aside for.

        >>> d = Deliveries()
        >>> d.fetched({TP("t", 0): [1, 2], TP("u", 0): [3]}); d.delivered("t"); d.buffered += 1
        >>> d.waiting()
        3
        """
        return self._undelivered + self._buffered + sum(size() for size in self.queues)

    def undelivered(self, topic: str | None = None) -> int:
        """Records of ``topic`` (None: of every topic) not delivered yet."""
        if topic is None:
            return self._undelivered
        return self._left.get(topic, 0)

    def fetched(self, records: Mapping[TP, Sequence[Any]] | None) -> None:
        left: dict[str, int] = {}
        for tp, batch in (records or {}).items():
            left[tp.topic] = left.get(tp.topic, 0) + len(batch)
        self._left = left  # what the last fetch left undelivered is forgotten (never counted)
        self._undelivered = sum(left.values())
        if self._undelivered and self.on_fetch is not None:
            self.on_fetch(self._undelivered)
        self._note()

    def delivered(self, topic: str) -> None:
        left = self._left.get(topic, 0)
        if left > 0:
            self._left[topic] = left - 1
            self._undelivered -= 1
            self._note()  # in a stream's queue now
            if left == 1:
                for listener in self.listeners:
                    listener(topic)


def stamp_delivery(app: faust.App) -> Deliveries:
    """Stamp ``message.time_in`` with when the fetch response holding it reached ``app``'s
    consumer (``time.monotonic()``'s clock; :func:`streams.aiokafka_internals.stamp_fetches`),
    or, if that is unknown, with when the consumer delivers it, and count what each fetch has
    left to deliver (the returned :class:`Deliveries`); ``app`` must use
    :class:`DeliveryMonitor`.

    The consumer reads its ``callback`` when it starts draining (``Consumer._drain_messages``
    in faust/transport/consumer.py), so this wraps it before the app starts.
    """
    if not isinstance(app.monitor, DeliveryMonitor):
        raise TypeError("stamp_delivery needs the app's Monitor to be DeliveryMonitor")
    stamp_fetches()
    consumer = app.consumer
    deliver = consumer.callback  # type: ignore[attr-defined]
    next_records = consumer._wait_next_records  # type: ignore[attr-defined]
    clock = time.monotonic
    deliveries = Deliveries()
    arrived: dict[Any, float] = {}  # the fetch being delivered: partition -> when it arrived

    async def delivered(message: Message) -> None:
        message.time_in = arrived.get(message.tp) or clock()
        await deliver(message)  # in the stream's queue now
        deliveries.delivered(message.topic)

    async def wait_next_records(timeout: float) -> Any:
        records, active = await next_records(timeout)
        arrived.clear()
        for tp, batch in (records or {}).items():
            at = fetched_at(batch)
            if at is not None:
                arrived[tp] = at
        deliveries.fetched(records)
        return records, active

    consumer.callback = delivered  # type: ignore[attr-defined]
    consumer._wait_next_records = wait_next_records  # type: ignore[attr-defined]
    return deliveries


def deliver_in_place(app: faust.App) -> None:
    """Have ``app``'s consumer await each fetched message's delivery in place rather than
    through ``wait_first``'s four tasks, while its flow is not suspended (the module's
    docstring). Every other ``wait_first`` call of the consumer is left as it is."""
    consumer: Any = app.consumer  # a mode Service: wait_first is not on ConsumerT
    suspended = consumer.suspend_flow
    suspension = type(suspended).wait.__code__  # what the drain loop's second argument runs
    wait_first = consumer.wait_first

    async def deliver(*coros: Any, timeout: Any = None) -> Any:
        if (
            len(coros) == 2
            and timeout is None
            and not suspended.is_set()
            and getattr(coros[1], "cr_code", None) is suspension
            and coros[1].cr_frame.f_locals.get("self") is suspended
        ):
            coros[1].close()  # never started: closed, so that nobody warns it was not awaited
            result = await coros[0]
            # one turn of the event loop per message, as wait_first's tasks gave: without it
            # the loop delivered a whole fetch before any agent ran, and the worker's own p99
            # at a paced 1,963 events/s was 43 ms against 5.4 (docs/performance.md)
            await asyncio.sleep(0)
            return WaitResults([coros[0]], [result], False)
        return await wait_first(*coros, timeout=timeout)

    consumer.wait_first = deliver


def received_at(message: Any) -> float | None:
    """When the fetch response holding ``message`` reached the worker's consumer, or else when
    the consumer delivered it (:func:`stamp_delivery`), on ``time.monotonic``'s clock; None if
    unknown."""
    value = getattr(message, "time_in", None)
    return value if isinstance(value, float) else None


def take_batches(
    stream: faust.StreamT,
    max_: int,
    within: float,
    deliveries: Deliveries | None = None,
    behind_within: float | None = None,
) -> AsyncIterator[Sequence[EventT]]:
    """The events of ``stream`` in batches of at most ``max_``, each handed over as soon as
    it is full, or holds every record of its topic that the consumer has fetched (with
    ``deliveries``, the app's :func:`stamp_delivery`), or at the latest ``within`` seconds
    after its first event.

    With ``behind_within`` (and ``deliveries``), a batch whose ``within`` ran out while the
    consumer still holds more of its fetch than the batch has room for waits on, up to
    ``behind_within`` after its first event: a consumer that far behind is draining a
    backlog, where full batches are what brings every event's latency down (each batch has a
    fixed cost), while one that keeps up hands each batch over after ``within``.

    ``Stream.take_events`` waits ``within`` after each batch whatever arrives, which puts
    up to ``within`` on every message's latency and wakes an idle agent every ``within``;
    this waits for the first message without a timer. Events are acked once the caller has
    had their batch (the offsets Faust commits), and the generator is registered with the
    stream so that ``Stream.on_stop`` closes it, both as ``take_events`` does (faust/streams.py).
    """
    s = cast(Stream, stream)
    agen = _take_batches(s, max_, within, deliveries, behind_within)
    s._active_agens.add(agen)  # type: ignore[attr-defined]
    return agen


async def _take_batches(
    stream: Stream,
    max_: int,
    within: float,
    deliveries: Deliveries | None,
    behind_within: float | None,
) -> AsyncGenerator[Sequence[EventT], None]:
    if max_ < 1:
        raise ValueError(f"max_ must be >= 1, got {max_}")
    events: list[EventT] = []
    arrived = asyncio.Event()  # the buffer holds something
    handover = asyncio.Event()  # the buffer is full, or holds all there is for now
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None  # the caller has a batch: hold new events
    queue_empty = stream.channel.queue.empty  # type: ignore[attr-defined]

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_batches found no current event")
            events.append(event)
            if deliveries is not None:
                deliveries.buffered += 1
            arrived.set()
            if len(events) >= max_:
                handover.set()
                consumed.clear()
                await stream.wait(consumed)  # type: ignore[arg-type]
            elif deliveries is not None and not deliveries.undelivered(event.message.topic):
                all_here(event.message.topic)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    def behind() -> bool:
        """The consumer holds more records of its fetch (of any topic) than the batch has
        room for: it is working through a backlog."""
        if deliveries is None or not events:
            return False
        return deliveries.undelivered() >= max_ - len(events)

    def all_here(topic: str) -> None:
        """Hand over once the buffer holds every record of ``topic`` the consumer fetched:
        none left to deliver (the caller knows) and none waiting in the stream's queue."""
        if events and events[-1].message.topic == topic and queue_empty():
            handover.set()

    queue_size = stream.channel.queue.qsize  # type: ignore[attr-defined]
    if deliveries is not None:
        deliveries.listeners.append(all_here)
        deliveries.queues.append(queue_size)
    loop = asyncio.get_running_loop()
    enable_acks = stream.enable_acks
    stream.enable_acks = False  # acked here, once their batch was handed over
    stream.add_processor(add_to_buffer)
    stream._enable_passive(cast(Any, aiter(stream.channel)))  # type: ignore[attr-defined]
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(arrived)  # type: ignore[arg-type]
            if not handover.is_set():
                await stream.wait_for_stopped(handover, timeout=within)  # type: ignore[arg-type]
            if behind_within is not None and not handover.is_set() and behind():
                rest = max(0.0, behind_within - within)
                await stream.wait_for_stopped(handover, timeout=rest)  # type: ignore[arg-type]
            if not events:  # only set with something in it: never spin here
                arrived.clear()
                continue
            consuming = loop.create_future()
            arrived.clear()
            handover.clear()
            if deliveries is not None:
                deliveries.buffered -= len(events)
            try:
                yield list(events)
            finally:
                batch = list(events)
                events.clear()
                for event in batch:
                    await stream.ack(event)
                handover.clear()  # a listener may have looked at this batch meanwhile
                consuming.set_result(None)
                consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)  # type: ignore[attr-defined]
        if deliveries is not None:
            deliveries.listeners.remove(all_here)
            deliveries.queues.remove(queue_size)
            deliveries.buffered -= len(events)  # a buffer never handed over (the stream stops)
