"""The learning-log reader skips a record it cannot learn, counts why, and keeps going."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from online_learning.engine import FeedbackResult
from streams.learning_log import LearningLogReader
from streams.metrics import WorkerMetrics
from tests.conftest import feedback_payload


class Engine:
    """Learns every event but raises (a bug) on the one named ``boom``."""

    def __init__(self) -> None:
        self.learned: list[str] = []

    def on_feedback(self, feedback: Any) -> FeedbackResult:
        if feedback.event_id == "boom":
            raise IndexError("index 1024 is out of bounds")
        self.learned.append(feedback.event_id)
        return FeedbackResult.LEARNED


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
