"""Prometheus metrics of a worker, in their own registry.

Names follow the project's conventions: prefix ``fillrate_``, base units, counters ending in
``_total``. No label carries an item or store id: labels are topics, triggers, error kinds,
outcomes, reasons from a fixed list, and departments (at most 100 values, from the catalog).
The same registry also carries prometheus_client's standard ``process_*`` and ``python_*``
metrics (CPU, memory, file descriptors, start time, garbage collections), which dashboards
and alerts made for any Python service expect, and ``fillrate_build_info{version}``.
"""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from online_learning.contract import EventError
from online_learning.engine import RETIREMENTS, UnknownReference
from online_learning.ranking import EMPTY_REASONS
from streams.cli import version

__all__ = ["CONTENT_TYPE_LATEST", "WorkerMetrics", "error_kind"]


def error_kind(exc: Exception) -> str:
    """A low-cardinality label for why a message was dead-lettered."""
    if isinstance(exc, UnknownReference):
        return "unknown_reference"
    if isinstance(exc, EventError):
        text = str(exc)
        if "not valid JSON" in text or "not UTF-8" in text or "must be a JSON object" in text:
            return "malformed"
        if "tombstone" in text or "value is null" in text:
            return "malformed"
        return "schema"
    return "internal"


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds, in seconds, of the end-to-end latency histograms (rankings and replies)."""


class WorkerMetrics:
    """Every metric the worker exports; one instance per process.

    Grouped by what they watch: the traffic in and out, the learning, the state held,
    whether the worker and its broker are up, and the process itself.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._add_process(self.registry)
        self._add_traffic(self.registry)
        self._add_learning(self.registry)
        self._add_orders(self.registry)
        self._add_state(self.registry)
        self._add_health(self.registry)
        self._caught_up: dict[int, int] = {}  # id(counter) -> the total it was raised to

    def _add_traffic(self, r: CollectorRegistry) -> None:
        self.events_in = Counter(
            "fillrate_events_in_total", "Input messages consumed, by topic", ["topic"], registry=r
        )
        self.dead_letters = Counter(
            "fillrate_dead_letters_total",
            "Input messages sent to the dead-letter topic, by source topic and error kind",
            ["topic", "kind"],
            registry=r,
        )
        self.rankings_out = Counter(
            "fillrate_rankings_out_total",
            "Ranking events published, by trigger",
            ["trigger"],
            registry=r,
        )
        self.rankings_empty = Counter(
            "fillrate_rankings_empty_total",
            "Ranking events published with no substitute, by why: never_substituted (a rule),"
            " no_other_items (its candidate pool is empty), no_candidates (no other item passes"
            " the hard rules, as for an item alone in its aisle), none_available (every"
            " candidate believed out of stock),"
            " other. Counted by the worker that publishes them (the owner of the store's"
            " partition): sum over workers",
            ["reason"],
            registry=r,
        )
        for reason in EMPTY_REASONS:
            if reason != "customer_needs":  # a reply's reason, never a ranking's
                self.rankings_empty.labels(reason)
        self.rankings_retired = Counter(
            "fillrate_rankings_retired_total",
            "Live rankings that ended, each published as a tombstone of its key, by why:"
            " restock, aged_out, not_in_catalog, not_restored (a restore found the item"
            " available). Counted by the worker that publishes them (the owner of the store's"
            " partition): sum over workers",
            ["reason"],
            registry=r,
        )
        for reason in RETIREMENTS:
            self.rankings_retired.labels(reason)
        self.rankings_explored = Counter(
            "fillrate_rankings_explored_total",
            "Ranking events whose first substitute was chosen by exploration, not greedily",
            registry=r,
        )
        self.latency = Histogram(
            "fillrate_event_to_ranking_latency_seconds",
            "From the triggering event's Kafka timestamp to its ranking being published",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.replies = Counter(
            "fillrate_replies_total",
            "Replies to substitution requests, by what shaped them: customer_choice (the"
            " customer's own picks or no_substitute), personal (the customer's needs or learned"
            " taste), store (the store-level ranking). Counted by the worker that owns the"
            " request's partition, once per request: sum over workers",
            ["kind"],
            registry=r,
        )
        for kind in ("customer_choice", "personal", "store"):
            self.replies.labels(kind)
        self.replies_empty = Counter(
            "fillrate_replies_empty_total",
            "Replies with no substitute, by why: customer_declined, customer_needs (no candidate"
            " carries every tag the customer needs), or the reasons of empty rankings. Counted"
            " by the owner of the request's partition: sum over workers",
            ["reason"],
            registry=r,
        )
        for reason in ("customer_declined", *EMPTY_REASONS):
            self.replies_empty.labels(reason)
        self.replies_resent = Counter(
            "fillrate_replies_resent_total",
            "Requests handled again after a crash or a move, answered with the reply stored"
            " before (the same substitutes): a consumer drops the copy by request_id",
            registry=r,
        )
        self.reply_latency = Histogram(
            "fillrate_request_to_reply_latency_seconds",
            "From the request's Kafka timestamp to its reply being published",
            # a reply waits behind whatever the worker's queue holds: seconds on a busy worker
            buckets=(*LATENCY_BUCKETS, 30.0, 60.0),
            registry=r,
        )
        self.worker_latency = Histogram(
            "fillrate_worker_latency_seconds",
            "The worker's own part: from the fetch response holding the triggering message"
            " reaching its consumer to the ranking or reply being handed to the producer, by"
            " output (ranking, reply); the broker's and the network's time is not in it",
            ["output"],
            # Fine from 1 to 50 ms, where the target (p99 under 5 ms) is, and up to 1 s, where
            # the tail is when fetches come in bursts: a quantile is interpolated within its
            # bucket, so a wide one says little.
            buckets=(
                0.0001,
                0.00025,
                0.0005,
                0.001,
                0.002,
                0.003,
                0.004,
                0.005,
                0.0075,
                0.01,
                0.015,
                0.02,
                0.03,
                0.05,
                0.075,
                0.1,
                0.15,
                0.2,
                0.25,
                0.35,
                0.5,
                0.75,
                1.0,
                2.5,
                5.0,
            ),
            registry=r,
        )
        for output in ("ranking", "reply"):
            self.worker_latency.labels(output)
        self.fetch_records = Histogram(
            "fillrate_fetch_records",
            "Records in each fetch the group consumer handed over, its input topics together:"
            " the last record of a fetch waits for every one before it, so the own latency's"
            " tail follows this one's",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.loop_lag = Histogram(
            "fillrate_event_loop_lag_seconds",
            "How late a 10 ms sleep on the worker's event loop woke up: how long something held"
            " the loop (a ranking, a snapshot capture, a collection) while messages waited",
            buckets=(
                *(0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03),
                *(0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            ),
            registry=r,
        )
        self.gc_pauses = Histogram(
            "fillrate_gc_pause_seconds",
            "How long each of Python's cyclic garbage collections held the worker, by"
            " generation: a full collection (2) holds the event loop while messages wait",
            ["generation"],
            buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        for generation in ("0", "1", "2"):
            self.gc_pauses.labels(generation)
        self.snapshots_written = Counter(
            "fillrate_snapshots_written_total",
            "Model snapshots this worker wrote (the holder of signals partition 0 writes them)",
            registry=r,
        )
        self.snapshot_bytes = Gauge(
            "fillrate_snapshot_bytes",
            "Size of the last model snapshot this worker wrote",
            registry=r,
        )
        self.snapshot_fallbacks = Counter(
            "fillrate_snapshot_fallbacks_total",
            "Model snapshots that could not be used at start (unusable, error: the whole log is"
            " replayed instead) or written (write_failed: the previous one stays the newest)",
            ["reason"],
            registry=r,
        )
        for reason in ("unusable", "error", "write_failed"):
            self.snapshot_fallbacks.labels(reason)
        self.consumer_lag = Gauge(
            "fillrate_consumer_lag",
            "Messages in this worker's input partitions not processed yet, by topic",
            ["topic"],
            registry=r,
        )
        self.produce_errors = Counter(
            "fillrate_produce_errors_total", "Output messages that failed to publish", registry=r
        )
        self.waiting_for_catalog = Gauge(
            "fillrate_records_waiting_for_catalog",
            "Input records in batches now waiting for the catalog to catch up (they name items"
            " this worker's catalog does not hold yet)",
            registry=r,
        )
        self.catalog_waits = Histogram(
            "fillrate_catalog_wait_seconds",
            "How long a batch naming unknown items waited for the catalog (at most"
            " reference_wait_s, once per batch)",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
            registry=r,
        )
        self.redelivered = Counter(
            "fillrate_redelivered_total",
            "Messages handed over again after a rebalance (Faust seeks back to the last commit)"
            " and skipped: this worker had processed them already",
            ["topic"],
            registry=r,
        )
        self.records_misrouted = Counter(
            "fillrate_records_misrouted_total",
            "Signal and feedback records that arrived on another partition than the one murmur2"
            " of their store_id picks (Java's default partitioner; librdkafka producers need"
            " partitioner=murmur2_random); processed all the same. Counted by the worker that"
            " owns the partition: sum over workers",
            ["topic"],
            registry=r,
        )

    def _add_learning(self, r: CollectorRegistry) -> None:
        self.feedback = Counter(
            "fillrate_feedback_total",
            "Feedback events by outcome (accepted, rejected, refunded) and the requested item's"
            " department ('unknown' if none, 'other' past 100 departments). Counted once in the"
            " group: by the worker that owns the event's feedback partition when it validates"
            " an event_id it has not counted or learned before, never on a replay of the"
            " learning log: sum over workers",
            ["outcome", "department"],
            registry=r,
        )
        self.horror = Counter(
            "fillrate_horror_total",
            "Rejected and refunded feedback events by outcome and by the structural theme of"
            " their (requested, substitute) pair: size, brand, price, kind, fat, tags, rule_edge,"
            " or none (online_learning.themes; docs/operations.md). A pair showing several"
            " themes counts under each, so the themes sum to more than the events. Counted once"
            " in the group, with fillrate_feedback_total, by the feedback partition's owner:"
            " sum over workers",
            ["theme", "outcome"],
            registry=r,
        )
        self.feedback_reasons = Counter(
            "fillrate_feedback_reasons_total",
            "Feedback events by the reason codes they carry (too_expensive, wrong_size,"
            " different_brand, dietary, wrong_product, quality, other); an event with two codes"
            " counts under both, one without none. Counted once in the group, with"
            " fillrate_feedback_total, by the feedback partition's owner: sum over workers",
            ["reason"],
            registry=r,
        )
        self.feedback_learned = Counter(
            "fillrate_feedback_learned_total",
            "Feedback events this worker's model learned from the shared learning log, the"
            " replay at start included. Every worker learns, and counts, the same events: max"
            " over workers, never sum (fillrate_feedback_total counts each event once)",
            registry=r,
        )
        self.feedback_duplicates = Counter(
            "fillrate_feedback_duplicates_total",
            "Learning-log records this worker ignored because their event_id was already"
            " learned, the replay included. Every worker counts the same records: max over"
            " workers, never sum",
            registry=r,
        )
        self.model_log_loss = Gauge(
            "fillrate_model_log_loss", "Progressive-validation log loss of p_accept", registry=r
        )
        self.prior_log_loss = Gauge(
            "fillrate_prior_log_loss",
            "Log loss the content prior alone would have on the same feedback; learning helps"
            " while fillrate_model_log_loss is below it",
            registry=r,
        )
        self.model_roc_auc = Gauge(
            "fillrate_model_roc_auc", "Progressive-validation ROC AUC of p_accept", registry=r
        )
        self.interactions_counted = Gauge(
            "fillrate_interactions_counted",
            "1 while the learned interaction weights count in p_accept (their recent log loss"
            " beats the model's without them), 0 while they do not or are switched off",
            registry=r,
        )
        self.acceptance_rate = Gauge(
            "fillrate_acceptance_rate",
            "Share of offered substitutes accepted over the last 1,000 feedback events this"
            " worker learned (every worker learns every event: per worker, never summed; the"
            " group's acceptance is a ratio of fillrate_feedback_total)",
            registry=r,
        )
        # Undefined until the first feedback event, and NaN says so (0 would read as a value).
        for gauge in (
            self.model_log_loss,
            self.prior_log_loss,
            self.model_roc_auc,
            self.acceptance_rate,
        ):
            gauge.set(float("nan"))
        self.acceptance_drifts = Counter(
            "fillrate_acceptance_drift_total",
            "Changes in the acceptance rate detected by ADWIN on the accept/reject stream",
            registry=r,
        )
        self.learning_lag = Gauge(
            "fillrate_learning_lag",
            "Feedback records in the shared learning log this worker's model has not learned yet",
            registry=r,
        )
        self.learning_skipped = Counter(
            "fillrate_learning_skipped_total",
            "Learning-log records not learned: refused (e.g. an item removed since it was"
            " forwarded) or internal (a bug; logged with its traceback, the worker goes on)",
            ["reason"],
            registry=r,
        )
        for reason in ("refused", "internal"):
            self.learning_skipped.labels(reason)

    def _add_orders(self, r: CollectorRegistry) -> None:
        # Counted where orders are read, by the partition's owner (streams/worker/orders.py).
        who = "Counted by the worker that owns the order's partition: sum over workers"
        self.orders = Counter(
            "fillrate_orders_total", f"Completed orders (topic orders.completed). {who}", registry=r
        )
        self.orders_perfect = Counter(
            "fillrate_orders_perfect_total",
            "Completed orders whose every line was found or substituted (kept by the customer);"
            f" over fillrate_orders_total, the perfect-order fill rate. {who}",
            registry=r,
        )
        self.order_lines = Counter(
            "fillrate_order_lines_total",
            "Lines of completed orders by outcome (found, substituted, rejected, refunded,"
            " missing) and the ordered item's catalog department ('unknown' if the catalog"
            f" lacks it, 'other' past 100 departments). {who}",
            ["outcome", "department"],
            registry=r,
        )

    def _add_state(self, r: CollectorRegistry) -> None:
        self.availability_entries = Gauge(
            "fillrate_availability_entries",
            "Tracked (store, item) availability entries",
            registry=r,
        )
        self.live_rankings = Gauge(
            "fillrate_live_rankings", "Rankings of items still believed unavailable", registry=r
        )
        self.catalog_items = Gauge(
            "fillrate_catalog_items", "Items in this worker's catalog", registry=r
        )
        self.stale_signals = Counter(
            "fillrate_stale_signals_total",
            "Inventory signals older than the state they would overwrite (ignored)",
            registry=r,
        )
        self.signals_already_applied = Counter(
            "fillrate_signals_already_applied_total",
            "Re-delivered signals skipped because the state changelog shows them applied",
            registry=r,
        )

    def _add_health(self, r: CollectorRegistry) -> None:
        self.ready = Gauge(
            "fillrate_ready",
            "1 once the catalog is loaded, the learning log replayed and the group joined",
            registry=r,
        )
        self.broker_up = Gauge(
            "fillrate_broker_up", "1 while the broker answers metadata requests, else 0", registry=r
        )
        self.broker_connection_errors = Counter(
            "fillrate_broker_connection_errors_total",
            "Broker probes (one a second) that got no answer in time",
            registry=r,
        )
        self.broker_up.set(1)

    def _add_process(self, r: CollectorRegistry) -> None:
        # Collected at scrape time from /proc and the gc module: nothing to update here.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "fillrate_build_info",
            "Always 1; the version label is the installed fillrate's (as `fillrate --version`)",
            ["version"],
            registry=r,
        )
        self.build_info.labels(version()).set(1)

    def catch_up(self, counter: Counter, total: int) -> None:
        """Raise ``counter`` to ``total``, a running count kept elsewhere (the engine, the
        store state): those count on the hot path, the timer publishes the difference.

        >>> m = WorkerMetrics()
        >>> m.catch_up(m.stale_signals, 3); m.catch_up(m.stale_signals, 5)
        >>> m.registry.get_sample_value("fillrate_stale_signals_total")
        5.0
        """
        delta = total - self._caught_up.get(id(counter), 0)
        if delta > 0:
            counter.inc(delta)
            self._caught_up[id(counter)] = total

    def exposition(self, names: Collection[str] = ()) -> bytes:
        """The text exposition; only the series named in ``names`` if any (the ``name[]``
        filter Prometheus clients offer, e.g. ``/metrics?name[]=fillrate_events_in_total``:
        one cheap series for a progress poll instead of every histogram)."""
        if names:
            return generate_latest(self.registry.restricted_registry(names))
        return generate_latest(self.registry)
