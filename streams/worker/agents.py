"""The group's agents: thin loops that decode a batch, call the engine, and hand on the result.

Each message is taken once: one this worker processed before a rebalance handed it over again
is skipped (redelivery.py). Anything refused (bad bytes, schema, an unknown reference, even a
bug in the engine) goes to the dead-letter topic with its reason and is counted; an agent never
dies on a message. Refused messages are queued and sent at the end of their batch, in record
batches, so a burst of bad input costs about what good input costs. A signal or feedback record
that arrived on another partition than its store's (a producer with another partitioner) is
processed all the same, and counted (partitioning.py). Each new feedback event is counted by
outcome and department here, by the partition's owner, once in the group (outcomes.py).

The catalog travels on its own topic, so a signal or a feedback event can overtake its item's
catalog record. A batch that names items the catalog does not hold waits, once and for all of
them together, at most ``reference_wait_s``, for the catalog reader to apply what the catalog
topic holds (catalog_reader.py), then is processed in order; what is still unknown is refused.
When the catalog reader is already at the end it knows of, that wait costs nothing, so a flood
of records naming unknown items flows at the speed of good ones.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

import faust
import orjson
from faust.types import EventT, Message

from online_learning.contract import (
    EventError,
    Feedback,
    InventorySignal,
    Product,
    SubstitutionRequest,
    decode_catalog,
    decode_feedback,
    decode_order,
    decode_preference,
    decode_request,
    decode_signal,
)
from online_learning.contract.replies import Reply, reply_payload
from online_learning.engine import SignalOutcome
from online_learning.ranking import empty_reason
from streams.batch_produce import Record
from streams.faust_internals import received_at, take_batches
from streams.settings import BACKLOG_BATCH_WAIT_MS
from streams.worker.orders import OrderCounts
from streams.worker.outcomes import FeedbackOutcomes
from streams.worker.partitioning import RoutingCheck, partition_count

if TYPE_CHECKING:
    from streams.worker.worker import Worker

__all__ = ["Agents"]

T = TypeVar("T")

CATALOG_WITHIN_S = 0.05  # the longest a catalog or preferences batch waits to fill up


class Agents:
    """The agents of ``worker``: catalog validation, signals, feedback, completed orders."""

    def __init__(self, worker: Worker) -> None:
        self.settings = worker.settings
        self.engine = worker.engine
        self.metrics = worker.metrics
        self.output = worker.output
        self.catalog = worker.catalog
        self.learning = worker.learning
        self.state = worker.state
        self.seen = worker.seen
        self.preferences = worker.preferences
        self.preferences_reader = worker.preferences_reader
        self.deliveries = worker.app.deliveries  # when a batch holds all there is (take_batches)
        self.orders = OrderCounts(self.metrics, self.engine.department)
        self.outcomes = FeedbackOutcomes(self.engine, self.metrics)
        for topic in self.settings.input_topics():
            self.metrics.redelivered.labels(topic)  # exported as 0 from the start, not absent
        self.routing = RoutingCheck(
            self.metrics,
            lambda topic: partition_count(worker.app, topic),
            (
                self.settings.signals_topic,
                self.settings.feedback_topic,
                self.settings.requests_topic,
            ),
        )

    # -- the agents ----------------------------------------------------------------------------
    async def validate_catalog(self, stream: faust.StreamT) -> None:
        """Dead-letter each catalog record the contract refuses, once in the whole group.

        The catalog itself is read by every worker outside the group (catalog_reader.py).
        """
        settings = self.settings
        events_in = self.metrics.events_in.labels(settings.catalog_topic)
        async for batch in take_batches(
            stream, settings.batch_size, CATALOG_WITHIN_S, self.deliveries
        ):
            events_in.inc(len(batch))
            for event in batch:
                if not self.first_time(event):
                    continue
                try:
                    decode_catalog(event.message.key, event.message.value)
                except EventError as exc:
                    self.output.refuse(event.message, exc)
            await self.output.flush_dead_letters()

    async def validate_preferences(self, stream: faust.StreamT) -> None:
        """Dead-letter each preference record the contract refuses, once in the whole group.

        Every worker reads the whole topic outside the group (preferences_reader.py).
        """
        events_in = self.metrics.events_in.labels(self.settings.preferences_topic)
        async for batch in take_batches(
            stream, self.settings.batch_size, CATALOG_WITHIN_S, self.deliveries
        ):
            events_in.inc(len(batch))
            for event in batch:
                if not self.first_time(event):
                    continue
                message = event.message
                try:
                    if message.key is None:
                        raise EventError(
                            f"{message.topic}: a record needs its key, customer_id or"
                            " customer_id:item_id (the topic is a table by key)"
                        )
                    decode_preference(message.key, message.value)
                except EventError as exc:
                    self.output.refuse(message, exc)
            await self.output.flush_dead_letters()

    async def process_signals(self, stream: faust.StreamT) -> None:
        """Batch, restore a partition's state first if it is new here, apply, publish, log.

        Rankings are published before the changelog records that mark their signal applied.
        """
        await self.catalog.ready.wait()
        await self.learning.ready.wait()  # rank with the whole model, as before a restart
        events_in = self.metrics.events_in.labels(self.settings.signals_topic)
        async for batch in self.input_batches(stream):
            events_in.inc(len(batch))
            await self.process_signal_batch(batch)
            # Read now, produced once the batch's rankings have left, before the batch's
            # offsets are committed (state_changelog.py): a crash before the state left
            # processes the signals again, re-sending at most their rankings. A signal's state
            # is never applied twice and its ranking never lost.
            await self.state.flush()

    async def process_feedback(self, stream: faust.StreamT) -> None:
        """Validate this worker's feedback partitions; every worker learns from the log."""
        await self.catalog.ready.wait()
        # Count each event once: after a restart, what was counted before (and forwarded) is
        # known only once the model has replayed the log (outcomes.py).
        await self.learning.ready.wait()
        events_in = self.metrics.events_in.labels(self.settings.feedback_topic)
        async for batch in self.input_batches(stream):
            events_in.inc(len(batch))
            valid = await self.validate_feedback_batch(batch)
            if valid:
                await self.output.forward(valid)

    async def process_orders(self, stream: faust.StreamT) -> None:
        """Count this worker's partitions of completed orders, once in the group (orders.py)."""
        await self.catalog.ready.wait()  # the lines' departments come from the catalog
        events_in = self.metrics.events_in.labels(self.settings.orders_topic)
        async for batch in self.input_batches(stream):
            events_in.inc(len(batch))
            await self.count_order_batch(batch)

    async def process_requests(self, stream: faust.StreamT) -> None:
        """Reply to this worker's partitions of substitution requests, each once."""
        await self.catalog.ready.wait()
        await self.learning.ready.wait()  # the whole model, customers' tastes included
        await self.preferences_reader.ready.wait()
        events_in = self.metrics.events_in.labels(self.settings.requests_topic)
        async for batch in self.input_batches(stream):
            events_in.inc(len(batch))
            await self.reply_batch(batch)

    def input_batches(self, stream: faust.StreamT) -> AsyncIterator[Sequence[EventT]]:
        """``stream`` in the input agents' batches: at most ``batch_size``, handed over once
        the consumer's fetch is in, ``batch_wait_ms`` after the first event at the latest
        (``BACKLOG_BATCH_WAIT_MS`` while the consumer holds a backlog, streams/settings.py)."""
        wait_ms = self.settings.batch_wait_ms  # latency matters there
        return take_batches(
            stream,
            self.settings.batch_size,
            wait_ms / 1e3,
            self.deliveries,
            max(BACKLOG_BATCH_WAIT_MS, wait_ms) / 1e3,
        )

    # -- a batch -------------------------------------------------------------------------------
    async def process_signal_batch(self, batch: Sequence[EventT]) -> None:
        """Decode, let the catalog catch up once if needed, apply in order, send refusals."""
        signals = self.decode(batch, decode_signal)
        await self.routing.check(signals)  # counts records off their store's partition
        await self.wait_for_items(signals, lambda signal: (signal.item_id,))
        for event, signal in signals:
            await self.process_signal(event, signal)
        await self.output.flush_dead_letters()

    async def validate_feedback_batch(self, batch: Sequence[EventT]) -> list[Record]:
        """The batch's valid feedback events, raw, in order; the rest refused and sent.

        Each valid event is counted by outcome, unless its event_id was counted before.
        """
        events = self.decode(batch, decode_feedback)
        await self.routing.check(events)  # counts records off their store's partition
        await self.wait_for_items(events, lambda fb: (fb.item_id, fb.substitute_id))
        valid: list[Record] = []
        for event, feedback in events:
            requested = self.check_feedback(event, feedback)
            if requested is not None:
                self.outcomes.count(feedback, requested.department)
                valid.append((event.message.key, event.message.value))
        await self.output.flush_dead_letters()
        return valid

    async def count_order_batch(self, batch: Sequence[EventT]) -> None:
        """Decode and count the batch's orders, each once in the group; the rest refused.

        An order naming items the catalog lacks is no error: it is counted, those lines under
        department ``unknown`` (orders.py), after the catalog had its chance to catch up.
        """
        orders = self.decode(batch, decode_order)
        await self.wait_for_items(orders, lambda order: (line.item_id for line in order.lines))
        state = self.state
        for event, order in orders:
            message = event.message
            # Partitioned like the signals: the state changelog of the same partition number
            # says up to where it was counted before it moved here (state_changelog.py).
            owned = message.partition in state.owned
            if owned:
                await state.ready(message.partition)
                if state.already_counted(message.topic, message.partition, message.offset):
                    self.metrics.redelivered.labels(message.topic).inc()
                    continue
            try:
                self.orders.count(order)
            except Exception as exc:  # a bug: never the agent's end
                self.output.refuse(message, exc)
            if owned:
                state.counted(message.topic, message.partition, message.offset)
        await self.output.flush_dead_letters()
        await state.flush()

    async def reply_batch(self, batch: Sequence[EventT]) -> None:
        """Decode, reply to each request, write the replies to the changelog, then publish.

        The replies reach the changelog before they are published (state_changelog.py), so a
        request handled again after a crash gets the very reply it got before.
        """
        requests = self.decode(batch, decode_request)
        await self.routing.check(requests)  # counts records off their store's partition
        await self.wait_for_items(requests, lambda request: (request.item_id,))
        state, metrics = self.state, self.metrics
        out: list[tuple[bytes, bytes, float | None, float | None]] = []
        for event, request in requests:
            message = event.message
            caused_at, received = message.timestamp, received_at(message)
            owned = message.partition in state.owned
            if owned:
                await state.ready(message.partition)
                stored = state.stored_reply(message.topic, message.partition, message.offset)
                if stored is not None:
                    metrics.replies_resent.inc()
                    out.append((*stored, caused_at, received))
                    continue
            try:
                reply = self.reply(request.customer_id, request.item_id, request)
            except Exception as exc:  # an unknown store or item, or a bug
                self.output.refuse(message, exc)
                continue
            key, value = reply.key.encode(), orjson.dumps(reply_payload(reply))
            if owned:
                state.replied(message.topic, message.partition, message.offset, key, value)
            out.append((key, value, caused_at, received))
        await self.output.flush_dead_letters()
        await state.write_replies()
        await self.output.publish_replies(out)

    def reply(self, customer_id: str, item_id: str, request: SubstitutionRequest) -> Reply:
        """The engine's reply, given what the customer chose and needs; counted by kind."""
        choice = self.preferences.choice(customer_id, item_id)
        needs = self.preferences.needs(customer_id)
        reply = self.engine.reply(request, choice, needs)
        tastes = self.engine.tastes
        if choice is not None and choice.choice != "best_match":
            kind = "customer_choice"
        elif needs or (tastes is not None and tastes.evidence(customer_id) > 0):
            kind = "personal"
        else:
            kind = "store"
        self.metrics.replies.labels(kind).inc()
        if not reply.substitutes:
            self.metrics.replies_empty.labels(empty_reason(reply.reason)).inc()
        return reply

    def decode(
        self, batch: Iterable[EventT], decoder: Callable[[bytes | None], T]
    ) -> list[tuple[EventT, T]]:
        """The batch's messages seen for the first time, decoded; the rest refused (queued)."""
        decoded: list[tuple[EventT, T]] = []
        for event in batch:
            if not self.first_time(event):
                continue
            try:
                decoded.append((event, decoder(event.message.value)))
            except Exception as exc:
                self.output.refuse(event.message, exc)
        return decoded

    async def wait_for_items(
        self, records: Sequence[tuple[EventT, T]], items: Callable[[T], Iterable[str]]
    ) -> None:
        """If records name items the catalog lacks, let the catalog catch up, once, bounded.

        The wait ends once the catalog reader has applied everything the catalog topic held
        when the last of these records arrived (:meth:`CatalogReader.sync`).
        """
        engine = self.engine
        unknown = [
            event
            for event, record in records
            if not all(engine.knows_item(i) for i in items(record))
        ]
        if not unknown or self.settings.reference_wait_s <= 0:
            return
        waiting = len(unknown)
        gauge = self.metrics.waiting_for_catalog
        gauge.inc(waiting)
        started = time.monotonic()
        # when the last of them arrived: the catalog as it was then must be read
        arrived = [received_at(event.message) for event in unknown]
        since = started if None in arrived else max(a for a in arrived if a is not None)
        try:
            await self.catalog.sync(timeout=self.settings.reference_wait_s, since=since)
        finally:
            gauge.dec(waiting)
            self.metrics.catalog_waits.observe(time.monotonic() - started)

    # -- one message ---------------------------------------------------------------------------
    async def process_signal(self, event: EventT, signal: InventorySignal) -> None:
        """One signal: wait for its partition's state, apply it, publish what it caused, note
        the state to write at the batch end."""
        message = event.message
        await self.state.ready(message.partition)
        outcome = self.apply_signal(message, signal)
        if outcome is None:
            return
        # also what a restore found ended; handed over before any await, so in order
        retired = self.engine.take_retired()
        if outcome.rankings or retired:
            await self.output.publish(
                outcome.rankings, message.timestamp, retired, received_at(message)
            )
            self.state.ranked(outcome.rankings)
            self.state.retired(retired)
        if outcome.changed:
            self.state.applied(
                message.partition, message.offset, signal.store_id, signal.item_id, outcome.was_live
            )

    def apply_signal(self, message: Message, signal: InventorySignal) -> SignalOutcome | None:
        """Apply a decoded signal; None if it was refused (queued for the dead-letter topic)
        or if the changelog shows it applied before a crash."""
        try:
            if self.state.already_applied(
                message.partition, message.offset, signal.store_id, signal.item_id
            ):
                return None
            return self.engine.apply_signal(signal)
        except Exception as exc:  # an unknown reference, or a bug: never the agent's end
            self.output.refuse(message, exc)
            return None

    def check_feedback(self, event: EventT, feedback: Feedback) -> Product | None:
        """The requested item if the event names known items and stores; else None, and the
        event is refused (queued)."""
        try:
            return self.engine.validate_feedback(feedback)
        except Exception as exc:
            self.output.refuse(event.message, exc)
            return None

    def first_time(self, event: EventT) -> bool:
        """False for a message this worker processed before a rebalance handed it over again."""
        message = event.message
        if self.seen.first_time(message.topic, message.partition, message.offset):
            return True
        self.metrics.redelivered.labels(message.topic).inc()
        return False
