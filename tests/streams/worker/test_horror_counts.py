"""Rejections and refunds counted live by the structural theme of their pair, and feedback by its
reason codes: what ``fillrate_horror_total`` and ``fillrate_feedback_reasons_total`` show an
operator, counted with the outcomes, once per event in the group."""

from __future__ import annotations

import asyncio
from typing import Any

from online_learning.contract import REASONS, Product
from online_learning.themes import THEME_LABELS
from streams.metrics import WorkerMetrics
from streams.worker.agents import Agents
from tests.streams.worker.test_agents import agents, event

TOPIC = "substitutions.feedback"

# One requested item and substitutes that differ from it in one planted way each.
COFFEE = [
    Product("beans", "Roastery Coffee Beans 500 g", "coffee", "pantry", 6.0),
    Product("dearer", "Roastery Coffee Beans 500 g", "coffee", "pantry", 8.5),  # +42 %
    Product("same", "Roastery Coffee Beans 500 g", "coffee", "pantry", 5.9),
]


def feedback(offset: int, substitute: str, outcome: str, **extra: Any) -> Any:
    payload = {
        "event_id": f"e{offset}",
        "store_id": "s1",
        "item_id": "beans",
        "substitute_id": substitute,
        "outcome": outcome,
        "ts": 1.0 + offset,
    }
    return event(offset, payload | extra, TOPIC)


def samples(metrics: WorkerMetrics, name: str) -> dict[tuple[str, ...], float]:
    return {
        tuple(s.labels.values()): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == name
    }


def validate(agent: Agents, *batch: Any) -> list[Any]:
    return asyncio.run(agent.validate_feedback_batch(batch))


def test_a_rejected_price_jump_is_counted_under_price() -> None:
    agent, worker = agents(arriving=COFFEE)
    validate(agent, feedback(0, "dearer", "rejected"))
    horror = samples(worker.metrics, "fillrate_horror_total")
    assert horror[("price", "rejected")] == 1.0
    assert horror[("none", "rejected")] == 0.0
    assert sum(horror.values()) == horror[("price", "rejected")] + horror[("rule_edge", "rejected")]


def test_only_refusals_count_each_once_and_every_series_exists_from_the_start() -> None:
    agent, worker = agents(arriving=COFFEE)
    validate(
        agent,
        feedback(0, "dearer", "accepted"),  # kept: not a horror
        feedback(1, "dearer", "refunded"),
        feedback(2, "same", "rejected"),  # nothing structural: "none"
        feedback(2, "same", "rejected"),  # a rebalance hands it over again
    )
    validate(agent, feedback(1, "dearer", "refunded"))  # a producer's retry, later
    horror = samples(worker.metrics, "fillrate_horror_total")
    assert set(horror) == {(t, o) for t in THEME_LABELS for o in ("rejected", "refunded")}
    assert horror[("price", "refunded")] == 1.0
    assert horror[("none", "rejected")] == 1.0
    assert horror[("price", "rejected")] == 0.0


def test_reason_codes_are_counted_with_the_event() -> None:
    agent, worker = agents(arriving=COFFEE)
    validate(
        agent,
        feedback(0, "dearer", "rejected", reason=["too_expensive", "quality"], comment="pricey"),
        feedback(1, "same", "rejected", reason=["quality"]),
        feedback(2, "same", "accepted"),
    )
    reasons = samples(worker.metrics, "fillrate_feedback_reasons_total")
    assert set(reasons) == {(code,) for code in REASONS}
    assert reasons[("too_expensive",)] == 1.0 and reasons[("quality",)] == 2.0
    assert reasons[("dietary",)] == 0.0


def test_a_bad_reason_code_is_dead_lettered_and_counts_nothing() -> None:
    agent, worker = agents(arriving=COFFEE)
    valid = validate(agent, feedback(0, "dearer", "rejected", reason=["cheap"]))
    assert valid == [] and worker.output.dead == [(0, "schema")]
    assert not any(samples(worker.metrics, "fillrate_horror_total").values())
    assert not any(samples(worker.metrics, "fillrate_feedback_reasons_total").values())
