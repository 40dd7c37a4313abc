"""How a completed order moves the order counters, without a broker."""

from __future__ import annotations

from online_learning.contract import CompletedOrder, OrderLine
from streams.metrics import WorkerMetrics
from streams.worker.orders import OrderCounts
from streams.worker.outcomes import DEPARTMENT_LABELS


def test_department_labels_stay_bounded_and_unknown_items_are_still_counted() -> None:
    metrics = WorkerMetrics()
    departments = {f"i{n}": f"dept-{n}" for n in range(DEPARTMENT_LABELS + 5)}
    counts = OrderCounts(metrics, departments.get)
    lines = tuple(OrderLine(item, "found") for item in departments)
    assert counts.count(CompletedOrder("o1", "s1", 1.0, (*lines, OrderLine("gone", "missing"))))
    value = metrics.registry.get_sample_value
    assert value("fillrate_orders_total") == 1
    assert value("fillrate_orders_perfect_total") == 0  # a missing line: not perfect
    assert value("fillrate_order_lines_total", {"outcome": "found", "department": "other"}) == 5
    assert value("fillrate_order_lines_total", {"outcome": "missing", "department": "unknown"}) == 1
    labelled = {
        s.labels["department"]
        for family in metrics.registry.collect()
        if family.name == "fillrate_order_lines"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert len(labelled) == DEPARTMENT_LABELS + 2  # the first 100, other and unknown
