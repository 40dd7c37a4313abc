"""Model snapshots on the real broker: a restart loads one and replays only the tail.

A worker learns feedback (customers included, some events twice) and writes snapshots every
40 learning-log records. Restarted, it loads the newest and reads only the log after it, and
holds exactly the model of a worker that replayed the whole log; events after the snapshot are
learned once, none skipped. A damaged snapshot is said, counted, and the whole log replayed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from online_learning.contract import product_payload
from tests.conftest import feedback_payload, milk
from tests.streams.conftest import KafkaIO, WorkerProcess, same_topics, wait_ready

pytestmark = pytest.mark.broker

CATALOG = [
    milk("whole", "Acme Whole Milk 1 gal", 3.99, "Acme"),
    milk("whole-2", "Dairyco Whole Milk 1 gal", 3.89, "Dairyco"),
    milk("lf", "Acme Lactose Free Whole Milk 1 gal", 4.49, "Acme"),
    milk("oat", "Oatco Oat Milk 64 oz", 4.5, "Oatco"),
    milk("skim", "Acme Skim Milk 1 gal", 3.59, "Acme"),
]
MODEL = ("feedback_learned", "feedback_duplicates", "feedback_digest", "model_digest")


async def send_feedback(io: KafkaIO, first: int, n: int) -> int:
    """``n`` events from ``first`` on, a customer's each, every tenth sent twice; distinct."""
    subs = ("whole-2", "lf", "oat", "skim")
    for i in range(first, first + n):
        event = feedback_payload(
            f"s{i % 3}", "whole", subs[i % 4], ("accepted", "rejected")[i % 3 % 2]
        )
        event["customer_id"] = f"c{i % 5}"
        for _ in range(2 if i % 10 == 0 else 1):
            await io.send(io.settings.feedback_topic, event, event["store_id"])
    return n


def model(worker: WorkerProcess) -> dict[str, Any]:
    health = worker.health()
    assert health is not None
    return {key: health[key] for key in MODEL}


def wait_for(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


async def test_a_restart_loads_the_snapshot_and_ends_with_the_full_replays_model(
    worker_factory: Any, kafka_io: Any
) -> None:
    worker = worker_factory(snapshot_every=40, snapshot_min_interval_s=0)
    s = worker.settings
    io = await kafka_io(s)
    for p in CATALOG:
        await io.send(s.catalog_topic, product_payload(p), p.item_id)
    sent = await send_feedback(io, 0, 130)
    wait_for(lambda: worker.metric("fillrate_feedback_learned_total") == sent)
    wait_for(lambda: worker.metric("fillrate_snapshots_written_total") >= 2)
    before = model(worker)

    worker.stop()
    worker.start()
    wait_ready(worker)
    assert "model restored from the snapshot" in worker.log()
    assert model(worker) == before  # the tail replayed on top of the snapshot: the same model
    assert worker.metric("fillrate_feedback_learned_total") < sent  # only the tail, this time

    # Across the snapshot boundary: the new events learned once each, none skipped.
    sent += await send_feedback(io, 130, 25)
    wait_for(lambda: worker.health()["feedback_learned"] == sent)  # type: ignore[index]
    # A worker replaying the whole log (no snapshots) holds the very same model.
    whole = worker_factory(snapshot_every=0, **same_topics(s))
    wait_for(lambda: model(whole)["feedback_learned"] == sent)
    assert model(whole) == model(worker)

    # A damaged snapshot: said, counted, and the whole log replayed to the same model.
    manifest = worker.health()
    assert manifest is not None
    for slot in ("a", "b"):
        await io.send(s.snapshot_topic, b"not a snapshot", f"{slot}/0")
    await asyncio.sleep(0.5)
    expected = model(worker)
    worker.stop()
    worker.start()
    wait_ready(worker)
    assert "cannot be used" in worker.log() and "replaying the whole learning log" in worker.log()
    assert worker.metric("fillrate_snapshot_fallbacks_total", reason="unusable") == 1
    assert model(worker) == expected
