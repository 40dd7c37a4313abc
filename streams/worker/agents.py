"""The group's agents: thin loops that decode a batch, call the engine, and hand on the result.

Each message is taken once: one this worker processed before a rebalance handed it over again
is skipped (redelivery.py). Anything refused (bad bytes, schema, an unknown reference, even a
bug in the engine) goes to the dead-letter topic with its reason and is counted; an agent never
dies on a message. A message naming an item the catalog does not hold yet gets one more try
once the catalog reader has caught up (catalog_reader.py), since the catalog travels on its
own topic and can be overtaken.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar, cast

import faust
from faust.streams import Stream
from faust.types import EventT, Message

from online_learning.contract import (
    EventError,
    InventorySignal,
    decode_catalog,
    decode_feedback,
    decode_signal,
)
from online_learning.engine import SignalOutcome, UnknownReference
from streams.batch_produce import Record

if TYPE_CHECKING:
    from streams.worker.worker import Worker

__all__ = ["Agents"]

T = TypeVar("T")

CATALOG_WITHIN_S = 0.05  # the longest a catalog batch waits to fill up
INPUT_WITHIN_S = 0.005  # the same for signals and feedback: latency matters there


class Agents:
    """The agents of ``worker``: catalog validation, signals, feedback."""

    def __init__(self, worker: Worker) -> None:
        self.settings = worker.settings
        self.engine = worker.engine
        self.metrics = worker.metrics
        self.output = worker.output
        self.catalog = worker.catalog
        self.learning = worker.learning
        self.state = worker.state
        self.seen = worker.seen
        for topic in self.settings.input_topics():
            self.metrics.redelivered.labels(topic)  # exported as 0 from the start, not absent

    # -- the agents ----------------------------------------------------------------------------
    async def validate_catalog(self, stream: faust.StreamT) -> None:
        """Dead-letter each catalog record the contract refuses, once in the whole group.

        The catalog itself is read by every worker outside the group (catalog_reader.py).
        """
        settings = self.settings
        events_in = self.metrics.events_in.labels(settings.catalog_topic)
        async for batch in cast(Stream, stream).take_events(
            settings.batch_size, within=CATALOG_WITHIN_S
        ):
            for event in batch:
                events_in.inc()
                if not self.first_time(event):
                    continue
                try:
                    decode_catalog(event.message.key, event.message.value)
                except EventError as exc:
                    await self.output.dead_letter(event.message, exc)

    async def process_signals(self, stream: faust.StreamT) -> None:
        """Batch, restore a partition's state first if it is new here, apply, publish, log.

        Rankings are published before the changelog records that mark their signal applied.
        """
        await self.catalog.ready.wait()
        await self.learning.ready.wait()  # rank with the whole model, as before a restart
        settings = self.settings
        events_in = self.metrics.events_in.labels(settings.signals_topic)
        async for batch in cast(Stream, stream).take_events(
            settings.batch_size, within=INPUT_WITHIN_S
        ):
            events_in.inc(len(batch))
            for event in batch:
                if self.first_time(event):
                    await self.process_signal(event)
            # Right behind the batch's rankings. The loop above seldom yields to the event loop
            # (only when a rankings batch is full or the catalog must catch up), so the
            # producer usually sends both together: a crash loses both (the signals are
            # processed again) or neither. In the rare window between, a signal's rankings are
            # published twice; its state is never applied twice (state_changelog.py).
            await self.state.flush()

    async def process_feedback(self, stream: faust.StreamT) -> None:
        """Validate this worker's feedback partitions; every worker learns from the log."""
        await self.catalog.ready.wait()
        settings = self.settings
        events_in = self.metrics.events_in.labels(settings.feedback_topic)
        async for batch in cast(Stream, stream).take_events(
            settings.batch_size, within=INPUT_WITHIN_S
        ):
            events_in.inc(len(batch))
            valid: list[Record] = []
            for event in batch:
                if not self.first_time(event):
                    continue
                value = await self.handle(event, partial(self.check_feedback, event.message.value))
                if value is not None:
                    valid.append((event.message.key, value))
            if valid:
                await self.output.forward(valid)

    # -- one message ---------------------------------------------------------------------------
    async def process_signal(self, event: EventT) -> None:
        """One signal: wait for its partition's state, apply it, publish what it caused, note
        the state to write at the batch end."""
        message = event.message
        await self.state.ready(message.partition)
        applied = await self.handle(event, partial(self.apply_signal, message))
        if applied is None:
            return
        signal, outcome = applied
        if outcome.rankings:
            await self.output.publish(outcome.rankings, message.timestamp)
            self.state.ranked(outcome.rankings)
        if outcome.changed:
            self.state.applied(
                message.partition, message.offset, signal.store_id, signal.item_id, outcome.was_live
            )

    def apply_signal(self, message: Message) -> tuple[InventorySignal, SignalOutcome] | None:
        """Decode and apply a signal; None if the changelog shows it applied before a crash."""
        signal = decode_signal(message.value)
        if self.state.already_applied(
            message.partition, message.offset, signal.store_id, signal.item_id
        ):
            return None
        return signal, self.engine.apply_signal(signal)

    def check_feedback(self, value: bytes | None) -> bytes:
        """The raw event if it is valid feedback naming known items and stores; else raises."""
        self.engine.validate_feedback(decode_feedback(value))
        assert value is not None  # decode_feedback refuses a null value
        return value

    def first_time(self, event: EventT) -> bool:
        """False for a message this worker processed before a rebalance handed it over again."""
        message = event.message
        if self.seen.first_time(message.topic, message.partition, message.offset):
            return True
        self.metrics.redelivered.labels(message.topic).inc()
        return False

    async def handle(self, event: EventT, apply: Callable[[], T]) -> T | None:
        """Run ``apply``; on an unknown item, let the catalog catch up and try once more.

        None (and the message dead-lettered) if it fails.
        """
        try:
            try:
                return apply()
            except UnknownReference:
                if not await self.catalog.sync():
                    raise
                return apply()
        except Exception as exc:
            await self.output.dead_letter(event.message, exc)
            return None
