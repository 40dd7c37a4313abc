"""Real `fillrate worker` processes for the benchmarks, and what they have consumed.

Shared by bench_latency.py, bench_scaleout.py and bench_throughput.py: a worker as a child
process (the package's harness, streams/worker_process.py) with the benchmark's broker, topics
and consumer group, and its input counter read from /metrics. Each worker logs to its own file
in a temp directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from workload import encode

from online_learning.contract import Feedback, InventorySignal, Product, product_payload
from streams import worker_process
from streams.embedded_broker import free_port
from streams.settings import Settings
from streams.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent


def bench_settings(broker_url: str, partitions: int, **overrides: Any) -> Settings:
    """Settings with fresh topic names, so runs on one broker never see each other's data
    (``overrides``: other settings by name)."""
    tag = uuid.uuid4().hex[:6]
    return Settings.load(
        {
            **overrides,
            "broker": broker_url,
            "partitions": partitions,
            "catalog_topic": f"b{tag}-catalog",
            "signals_topic": f"b{tag}-signals",
            "feedback_topic": f"b{tag}-feedback",
            "rankings_topic": f"b{tag}-rankings",
            "deadletter_topic": f"b{tag}-deadletter",
            "preferences_topic": f"b{tag}-preferences",
            "requests_topic": f"b{tag}-requests",
            "replies_topic": f"b{tag}-replies",
        },
        environ={},
    )


async def publish(
    settings: Settings,
    catalog: list[Product],
    events: list[InventorySignal | Feedback],
) -> None:
    """Create the contract's topics and publish the catalog, then ``events``, as fast as it can."""
    await ensure_topics(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        for p in catalog:
            await producer.send(
                settings.catalog_topic,
                key=p.item_id.encode(),
                value=orjson.dumps(product_payload(p)),
            )
        for event in events:
            topic, key, value = encode(event)
            await producer.send(getattr(settings, topic), key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


def _features_warm(health: worker_process.Health) -> bool:
    return bool(health.get("features_warm"))


class WorkerProcess(worker_process.WorkerProcess):
    """A `fillrate worker` child process (streams/worker_process.py) in consumer group
    ``app_id``, on the benchmark's topics, logging to its own temp directory.

    ``fetch_wait_ms`` None: the worker as shipped (the setting's default); else that setting.
    """

    def __init__(self, settings: Settings, app_id: str, fetch_wait_ms: int | None = None) -> None:
        changes: dict[str, Any] = {
            "app_id": app_id,
            "web_port": free_port(),
            "log_level": "warning",
        }
        if fetch_wait_ms is not None:
            changes["fetch_wait_ms"] = fetch_wait_ms
        log_path = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
        super().__init__(dataclasses.replace(settings, **changes), log_path, cwd=ROOT)
        self.fetch_wait_ms = fetch_wait_ms

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The child process; None before it started."""
        return self.process

    def wait_ready(
        self,
        timeout: float = 120.0,
        until: Callable[[worker_process.Health], bool] | None = None,
        poll: float = 0.1,
    ) -> None:
        """As the harness's, with a benchmark's patience (a whole catalog to load), and by
        default until the worker has also built its feature columns (``features_warm``), which
        it does in the background once ready: a benchmark measures the steady state."""
        super().wait_ready(timeout, until or _features_warm, poll)

    def events_in(self) -> float:
        """Input events (signals + feedback) this worker has consumed so far; 0 if it does not
        answer."""
        name, settings = "fillrate_events_in_total", self.settings
        try:
            metrics = self.metrics(names=[name])  # one series: a poll costs the worker ~nothing
        except OSError:
            return 0.0
        return metrics.value(name, topic=settings.signals_topic) + metrics.value(
            name, topic=settings.feedback_topic
        )


def events_in(workers: list[WorkerProcess]) -> float:
    return sum(w.events_in() for w in workers)


async def wait_consumed(
    workers: list[WorkerProcess], target: float, timeout: float, poll: float = 0.02
) -> tuple[float, float]:
    """Poll until the workers together consumed ``target`` events.

    Returns (wall time the count first moved, wall time it reached ``target``); the first is
    0.0 if the count had already moved when polling began.
    """
    deadline = time.monotonic() + timeout
    start_count = await asyncio.to_thread(events_in, workers)
    first = 0.0
    while time.monotonic() < deadline:
        now = time.time()
        count = await asyncio.to_thread(events_in, workers)
        if count > start_count and not first:
            first = now
        if count >= target:
            return first, now
        for w in workers:
            w.check_alive()
        await asyncio.sleep(poll)
    raise TimeoutError(
        f"workers consumed fewer than {target:,.0f} events in {timeout:g}s; see "
        + ", ".join(str(w.log_path) for w in workers)
    )
