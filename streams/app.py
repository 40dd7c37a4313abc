"""The Faust worker: topics, agents, the catalog reader, timers and web views, wired to the engine.

Agents stay thin: decode a batch, hand each event to :class:`SubstitutionEngine`, publish what
it returns. Anything refused (bad bytes, schema, unknown references, even a bug in the engine)
goes to the dead-letter topic with its reason and is counted; an agent never dies on a message.

Every worker needs the whole catalog, whatever partitions it owns, so the catalog is read by a
plain consumer outside the group (from the beginning, all partitions); the agents wait until it
has caught up before they process signals and feedback. A group agent on the catalog topic
still validates each record once, so bad catalog records are dead-lettered exactly once.

Every worker also needs the whole model. The feedback agent validates the feedback of its own
partitions and appends the valid events to the app's single-partition learning log, which
every worker learns from in the same order (learning_log.py). Per-store state (availability,
live rankings) is written to a compacted changelog and restored when the group moves a
partition to this worker, before its signals are processed (state_changelog.py).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

import faust
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import IllegalStateError
from faust.streams import Stream
from faust.types import EventT

from online_learning.availability import AvailabilityConfig
from online_learning.contract import (
    EventError,
    dead_letter_payload,
    decode_catalog,
    decode_feedback,
    decode_signal,
)
from online_learning.engine import (
    EngineConfig,
    SubstitutionEngine,
    UnknownReference,
)
from online_learning.offline.instacart import load_order_popularity
from online_learning.ranking import Ranking
from online_learning.rules import HardRules, load_rules
from streams.batch_produce import Record, send_records
from streams.broker_health import BrokerProbe
from streams.catalog_reader import CatalogReader
from streams.fetch_wait import set_fetch_wait
from streams.learning_log import LearningLogReader
from streams.metrics import CONTENT_TYPE_LATEST, WorkerMetrics, error_kind
from streams.redelivery import SeenOffsets
from streams.settings import Settings
from streams.state_changelog import StoreState

__all__ = ["Worker", "build_worker"]

log = logging.getLogger("fillrate.worker")
REFRESH_SLICE = 25  # live rankings re-ranked between two pauses for the event loop
REFRESH_PAUSE_S = 0.005
T = TypeVar("T")


@dataclass
class Worker:
    """A Faust app and the engine and metrics it drives."""

    settings: Settings
    app: faust.App
    engine: SubstitutionEngine
    metrics: WorkerMetrics
    catalog: CatalogReader
    learning: LearningLogReader
    state: StoreState
    broker: BrokerProbe
    ready: bool = False


def model_digest(engine: SubstitutionEngine) -> str:
    """A short hash of the model's weights: equal on two workers that learned the same way."""
    weights, intercept = engine.model.coefficients()
    h = hashlib.blake2b(digest_size=8)
    h.update(weights.tobytes())
    h.update(repr((intercept, engine.model.n_learned)).encode())
    if engine.effects is not None:
        h.update(engine.effects.summary().encode())
    return h.hexdigest()


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
        ),
        availability=AvailabilityConfig(prior=settings.prior, half_life_s=settings.half_life_s),
        popularity=load_order_popularity(),
    )


