"""The learning-log reader skips a record it cannot learn, counts why, and keeps going; it
scores what the engine learned, and only that."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from online_learning.engine import FeedbackOutcome, FeedbackResult
from online_learning.monitoring import LearningMonitor
from streams.learning_log import LearningLogReader
from streams.metrics import WorkerMetrics
from tests.conftest import feedback_payload


class Engine:
    """Learns every event once but raises (a bug) on the one named ``boom``."""

    def __init__(self) -> None:
        self.learned: list[str] = []

    def on_feedback(self, feedback: Any) -> FeedbackOutcome:
        if feedback.event_id == "boom":
            raise IndexError("index 1024 is out of bounds")
        accepted = feedback.outcome == "accepted"
        if feedback.event_id in self.learned:
            return FeedbackOutcome(FeedbackResult.DUPLICATE, feedback.event_id, accepted)
        self.learned.append(feedback.event_id)
        return FeedbackOutcome(FeedbackResult.LEARNED, feedback.event_id, accepted, 0.8, 0.6)


def record(event_id: str, **extra: Any) -> bytes:
    payload = feedback_payload("s1", "1", "2", "accepted", event_id=event_id, ts=1.0)
    return orjson.dumps({**payload, **extra})


def test_a_bug_or_a_refused_record_is_skipped_counted_and_learning_goes_on() -> None:
    engine, metrics = Engine(), WorkerMetrics()
    reader = LearningLogReader("127.0.0.1:1", "log", engine, None, metrics)  # type: ignore[arg-type]

    async def feed() -> None:
        for value in (record("a"), record("boom"), record("c", outcome="maybe"), record("d")):
            await reader._learn(value)

    asyncio.run(feed())
    assert engine.learned == ["a", "d"]
    assert (reader.learned, reader.skipped) == (2, 2)
    text = metrics.exposition().decode()
    assert 'fillrate_learning_skipped_total{reason="internal"} 1.0' in text
    assert 'fillrate_learning_skipped_total{reason="refused"} 1.0' in text


def test_each_learned_event_is_scored_once_and_a_duplicate_is_only_counted() -> None:
    engine, metrics, monitor = Engine(), WorkerMetrics(), LearningMonitor()
    reader = LearningLogReader("127.0.0.1:1", "log", engine, None, metrics, monitor)  # type: ignore[arg-type]

    async def feed() -> None:
        for value in (record("a"), record("b", outcome="rejected"), record("a")):
            await reader._learn(value)

    asyncio.run(feed())
    assert (reader.learned, reader.duplicates) == (2, 1)
    snapshot = monitor.snapshot()
    assert snapshot.acceptance_rate == 0.5  # a accepted, b rejected; the repeat of a not scored
    assert snapshot.log_loss > 0
    text = metrics.exposition().decode()
    assert "fillrate_feedback_learned_total 2.0" in text
    assert "fillrate_feedback_duplicates_total 1.0" in text
