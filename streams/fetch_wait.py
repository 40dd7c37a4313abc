"""The worker consumer's fetch wait, which Faust hard-codes to 1,500 ms.

A Kafka fetch that finds no new data waits up to ``fetch_max_wait_ms`` for some to arrive.
Apache Kafka answers as soon as data arrives, so the wait costs nothing there but idle
requests. The embedded Tansu broker answers only when the wait runs out, so with Faust's fixed
1,500 ms a stock-out signal on a quiet topic could wait most of that before the worker even
saw it (benchmarks/bench_latency.py measured p50 1.6 s). Faust offers no setting for it, so
:func:`install` wraps the driver's consumer factory once per process and applies the app's
own value (``set_fetch_wait``) to the consumer it creates, before the consumer starts.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["install", "set_fetch_wait"]

_ATTR = "_fillrate_fetch_wait_ms"


def set_fetch_wait(app: faust.App, wait_ms: int) -> None:
    """Use ``wait_ms`` as the fetch wait of ``app``'s group consumer."""
    if wait_ms < 0:
        raise ValueError(f"fetch wait must be >= 0 ms, got {wait_ms}")
    install()
    setattr(app, _ATTR, int(wait_ms))


def install() -> None:
    """Wrap Faust's worker-consumer factory (idempotent)."""
    thread = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread._create_worker_consumer, "_fillrate", False):
        return
    original = thread._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, _ATTR, None)
        if wait is not None:
            # read by AIOKafkaConsumer.start() when it builds its Fetcher
            consumer._fetch_max_wait_ms = wait
        return consumer

    create_worker_consumer._fillrate = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
