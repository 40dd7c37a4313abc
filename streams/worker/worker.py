"""One worker: the Faust app wired to the substitution engine, and the parts that keep it fed.

Every worker needs the whole catalog, whatever partitions it owns, so the catalog is read
outside the group (catalog_reader.py); the agents wait until it has caught up before they
process signals and feedback. Every worker also needs the whole model: the feedback agent
appends the valid feedback of its partitions to the app's single-partition learning log, which
every worker learns from in the same order (learning_log.py); each worker also appends there,
once a minute, the demand its signals showed, so that popularity is learned alike everywhere.
Per-store state (availability, live rankings) is written to a compacted changelog and restored
when the group moves a partition to this worker, before its signals are processed
(state_changelog.py). Customers' preferences are a table every worker reads whole, as the
catalog (preferences_reader.py): whichever worker owns the store of an order answers its
substitution requests, with the customer's choices, needs and learned taste.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from online_learning.availability import AvailabilityConfig
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.interactions import InteractionConfig
from online_learning.monitoring import LearningMonitor
from online_learning.preferences import CustomerPreferences
from online_learning.rules import HardRules, load_rules
from streams.batch_produce import Record
from streams.broker_health import BrokerProbe
from streams.catalog_reader import CatalogReader
from streams.connection import KafkaConnection
from streams.faust_internals import flush_after
from streams.learning_log import DEMAND_INTERVAL_S, LearningLogReader, publish_demand
from streams.metrics import WorkerMetrics
from streams.model_snapshots import SnapshotTopic
from streams.preferences_reader import PreferencesReader
from streams.redelivery import SeenOffsets
from streams.settings import Settings
from streams.state_changelog import StoreState
from streams.worker.agents import Agents
from streams.worker.app import Topics, create_app
from streams.worker.gc_pauses import GcPauses
from streams.worker.output import Output
from streams.worker.rebalance import Rebalance
from streams.worker.timers import GAUGES_INTERVAL_S, Timers
from streams.worker.views import add_views

__all__ = ["Worker", "build_engine", "build_worker"]

log = logging.getLogger("fillrate.worker")


def build_engine(settings: Settings, rules: HardRules | None = None) -> SubstitutionEngine:
    """The worker's engine; ``rules`` already loaded from ``settings.rules``, or loaded here."""
    return SubstitutionEngine(
        rules=load_rules(settings.rules) if rules is None else rules,
        config=EngineConfig(
            top_k=settings.top_k,
            threshold=settings.threshold,
            allowed_stores=settings.store_allowlist(),
            refresh_budget=settings.refresh_budget,
            explore_epsilon=settings.explore_epsilon,
            candidate_cache=settings.candidate_cache,
            interactions=InteractionConfig() if settings.interactions else None,
        ),
        availability=AvailabilityConfig(prior=settings.prior, half_life_s=settings.half_life_s),
    )


