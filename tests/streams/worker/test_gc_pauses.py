"""Garbage-collection pauses: every collection timed while installed, observed on flush."""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry

from streams.metrics import WorkerMetrics
from streams.worker.gc_pauses import GcPauses


def _count(registry: CollectorRegistry, generation: str) -> float:
    value = registry.get_sample_value("fillrate_gc_pause_seconds_count", {"generation": generation})
    assert value is not None
    return value


def test_a_full_collection_is_timed_and_observed_on_flush() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(WorkerMetrics(registry).gc_pauses)
    pauses.install()
    pauses.install()  # idempotent: one callback, each collection counted once
    try:
        gc.collect(2)
        gc.collect(2)
    finally:
        pauses.uninstall()
    assert _count(registry, "2") == 0  # queued by the callback, observed only by flush
    assert pauses.flush() >= 2
    assert _count(registry, "2") >= 2
    seconds = registry.get_sample_value("fillrate_gc_pause_seconds_sum", {"generation": "2"})
    assert seconds is not None and seconds > 0
    assert pauses.flush() == 0


def test_nothing_is_timed_once_uninstalled() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(WorkerMetrics(registry).gc_pauses)
    pauses.install()
    pauses.uninstall()
    pauses.uninstall()
    assert pauses not in gc.callbacks
    gc.collect(1)
    assert pauses.flush() == 0
    assert [_count(registry, g) for g in ("0", "1", "2")] == [0, 0, 0]


def test_beyond_keep_the_oldest_durations_are_dropped() -> None:
    pauses = GcPauses(WorkerMetrics(CollectorRegistry()).gc_pauses, keep=3)
    for _ in range(5):
        pauses("start", {"generation": 0})
        pauses("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
    assert pauses.flush() == 3
