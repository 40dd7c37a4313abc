"""The worker's Faust app and its raw topics.

The topics carry bytes in and bytes out: decoding is the contract's job
(online_learning/contract), so a message the contract refuses still reaches an agent, which
dead-letters it with its reason instead of Faust dropping it in a deserializer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import faust
from faust.types import TopicT

from streams.connection import faust_credentials
from streams.faust_internals import (
    Deliveries,
    DeliveryMonitor,
    deliver_in_place,
    set_fetch_wait,
    stamp_delivery,
)
from streams.settings import Settings

__all__ = ["Topics", "WorkerApp", "create_app", "raw_topic"]


class WorkerApp(faust.App):
    """A Faust app whose :meth:`early_task` coroutines start with the app itself.

    Faust starts ``app.task`` coroutines only once the consumer group is joined and its
    tables recovered: seconds of waiting (a new group's join alone is the broker's initial
    rebalance delay, 3 s on Kafka and Tansu). Reading the catalog and the model snapshot
    needs neither the group nor the tables, so the worker starts those readers here, and
    they load while the group forms.
    """

    _early: list[Callable[[], Awaitable[None]]] | None = None
    _early_started = False
    deliveries: Deliveries | None = None  # what the consumer's fetch has left to deliver

    def early_task(self, fun: Callable[[], Awaitable[None]]) -> None:
        """Run ``fun()`` as soon as the app starts (once per process), stopped with it."""
        if self._early is None:
            self._early = []
        self._early.append(fun)

    async def on_start(self) -> None:
        await super().on_start()
        if not self._early_started:
            self._early_started = True
            for fun in self._early or ():
                self.add_future(fun())


PRODUCER_MAX_BATCH_BYTES = 256 * 1024


def create_app(settings: Settings) -> WorkerApp:
    """The Faust app of one worker in the consumer group ``settings.app_id``."""
    app = WorkerApp(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        store="memory://",
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        datadir=settings.data_dir or tempfile.mkdtemp(prefix="fillrate-"),
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        producer_linger_ms=2,
        # A partition's batch of 256 kB rather than aiokafka's 16 kB: a ranking is about 1 kB,
        # so a burst of stock-outs filled 16 kB while the request before it was in flight and
        # the next send waited for that request's round trip (27 ms seen in a burst). Within
        # the broker's default 1 MB limit per record batch.
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.group_instance_id,
        # every topic is created (or checked, in managed clusters) by streams/topics.py with
        # the operator's settings; the worker needs no leader election, so no leader topic
        topic_allow_declare=False,
        topic_disable_leader=True,
        Monitor=DeliveryMonitor,  # keeps the stamp the worker's own latency counts from
        # Faust would read about 90 of its settings from unprefixed environment variables
        # (BROKER_URL, WEB_PORT, WEB_HOST, APP_DATADIR, PRODUCER_LINGER_MS, ...) over the
        # arguments above: a BROKER_URL left for Celery or a platform's WEB_PORT would move the
        # worker's broker or its /metrics port without a word. Its settings are FILLRATE_* only.
        env={},
    )
    set_fetch_wait(app, settings.fetch_wait_ms)
    app.deliveries = stamp_delivery(app)
    deliver_in_place(app)
    return app


def raw_topic(app: faust.App, name: str, partitions: int) -> TopicT:
    """A topic whose keys and values reach the agents as the bytes on the wire."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


@dataclass(frozen=True, slots=True)
class Topics:
    """The contract's topics the agents read (the outputs are written as record batches)."""

    catalog: TopicT
    signals: TopicT
    feedback: TopicT
    orders: TopicT
    preferences: TopicT
    requests: TopicT

    @classmethod
    def of(cls, app: faust.App, settings: Settings) -> Topics:
        def topic(name: str) -> TopicT:
            return raw_topic(app, name, settings.partitions)

        return cls(
            catalog=topic(settings.catalog_topic),
            signals=topic(settings.signals_topic),
            feedback=topic(settings.feedback_topic),
            orders=topic(settings.orders_topic),
            preferences=topic(settings.preferences_topic),
            requests=topic(settings.requests_topic),
        )