class Worker:
    """A Faust app with every agent, timer, task and view, and the engine and metrics it drives.

    Nothing runs until the app starts (``faust.Worker(worker.app, ...)``, see run_worker.py).
    ``ready`` turns true once the catalog and the preferences are loaded, the learning log
    replayed and the group joined.
    """

    def __init__(self, settings: Settings, rules: HardRules | None = None) -> None:
        if settings.broker is None:
            raise ValueError("a worker needs a broker URL (start the embedded one first)")
        self.settings = settings
        self.app = create_app(settings)
        self.topics = Topics.of(self.app, settings)
        self.engine = build_engine(settings, rules)
        self.monitor = LearningMonitor()
        self.metrics = WorkerMetrics()
        if self.app.deliveries is not None:
            self.app.deliveries.on_fetch = self.metrics.fetch_records.observe
        servers = KafkaConnection.from_settings(settings)
        self.output = Output(self.app, settings, self.metrics, servers)
        self.catalog = CatalogReader(servers, settings.catalog_topic, self.engine)
        self.preferences = CustomerPreferences()
        self.preferences_reader = PreferencesReader(
            servers, settings.preferences_topic, self.preferences
        )
        self.state = StoreState(
            servers,
            settings.state_topic,
            self.engine,
            self.output.write_state,
            self.output.undelivered_rankings,
            send_replies=self.output.write_replies,
        )
        # the state of the batches processed leaves before their offsets are committed
        flush_after(self.app, self.state.written)
        self.learning = LearningLogReader(
            servers,
            settings.learning_topic,
            self.engine,
            self.catalog,
            self.metrics,
            self.monitor,
            snapshots=(
                SnapshotTopic(servers, settings.snapshot_topic, self.write_snapshot)
                if settings.snapshot_every
                else None
            ),
            snapshot_every=settings.snapshot_every,
            snapshot_min_interval_s=settings.snapshot_min_interval_s,
            # One writer is enough (every worker holds the same model at the same offset):
            # whoever holds signals partition 0, so a group always has one.
            writes_snapshots=lambda: 0 in self.state.owned,
            step_aside=None if self.app.deliveries is None else self.app.deliveries.settled,
        )
        self.broker = BrokerProbe(servers, self.metrics)
        self.seen = SeenOffsets()
        self.rebalance = Rebalance(self.app, settings, self.state, self.seen)
        self.gc_pauses = GcPauses(self.metrics.gc_pauses)  # timed from the start (announce_ready)
        self.ready = False
        self.stopping = False  # the app began to shut down: publish nothing new
        self._wire()

    def _wire(self) -> None:
        """Register the agents, timers, background tasks, rebalance handlers and views."""
        app, topics = self.app, self.topics
        agents = Agents(self)
        app.agent(topics.catalog, name="catalog-validate")(agents.validate_catalog)
        app.agent(topics.signals, name="signals")(agents.process_signals)
        app.agent(topics.feedback, name="feedback")(agents.process_feedback)
        app.agent(topics.orders, name="orders")(agents.process_orders)
        app.agent(topics.preferences, name="preferences-validate")(agents.validate_preferences)
        app.agent(topics.requests, name="requests")(agents.process_requests)
        timers = Timers(self)
        app.timer(self.settings.refresh_interval_s)(timers.refresh_rankings)
        app.timer(GAUGES_INTERVAL_S)(timers.update_gauges)
        app.timer(DEMAND_INTERVAL_S)(self.publish_demand)
        app.task(timers.watch_loop)
        # the catalog, the customers' preferences and the model load while the group forms
        app.early_task(self.catalog.run)
        app.early_task(self.preferences_reader.run)
        app.early_task(self.learning.run)
        app.early_task(self.output.awaited.run)
        app.task(self.broker.run)
        self.rebalance.connect()
        app.on_before_shutdown.connect(self.on_before_shutdown)
        app.task(self.announce_ready)
        add_views(self)

    async def write_snapshot(self, records: list[Record]) -> list[asyncio.Future[Any]]:
        """Records of the model snapshots topic (model_snapshots.py)."""
        return await self.output.write(
            self.settings.snapshot_topic, 0, records, "model snapshot records"
        )

    async def publish_demand(self) -> None:
        """Append the demand this worker's signals showed to the learning log, which every
        worker learns popularity from (learning_log.py)."""
        await publish_demand(self.engine, self.output.forward)

    async def on_before_shutdown(self, sender: Any, /, *args: Any, **kwargs: Any) -> None:
        """Sent once the consumer has stopped, before the producer's last flush: the timers
        start no re-ranking whose rankings the stopping producer could no longer take, and
        collections are no longer timed."""
        self.stopping = True
        self.gc_pauses.uninstall()

    async def announce_ready(self) -> None:
        """Time every garbage collection from now on (gc_pauses.py); become ready once the
        catalog and the model are in and the group is joined."""
        self.gc_pauses.install()
        await self.catalog.ready.wait()
        await self.learning.ready.wait()
        await self.preferences_reader.ready.wait()
        await self.rebalance.joined.wait()
        # The catalog, its features and the replayed model live as long as the worker: take
        # them out of the cyclic GC, whose full collections would walk them all again and
        # stall the event loop for a quarter of a second each time (docs/performance.md).
        gc.collect()
        gc.freeze()
        self.ready = True
        self.metrics.ready.set(1)
        settings = self.settings
        log.warning(
            "fillrate worker ready: %d catalog items, %d customer preferences, consuming %s,"
            " %s, %s and %s on %s; "
            "health http://%s:%d/health, metrics http://%s:%d/metrics",
            self.engine.stats().catalog_items,
            len(self.preferences),
            settings.signals_topic,
            settings.feedback_topic,
            settings.orders_topic,
            settings.requests_topic,
            settings.broker,
            settings.web_host,
            settings.web_port,
            settings.web_host,
            settings.web_port,
        )
        await self._warm_features()

    async def _warm_features(self) -> None:
        """The pools' feature columns, built once the worker serves (see
        :meth:`CatalogReader.warm_features`), then taken out of the cyclic GC as the rest
        (a freeze alone: a full collection now would hold the loop while it serves)."""
        await self.catalog.warm_features()
        gc.freeze()


def build_worker(settings: Settings, rules: HardRules | None = None) -> Worker:
    """Create the Faust app with every agent, timer and view; nothing runs until it starts."""
    return Worker(settings, rules)
