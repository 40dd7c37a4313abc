"""Feedback outcomes counted once in the group: by the partition's owner, once per event_id.

``sum(rate(fillrate_feedback_total[...]))`` over workers is the acceptance and refund traffic only
if no event is counted twice: not when a rebalance hands a message over again, not when a
producer repeats an event_id, not when a partition moves to a worker that learned the event
from the log, and never by a replay of the learning log.
"""

from __future__ import annotations

import asyncio
from typing import Any

from online_learning.contract import Product
from streams.learning_log import LearningLogReader
from streams.metrics import WorkerMetrics
from streams.worker.agents import Agents
from streams.worker.outcomes import DEPARTMENT_LABELS
from tests.streams.worker.test_agents import agents, event

TOPIC = "substitutions.feedback"


def feedback(offset: int, event_id: str, outcome: str = "accepted", item: str = "m0") -> Any:
    payload = {
        "event_id": event_id,
        "store_id": "s1",
        "item_id": item,
        "substitute_id": "m1",
        "outcome": outcome,
        "ts": 1.0 + offset,
    }
    return event(offset, payload, TOPIC)


def counts(metrics: WorkerMetrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["outcome"], s.labels["department"]): s.value
        for family in metrics.registry.collect()
        if family.name == "fillrate_feedback"
        for s in family.samples
        if s.name == "fillrate_feedback_total"
    }


def validate(agent: Agents, *batch: Any) -> list[Any]:
    return asyncio.run(agent.validate_feedback_batch(batch))


def test_each_outcome_is_counted_by_department_and_a_refund_stays_a_refund() -> None:
    agent, worker = agents()
    validate(
        agent,
        feedback(0, "e0", "accepted"),
        feedback(1, "e1", "rejected"),
        feedback(2, "e2", "refunded"),
        feedback(3, "e3", "refunded"),
    )
    assert counts(worker.metrics) == {
        ("accepted", "dairy eggs"): 1.0,
        ("rejected", "dairy eggs"): 1.0,
        ("refunded", "dairy eggs"): 2.0,
    }


def test_a_repeated_or_redelivered_event_is_forwarded_as_before_but_counted_once() -> None:
    agent, worker = agents()
    # A producer's retry inside one batch, and again in a later batch.
    first = validate(agent, feedback(0, "e0"), feedback(1, "e0"), feedback(2, "e1", "rejected"))
    later = validate(agent, feedback(3, "e0"))
    # A rebalance hands offsets 0-3 over again to the same worker: skipped before counting.
    again = validate(agent, *(feedback(o, "e0") for o in range(4)))
    assert (len(first), len(later), len(again)) == (3, 1, 0)  # the log de-duplicates them
    assert counts(worker.metrics) == {
        ("accepted", "dairy eggs"): 1.0,
        ("rejected", "dairy eggs"): 1.0,
        ("refunded", "dairy eggs"): 0.0,  # exported before the first refund: a ratio reads 0
    }


def test_a_replay_of_the_learning_log_counts_nothing_nor_does_the_next_owner() -> None:
    owner, old = agents()
    forwarded = validate(owner, feedback(0, "e0"), feedback(1, "e1", "refunded"))
    assert sum(counts(old.metrics).values()) == 2

    # Another worker (say, one that restarted) replays the learning log: it learns both
    # events and counts none of them as feedback.
    new = agents()[1]
    new_agent = Agents(new)
    reader = LearningLogReader("127.0.0.1:1", "log", new.engine, new.catalog, new.metrics)

    async def replay() -> None:
        for _key, value in forwarded:
            await reader._learn(value)

    asyncio.run(replay())
    assert reader.learned == 2
    assert sum(counts(new.metrics).values()) == 0

    # The partition moves to it before the old owner committed: the group hands it the same
    # messages, which its model learned already from the log. Only the new event counts.
    validate(new_agent, feedback(0, "e0"), feedback(1, "e1", "refunded"), feedback(2, "e2"))
    assert counts(new.metrics) == {
        ("accepted", "dairy eggs"): 1.0,
        ("rejected", "dairy eggs"): 0.0,
        ("refunded", "dairy eggs"): 0.0,
    }


def test_refused_feedback_is_not_counted() -> None:
    agent, worker = agents()
    validate(agent, feedback(0, "e0", item="ghost"), feedback(1, "e1", "maybe"))
    assert sorted(worker.output.dead) == [(0, "unknown_reference"), (1, "schema")]
    assert counts(worker.metrics) == {}


def test_departments_past_the_cap_read_other() -> None:
    many = [
        Product(f"i{n}", f"Thing {n}", "aisle", f"department {n}")
        for n in range(DEPARTMENT_LABELS + 5)
    ]
    agent, worker = agents()
    for product in many:
        worker.engine.apply_catalog(product)
    validate(
        agent,
        *(feedback(n, f"e{n}", item=p.item_id) for n, p in enumerate(many)),
    )
    departments = {d for _, d in counts(worker.metrics)}
    assert len(departments) == DEPARTMENT_LABELS + 1 and "other" in departments
    assert counts(worker.metrics)[("accepted", "other")] == 5.0
