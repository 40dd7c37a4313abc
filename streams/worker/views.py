"""A worker's web views: ``/metrics`` for Prometheus; ``/live`` and ``/ready`` for orchestration.

Liveness and readiness are different questions. ``/live`` answers 200 whenever the worker's
event loop answers, also while it replays the learning log for minutes after a restart: a
liveness probe on it restarts only a worker that is stuck. ``/ready`` (and ``/health``, its
older name) answers 503 until the catalog is loaded, the learning log replayed and the group
joined: a readiness probe on it keeps traffic and dashboards off a worker that is starting.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from streams.metrics import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from streams.worker.worker import Worker

__all__ = ["add_views", "health"]

# aiohttp wants the charset outside content_type; the body is UTF-8 text either way.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4"


def add_views(worker: Worker) -> None:
    """Route ``/metrics``, ``/live``, ``/ready`` and ``/health`` on ``worker``'s web server."""

    @worker.app.page("/metrics")
    async def metrics_view(web: View, request: Request) -> Response:
        # Rendered in a thread: every series of every histogram takes 10-100 ms on a busy
        # machine, which on the event loop held up every message fetched meanwhile (a
        # scrape is thread-safe: each metric takes its own lock).
        # ?name[]=a&name[]=b: only those series (the query is a multidict: every pair)
        names = [value for key, value in request.query.items() if key == "name[]"]
        body = await asyncio.to_thread(worker.metrics.exposition, names)
        return web.bytes(body, content_type=METRICS_CONTENT_TYPE)

    @worker.app.page("/live")
    async def live_view(web: View, request: Request) -> Response:
        return web.json({"status": "alive", "ready": worker.ready})

    @worker.app.page("/ready")
    async def ready_view(web: View, request: Request) -> Response:
        # without the digests: they hash the whole model (~0.3 s on the event loop at
        # 5,000,000 learned events), and a readiness probe asks every few seconds
        return web.json(health(worker, digests=False), status=200 if worker.ready else 503)

    @worker.app.page("/health")
    async def health_view(web: View, request: Request) -> Response:
        return web.json(health(worker), status=200 if worker.ready else 503)


def health(worker: Worker, digests: bool = True) -> dict[str, Any]:
    """The /health body: ready or starting, and what the worker holds and has learned.

    ``digests=False`` (the /ready body) leaves out ``model_digest`` and
    ``popularity_digest``, whose hashes read every weight, customer taste and item demand."""
    settings, state, learning = worker.settings, worker.state, worker.learning
    stats = worker.engine.stats()
    ready = worker.ready
    inputs = (settings.signals_topic, settings.feedback_topic)
    # the catalog's first load runs in a thread (catalog_reader.py) and grows popularity's
    # arrays: its digest only once that is done
    catalog_loaded = worker.catalog.ready.is_set()
    body: dict[str, Any] = {
        "status": "ok" if ready else "starting",
        "catalog_items": stats.catalog_items,
        "catalog_loaded": catalog_loaded,
        "features_warm": worker.catalog.features_warm,
        "preferences": len(worker.preferences),
        "preferences_loaded": worker.preferences_reader.ready.is_set(),
        "assigned_partitions": sum(tp.topic in inputs for tp in worker.app.consumer.assignment())
        if ready
        else 0,
        "availability_entries": stats.availability_entries,
        "live_rankings": stats.live_rankings,
        "feedback_learned": stats.feedback_learned,
        "feedback_duplicates": learning.duplicates,
        "feedback_digest": learning.digest,
        "learning_lag": learning.lag(),
        "model_version": stats.model_version,
        "interactions_counted": stats.interactions_counted,
        "signal_partitions": sorted(state.owned) if ready else [],
        "restored_entries": state.restored_entries,
        "signals_already_applied": state.skipped_signals,
        "restoring": state.busy(),
        "broker_up": worker.broker.up,
    }
    if digests:
        body["model_digest"] = worker.engine.model_digest()
        body["popularity_digest"] = worker.engine.popularity_digest() if catalog_loaded else None
    return body
