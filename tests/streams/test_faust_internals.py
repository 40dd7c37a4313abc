"""The Faust internals the worker relies on, on the pinned Faust: the group consumer gets the
configured fetch wait instead of Faust's fixed 1,500 ms; the worker's clock for a message
starts when the consumer delivers it."""

from __future__ import annotations

import asyncio
import time

import faust
import pytest
from faust.types import TP, Message

from streams.faust_internals import DeliveryMonitor, received_at, stamp_delivery
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


async def test_the_worker_clock_starts_when_the_consumer_delivers_not_when_a_stream_takes() -> None:
    app = faust.App("t-stamp", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    handed: list[float | None] = []

    async def conductor(message: Message) -> None:  # stands for Faust's Conductor.on_message
        handed.append(message.time_in)

    app.consumer.callback = conductor  # type: ignore[attr-defined]
    stamp_delivery(app)
    message = Message("t", 0, 5, 1.0, 0, None, b"k", b"v", None)
    before = time.monotonic()
    await app.consumer.callback(message)  # type: ignore[attr-defined]
    delivered = received_at(message)
    assert delivered is not None and before <= delivered <= time.monotonic()
    assert handed == [delivered]
    # a stream takes it later: Faust's Monitor would stamp it again there; this one keeps it
    await asyncio.sleep(0.01)
    app.monitor.on_message_in(TP("t", 0), 5, message)
    assert received_at(message) == delivered
    assert app.monitor.messages_received_total == 1  # Faust's own counts still kept


def test_stamp_delivery_refuses_an_app_with_faust_s_own_monitor() -> None:
    with pytest.raises(TypeError, match="DeliveryMonitor"):
        stamp_delivery(faust.App("t-plain", broker="kafka://127.0.0.1:1"))
