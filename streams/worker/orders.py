"""Completed orders counted once in the group, so the perfect-order fill rate is a PromQL ratio.

The worker that owns an ``orders.completed`` partition counts each order it reads there:
``fillrate_orders_total``, ``fillrate_orders_perfect_total`` (every line found or substituted)
and ``fillrate_order_lines_total{outcome,department}``. Nothing else counts orders (they are
not forwarded to the learning log), so summing over workers gives each order once and

    sum(rate(fillrate_orders_perfect_total[5m])) / sum(rate(fillrate_orders_total[5m]))

is the perfect-order fill rate. A message handed over again to the same worker by a rebalance
never gets here (the agents skip it, redelivery.py); one counted by the partition's previous
owner is skipped too, the state changelog of that partition saying up to which offset it was
counted (state_changelog.py); and an ``order_id`` this worker counted already (a producer's
retry) is recognised among the last :data:`COUNTED_ORDERS` it counted.

What a crash can cost: orders a worker counted but whose offsets it had not yet written to the
changelog (a batch, at most) are counted again by the next owner, and the dead process's
increments since its last scrape are lost to Prometheus.

An order naming items the catalog lacks is counted all the same, its lines under department
``unknown``: the order happened, and the fill rate must not depend on whether the catalog
feed has caught up (or still lists a discontinued item). Departments come from the catalog,
bounded as feedback's are (outcomes.py): at most ``DEPARTMENT_LABELS`` distinct values per
worker, the first seen, and any later one reads ``other``.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable

from online_learning.contract import CompletedOrder
from online_learning.recent_ids import RecentIds
from streams.metrics import WorkerMetrics
from streams.worker.outcomes import DEPARTMENT_LABELS, BoundedLabels

__all__ = ["COUNTED_ORDERS", "OrderCounts"]

COUNTED_ORDERS = 100_000
"""Order ids a worker remembers having counted, to recognise a producer's retry."""


class OrderCounts:
    """How one completed order moves the order counters of ``metrics``.

    ``department_of`` gives an item's catalog department, None for an item it lacks.

    >>> from online_learning.contract import OrderLine
    >>> counts = OrderCounts(WorkerMetrics(), {"milk": "dairy"}.get)
    >>> order = CompletedOrder("o1", "s1", 1.0, (OrderLine("milk", "found"),
    ...     OrderLine("rye", "substituted", "spelt")))
    >>> counts.count(order), counts.count(order)  # the second: a producer's retry
    (True, False)
    >>> value = counts.metrics.registry.get_sample_value
    >>> value("fillrate_orders_total"), value("fillrate_orders_perfect_total")
    (1.0, 1.0)
    >>> value("fillrate_order_lines_total", {"outcome": "substituted", "department": "unknown"})
    1.0
    """

    def __init__(
        self,
        metrics: WorkerMetrics,
        department_of: Callable[[str], str | None],
        remember: int = COUNTED_ORDERS,
    ) -> None:
        self.metrics = metrics
        self.department_of = department_of
        self.departments = BoundedLabels(DEPARTMENT_LABELS)  # as feedback's (outcomes.py)
        self._counted = RecentIds(remember)

    def count(self, order: CompletedOrder) -> bool:
        """Count an order unless its ``order_id`` was counted here before; True if counted."""
        if not self._counted.add(order.order_id):
            return False
        metrics = self.metrics
        metrics.orders.inc()
        if order.perfect:
            metrics.orders_perfect.inc()
        tally = Tally(
            (line.outcome, self.departments(self.department_of(line.item_id)))
            for line in order.lines
        )
        for (outcome, department), n in tally.items():
            metrics.order_lines.labels(outcome, department).inc(n)
        return True
