"""Feedback outcomes counted once in the group, so PromQL can sum them over any number of workers.

The worker that owns an event's feedback partition counts it when it validates it, before it
forwards it to the shared learning log; nobody counts what the log replays. An event is
counted once per ``event_id``:

- a message handed over again to the same worker by a rebalance never gets here (the agents
  skip it, redelivery.py);
- an ``event_id`` this worker counted already (a producer's retry, a repeat in one batch) is
  recognised by the ids it counted, kept for the last :data:`COUNTED_IDS`;
- an ``event_id`` counted and forwarded before the partition moved here, or before this
  worker restarted, is recognised because this worker's model learned it from the log
  already: the feedback agent counts nothing before the log is replayed.

What a crash can cost: an event validated by a worker that dies before forwarding it (or before
the new owner's reader has learned it from the log) is counted again by the new owner, and the
dead process's last increments since its final scrape are lost. Both are bounded by what one
worker processes between two scrapes or within one learning-log fetch.

Departments come from the grocer's catalog: the label holds at most :data:`DEPARTMENT_LABELS`
distinct values per worker, the first seen, and any later one reads ``other``.

The same counted events feed two more counters: each rejection and refund by the structural
themes of its pair (``fillrate_horror_total{theme,outcome}``, the themes from the engine,
:mod:`online_learning.themes`), and each event's reason codes
(``fillrate_feedback_reasons_total{reason}``). Every label value is exported from the start,
so a share reads 0, not "no data", before its first event.
"""

from __future__ import annotations

from online_learning.contract import OUTCOMES, REASONS, Feedback
from online_learning.engine import SubstitutionEngine
from online_learning.recent_ids import RecentIds
from online_learning.themes import THEME_LABELS
from streams.metrics import WorkerMetrics

__all__ = ["COUNTED_IDS", "DEPARTMENT_LABELS", "REFUSALS", "BoundedLabels", "FeedbackOutcomes"]

REFUSALS = ("rejected", "refunded")
"""The outcomes counted by theme: a substitute turned down at the door, or sent back later."""

DEPARTMENT_LABELS = 100
"""Distinct department label values a worker exports; Instacart's catalog has 21."""

COUNTED_IDS = 100_000
"""Event ids a worker remembers having counted. They only need to outlive the trip through the
learning log (after it the model knows the id): 100,000 is half a minute of a worker's maximum
rate even if its model fell that far behind."""


class BoundedLabels:
    """A label's values, at most ``limit`` distinct ones: the first seen, then ``other``.

    >>> departments = BoundedLabels(2)
    >>> [departments(d) for d in ("dairy", "bakery", "frozen", "dairy", "", None)]
    ['dairy', 'bakery', 'other', 'dairy', 'unknown', 'unknown']
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._values: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return "unknown"
        if value in self._values:
            return value
        if len(self._values) >= self.limit:
            return "other"
        self._values.add(value)
        return value


class FeedbackOutcomes:
    """Counts each new feedback event once in ``fillrate_feedback_total{outcome,department}``,
    and by theme and reason code (see the module docstring)."""

    def __init__(
        self, engine: SubstitutionEngine, metrics: WorkerMetrics, remember: int = COUNTED_IDS
    ) -> None:
        self.engine = engine
        self.counter = metrics.feedback
        self.departments = BoundedLabels(DEPARTMENT_LABELS)
        self._counted = RecentIds(remember)
        self._exported: set[str] = set()
        self.horror = metrics.horror
        self.reasons = metrics.feedback_reasons
        for theme in THEME_LABELS:
            for outcome in REFUSALS:
                self.horror.labels(theme, outcome)
        for code in REASONS:
            self.reasons.labels(code)

    def count(self, feedback: Feedback, department: str | None) -> bool:
        """Count a valid event by its outcome and its requested item's department, unless its
        ``event_id`` was counted or learned before; True if it was counted."""
        if self.engine.has_learned(feedback.event_id):
            return False
        if not self._counted.add(feedback.event_id):
            return False
        label = self.departments(department)
        if label not in self._exported:
            # Every outcome of a department exported from its first event, so a ratio of
            # refunds to all feedback reads 0, not "no data", before its first refund.
            self._exported.add(label)
            for outcome in OUTCOMES:
                self.counter.labels(outcome, label)
        self.counter.labels(feedback.outcome, label).inc()
        if feedback.outcome in REFUSALS:
            for theme in self.engine.feedback_themes(feedback):
                self.horror.labels(theme, feedback.outcome).inc()
        for code in feedback.reason:
            self.reasons.labels(code).inc()
        return True
