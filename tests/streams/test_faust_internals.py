"""The Faust internals the worker relies on, on the pinned Faust: the group consumer gets the
configured fetch wait instead of Faust's fixed 1,500 ms."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from streams.worker import build_worker


async def _group_consumer_wait(settings: Settings) -> int:
    worker = build_worker(settings)
    thread = worker.app.consumer._thread  # Faust's aiokafka consumer thread (not started)
    consumer = thread._create_worker_consumer(worker.app.transport)
    wait = consumer._fetch_max_wait_ms
    await consumer.stop()  # never started: only releases what __init__ took
    return int(wait)


async def test_worker_consumer_uses_the_configured_fetch_wait() -> None:
    settings = Settings.load({"broker": "kafka://127.0.0.1:1", "fetch_wait_ms": 7}, environ={})
    assert await _group_consumer_wait(settings) == 7


async def test_default_fetch_wait_is_short() -> None:
    # 40 ms: far below Faust's 1,500, and under load on Tansu it beat 10 ms
    # (docs/performance.md, "Latency: the worker's own and stock-out to ranking")
    settings = Settings.load({"broker": "kafka://127.0.0.1:1"}, environ={})
    assert settings.fetch_wait_ms == 40
    assert await _group_consumer_wait(settings) == 40


def test_a_negative_fetch_wait_is_refused() -> None:
    from streams.settings import SettingsError

    with pytest.raises(SettingsError, match="fetch_wait_ms"):
        Settings.load({"fetch_wait_ms": -1}, environ={})
