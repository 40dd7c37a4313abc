"""Liveness and readiness on a real worker: /live answers while the worker starts, /ready (and
/health, its older name) only once it is ready, so a liveness probe never restarts a worker
that is still loading its catalog or replaying the learning log."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from online_learning.contract import Product, encode_product
from streams.topics import ensure_topics
from streams.worker_process import WorkerProcess
from tests.streams.conftest import worker_settings

pytestmark = pytest.mark.broker


def status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None  # not listening yet


async def test_live_answers_while_starting_and_ready_only_once_ready(
    broker: Any, tmp_path: Path
) -> None:
    settings = worker_settings(broker)
    await ensure_topics(settings)
    # a catalog large enough that loading it takes a visible moment
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=20)
    await producer.start()
    for i in range(30_000):
        product = Product(f"p{i}", f"Brand{i % 97} Thing {i}", f"aisle {i % 50}", "dept")
        key, value = encode_product(product)
        await producer.send(settings.catalog_topic, key=key, value=value)
    await producer.stop()

    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    seen: list[tuple[int | None, int | None, int | None]] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            base = worker.base_url
            row = (status(base + "/live"), status(base + "/ready"), status(base + "/health"))
            seen.append(row)
            if row[1] == 200:
                break
            time.sleep(0.05)
        worker.check_alive()
    finally:
        worker.stop()
    answered = [row for row in seen if row[0] is not None]
    assert answered and answered[-1] == (200, 200, 200), seen[-5:]
    starting = [row for row in answered if row[1] == 503]
    assert starting, "the worker was never seen starting"
    assert all(live == 200 for live, _, _ in starting)  # alive all the while
    # /health is /ready's older name (asked a moment later, so it may already say ready)
    assert any(health == 503 for _, _, health in starting)
