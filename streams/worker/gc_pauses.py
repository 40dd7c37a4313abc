"""How long Python's cyclic garbage collections hold the worker, by generation.

A collection holds every thread of the process while it runs. A full one (generation 2) walks
every tracked object that was not frozen (worker.py freezes what it loaded once it is ready),
and in a serving worker it runs a few times a minute for 10-30 ms (docs/performance.md,
"Garbage-collection stalls"): every message fetched meanwhile waits.
``gc.callbacks`` says when each collection starts and stops. A callback can run in any thread,
in the middle of any allocation, so it only queues the duration; :meth:`GcPauses.flush`
(the gauges timer) observes them into ``fillrate_gc_pause_seconds``.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from typing import Any

from prometheus_client import Histogram

__all__ = ["GcPauses"]


class GcPauses:
    """Times every collection while installed; :meth:`flush` observes what it timed."""

    def __init__(self, histogram: Histogram, keep: int = 10_000) -> None:
        """``histogram``: labelled by generation ("0", "1", "2"). ``keep``: durations held
        between two flushes at most (the oldest are dropped beyond it)."""
        self.histogram = histogram
        self._started = 0.0  # collections never overlap: one start, then its stop
        self._timed: deque[tuple[int, float]] = deque(maxlen=keep)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self._timed.append((int(info["generation"]), now - self._started))

    def install(self) -> None:
        """Start timing collections (idempotent)."""
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        """Stop timing collections (idempotent)."""
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def flush(self) -> int:
        """Observe the durations timed since the last flush; returns how many."""
        timed, labels = self._timed, self.histogram.labels
        n = 0
        while timed:
            generation, seconds = timed.popleft()
            labels(str(generation)).observe(seconds)
            n += 1
        return n