def build_worker(settings: Settings, rules: HardRules | None = None) -> Worker:
    """Create the Faust app with every agent, timer and view; nothing runs until it starts."""
    if settings.broker is None:
        raise ValueError("build_worker needs a broker URL (start the embedded one first)")
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
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
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.group_instance_id,
    )
    set_fetch_wait(app, settings.fetch_wait_ms)
    engine = build_engine(settings, rules)
    metrics = WorkerMetrics()
    reader = CatalogReader(settings.bootstrap_servers, settings.catalog_topic, engine)
    learning = LearningLogReader(
        settings.bootstrap_servers, settings.learning_topic, engine, reader, metrics
    )

    def producer() -> AIOKafkaProducer:
        # Faust's own producer (its settings, flushed by Faust before every offset commit),
        # used for what Faust's wrapper lacks: record batches (batch_produce.py).
        return app.producer._ensure_producer()  # type: ignore[attr-defined, no-any-return]

    def lost(topic: str, partition: int, n: int, exc: BaseException) -> None:
        metrics.produce_errors.inc(n)
        log.error("%d records for %s[%d] were not delivered: %r", n, topic, partition, exc)

    async def write(topic: str, partition: int, records: list[Record], what: str) -> None:
        """Queue records (delivery is checked on arrival, by ``lost``); count what fails here."""
        try:
            await send_records(producer(), topic, partition, records, lost)
        except Exception:
            metrics.produce_errors.inc(len(records))
            log.exception("could not write %d %s", len(records), what)

    async def send_state(partition: int, records: list[Record]) -> None:
        await write(settings.state_topic, partition, records, "state changelog records")

    state = StoreState(settings.bootstrap_servers, settings.state_topic, engine, send_state)
    probe = BrokerProbe(settings.bootstrap_servers, metrics)
    worker = Worker(settings, app, engine, metrics, reader, learning, state, probe)

    @dataclass(slots=True)
    class Applied:
        rankings: list[Ranking]
        store_id: str = ""
        item_id: str = ""
        was_live: bool = False
        changed: bool = False

    def on_signal(event: EventT) -> Applied:
        message = event.message
        signal = decode_signal(message.value)
        store_id, item_id = signal.store_id, signal.item_id
        if state.already_applied(message.partition, message.offset, store_id, item_id):
            return Applied([])
        was_live = engine.live_ranking(store_id, item_id) is not None
        before = engine.availability.entry(store_id, item_id)
        rankings = engine.on_signal(signal)
        changed = engine.availability.entry(store_id, item_id) is not before
        return Applied(rankings, store_id, item_id, was_live, changed)

    seen = SeenOffsets()
    for topic in settings.input_topics():
        metrics.redelivered.labels(topic)  # exported as 0 from the start, not absent

    def first_time(event: EventT) -> bool:
        """False for a message this worker processed before a rebalance handed it over again."""
        message = event.message
        if seen.first_time(message.topic, message.partition, message.offset):
            return True
        metrics.redelivered.labels(message.topic).inc()
        return False

    def check_feedback(value: bytes | None) -> bytes:
        engine.validate_feedback(decode_feedback(value))
        assert value is not None  # decode_feedback refuses a null value
        return value

    async def handle(event: EventT, apply: Callable[[], T]) -> T | None:
        """Run ``apply``; on an unknown item, let the catalog catch up and try once more."""
        try:
            try:
                return apply()
            except UnknownReference:
                if not await reader.sync():
                    raise
                return apply()
        except Exception as exc:
            await dead_letter(event, exc)
            return None

    def raw_topic(name: str) -> Any:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )

    catalog_topic = raw_topic(settings.catalog_topic)
    signals_topic = raw_topic(settings.signals_topic)
    feedback_topic = raw_topic(settings.feedback_topic)
    deadletter_topic = raw_topic(settings.deadletter_topic)

    async def dead_letter(event: EventT, exc: Exception) -> None:
        message = event.message
        kind = error_kind(exc)
        if kind == "internal":
            log.exception(
                "bug while processing %s@%s/%s",
                message.topic,
                message.partition,
                message.offset,
                exc_info=exc,
            )
            error = f"internal error: {exc.__class__.__name__}: {exc}"
        else:
            error = str(exc)
        metrics.dead_letters.labels(message.topic, kind).inc()
        payload = dead_letter_payload(
            message.topic, message.partition, message.offset, error, message.value, time.time()
        )
        try:
            await deadletter_topic.send(key=message.key, value=orjson.dumps(payload))
        except Exception:
            metrics.produce_errors.inc()
            log.exception(
                "could not dead-letter %s@%s/%s", message.topic, message.partition, message.offset
            )

    def delivered(ranking_id: str, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            metrics.produce_errors.inc()
            log.error(
                "ranking %s was not delivered: %r",
                ranking_id,
                None if future.cancelled() else future.exception(),
            )

    async def publish(rankings: Sequence[Ranking], caused_at: float | None) -> None:
        # Straight to the producer (batched by linger_ms), not through Faust's Topic.send and
        # its per-message FutureMessage bookkeeping; delivery failures are counted on arrival.
        for ranking in rankings:
            value = orjson.dumps(ranking.to_payload())
            try:
                future = cast(
                    "asyncio.Future[Any]",
                    await app.producer.send(
                        settings.rankings_topic, ranking.key.encode(), value, None, None, None
                    ),
                )
            except Exception:
                metrics.produce_errors.inc()
                log.exception("could not publish ranking %s", ranking.ranking_id)
                continue
            future.add_done_callback(partial(delivered, ranking.ranking_id))
            metrics.rankings_out.labels(ranking.trigger).inc()
            if ranking.explored:
                metrics.rankings_explored.inc()
            if caused_at is not None:
                metrics.latency.observe(max(0.0, time.time() - caused_at))

    async def forward(records: list[Record]) -> None:
        """Append valid feedback events to the learning log."""
        await write(settings.learning_topic, 0, records, "feedback events to the learning log")

    @app.agent(catalog_topic, name="catalog-validate")
    async def validate_catalog(stream: faust.StreamT) -> None:
        async for batch in cast(Stream, stream).take_events(settings.batch_size, within=0.05):
            for event in batch:
                metrics.events_in.labels(settings.catalog_topic).inc()
                if not first_time(event):
                    continue
                try:
                    decode_catalog(event.message.key, event.message.value)
                except EventError as exc:
                    await dead_letter(event, exc)

    @app.agent(signals_topic, name="signals")
    async def process_signals(stream: faust.StreamT) -> None:
        """Batch, restore a partition's state first if it is new here, apply, publish, log.

        Rankings are published before the changelog records that mark their signal applied.
        """
        await worker.catalog.ready.wait()
        await learning.ready.wait()  # rank with the whole model, as before a restart
        events_in = metrics.events_in.labels(settings.signals_topic)
        async for batch in cast(Stream, stream).take_events(settings.batch_size, within=0.005):
            events_in.inc(len(batch))
            for event in batch:
                if not first_time(event):
                    continue
                await state.ready(event.message.partition)
                result = await handle(event, partial(on_signal, event))
                if result is None:
                    continue
                if result.rankings:
                    await publish(result.rankings, event.message.timestamp)
                    state.ranked(result.rankings)
                if result.changed:
                    message = event.message
                    state.applied(
                        message.partition,
                        message.offset,
                        result.store_id,
                        result.item_id,
                        result.was_live,
                    )
            # Right behind the batch's rankings. The loop above seldom yields to the event loop
            # (only when a rankings batch is full or the catalog must catch up), so the
            # producer usually sends both together: a crash loses both (the signals are
            # processed again) or neither. In the rare window between, a signal's rankings are
            # published twice; its state is never applied twice (state_changelog.py).
            await state.flush()

    @app.agent(feedback_topic, name="feedback")
    async def process_feedback(stream: faust.StreamT) -> None:
        """Validate this worker's feedback partitions; every worker learns from the log."""
        await worker.catalog.ready.wait()
        events_in = metrics.events_in.labels(settings.feedback_topic)
        async for batch in cast(Stream, stream).take_events(settings.batch_size, within=0.005):
            events_in.inc(len(batch))
            valid: list[Record] = []
            for event in batch:
                if not first_time(event):
                    continue
                value = await handle(event, partial(check_feedback, event.message.value))
                if value is not None:
                    valid.append((event.message.key, value))
            if valid:
                await forward(valid)

    @app.timer(settings.refresh_interval_s)
    async def refresh_rankings() -> None:
        # Not while a rebalance or a restore is under way: state is incomplete then.
        if not worker.ready or state.busy():
            return
        # In slices, yielding to the event loop between them: one re-rank costs 40-130 us, so
        # a whole budget in one go would stall the stock-out path for tens of milliseconds.
        remaining = settings.refresh_budget
        while remaining > 0 and worker.ready and not state.busy():
            step = min(REFRESH_SLICE, remaining)
            remaining -= step
            rankings = engine.refresh(step)
            if rankings:
                await publish(rankings, None)
                state.ranked(rankings)
            if not engine.refresh_pending:
                break
            # a real pause, not sleep(0): Faust needs several loop turns per message, so the
            # consume path only gets through a batch if the refresh steps aside for a moment
            await asyncio.sleep(REFRESH_PAUSE_S)
        await state.flush()

    async def consumer_lag() -> dict[str, int]:
        """Per input topic: high watermark minus the next offset to process, over our partitions.

        Faust keeps the last offset each stream processed in ``_read_offset`` (no public API);
        a partition with nothing processed yet counts from its fetch position.
        """
        consumer = app.consumer
        lag = dict.fromkeys((settings.signals_topic, settings.feedback_topic), 0)
        for tp in consumer.assignment():
            if tp.topic not in lag:
                continue
            try:
                high = consumer.highwater(tp)
                if high is None:
                    continue
                read = consumer._read_offset.get(tp)  # type: ignore[attr-defined]
                next_offset = read + 1 if read is not None else await consumer.position(tp)
            except (AssertionError, IllegalStateError):
                # Revoked by a rebalance under way (Faust's assignment is not updated yet):
                # aiokafka refuses the question, and a timer that raises crashes the worker.
                continue
            if next_offset is not None:
                lag[tp.topic] += max(0, high - next_offset)
        return lag

    @app.timer(1.0)
    async def update_gauges() -> None:
        if worker.ready:
            for topic, lag in (await consumer_lag()).items():
                metrics.consumer_lag.labels(topic).set(lag)
        metrics.availability_entries.set(len(engine.availability))
        metrics.live_rankings.set(engine.live_rankings())
        metrics.catalog_items.set(len(engine.catalog))
        if engine.model.n_learned:
            metrics.model_log_loss.set(engine.log_loss.get())
            metrics.prior_log_loss.set(engine.prior_log_loss.get())
            metrics.model_roc_auc.set(engine.roc_auc.get())
            metrics.acceptance_rate.set(engine.acceptance_rate)
        metrics.catch_up(metrics.acceptance_drifts, engine.drifts_detected)
        metrics.catch_up(metrics.stale_signals, engine.stale_signals)
        metrics.catch_up(metrics.signals_already_applied, state.skipped_signals)
        metrics.learning_lag.set(learning.lag())

    @app.task
    async def read_catalog() -> None:
        await reader.run()

    @app.task
    async def read_learning_log() -> None:
        await learning.run()

    @app.task
    async def probe_broker() -> None:
        await probe.run()

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        state.on_revoked()
        await state.flush()
        await app.producer.flush()

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        assigned = args[0] if args else kwargs.get("assigned", ())
        seen.keep_only((tp.topic, tp.partition) for tp in assigned)
        state.on_assigned(tp.partition for tp in assigned if tp.topic == settings.signals_topic)

    joined = asyncio.Event()

    @app.on_rebalance_complete.connect
    def on_joined(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Set on every completed rebalance, also when this worker was given no partitions:
        # an idle member of the group (more workers than partitions) is healthy, on standby.
        joined.set()

    @app.task
    async def announce_ready() -> None:
        await worker.catalog.ready.wait()
        await learning.ready.wait()
        await joined.wait()
        # The catalog, its features and the replayed model live as long as the worker: take
        # them out of the cyclic GC, whose full collections would walk them all again and
        # stall the event loop for a quarter of a second each time (docs/performance.md).
        gc.collect()
        gc.freeze()
        worker.ready = True
        metrics.ready.set(1)
        log.warning(
            "fillrate worker ready: %d catalog items, consuming %s and %s on %s; "
            "health http://%s:%d/health, metrics http://%s:%d/metrics",
            len(engine.catalog),
            settings.signals_topic,
            settings.feedback_topic,
            settings.broker,
            settings.web_host,
            settings.web_port,
            settings.web_host,
            settings.web_port,
        )

    @app.page("/metrics")
    async def metrics_view(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        # aiohttp wants the charset outside content_type; the body is UTF-8 text either way.
        return web.bytes(
            metrics.exposition(), content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"
        )

    @app.page("/health")
    async def health_view(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        body = {
            "status": "ok" if worker.ready else "starting",
            "catalog_items": len(engine.catalog),
            "catalog_loaded": worker.catalog.ready.is_set(),
            "assigned_partitions": sum(
                tp.topic in (settings.signals_topic, settings.feedback_topic)
                for tp in app.consumer.assignment()
            )
            if worker.ready
            else 0,
            "availability_entries": len(engine.availability),
            "live_rankings": engine.live_rankings(),
            "feedback_learned": engine.model.n_learned,
            "feedback_duplicates": learning.duplicates,
            "feedback_digest": learning.digest,
            "learning_lag": learning.lag(),
            "model_version": engine.model.version,
            "model_digest": model_digest(engine),
            "signal_partitions": sorted(state.owned) if worker.ready else [],
            "restored_entries": state.restored_entries,
            "signals_already_applied": state.skipped_signals,
            "restoring": state.busy(),
            "broker_up": probe.up,
        }
        return web.json(body, status=200 if worker.ready else 503)

    return worker
