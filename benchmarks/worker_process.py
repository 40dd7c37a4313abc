"""Real `fillrate worker` processes for the benchmarks, and what they have consumed.

Shared by bench_latency.py and bench_scaleout.py: start a worker as a child process with the
benchmark's broker, topics and consumer group, wait until its /health says ready, read its
input counter from /metrics, stop it. Each worker logs to its own file in a temp directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import TracebackType

import orjson
from aiokafka import AIOKafkaProducer
from workload import encode

from online_learning.contract import Feedback, InventorySignal, Product, product_payload
from streams.embedded_broker import free_port
from streams.settings import Settings
from streams.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
TOPIC_SETTINGS = ("catalog_topic", "signals_topic", "feedback_topic", "rankings_topic")


def bench_settings(broker_url: str, partitions: int) -> Settings:
    """Settings with fresh topic names, so runs on one broker never see each other's data."""
    tag = uuid.uuid4().hex[:6]
    return Settings.load(
        {
            "broker": broker_url,
            "partitions": partitions,
            "catalog_topic": f"b{tag}-catalog",
            "signals_topic": f"b{tag}-signals",
            "feedback_topic": f"b{tag}-feedback",
            "rankings_topic": f"b{tag}-rankings",
            "deadletter_topic": f"b{tag}-deadletter",
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


class WorkerProcess:
    """One `fillrate worker` child process in consumer group ``app_id``."""

    def __init__(self, settings: Settings, app_id: str, fetch_wait_ms: int | None = None) -> None:
        self.settings = settings
        # None: the worker as shipped (FILLRATE_FETCH_WAIT_MS default); else that setting
        self.fetch_wait_ms = fetch_wait_ms
        self.web_port = free_port()
        self.log_path = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILLRATE_")}
        env.update(
            {
                "FILLRATE_BROKER": str(settings.broker),
                "FILLRATE_APP_ID": app_id,
                "FILLRATE_WEB_PORT": str(self.web_port),
                "FILLRATE_PARTITIONS": str(settings.partitions),
                "FILLRATE_LOG_LEVEL": "warning",
                "FILLRATE_DEADLETTER_TOPIC": settings.deadletter_topic,
            }
        )
        for name in TOPIC_SETTINGS:
            env[f"FILLRATE_{name.upper()}"] = getattr(settings, name)
        if fetch_wait_ms is not None:
            env["FILLRATE_FETCH_WAIT_MS"] = str(fetch_wait_ms)
        self._env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        command = [sys.executable, "-m", "streams.cli", "worker"]
        self.proc = subprocess.Popen(
            command,
            env=self._env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        return self

    def _get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}{path}", timeout=2
            ) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def health(self) -> dict[str, object]:
        status, body = self._get("/health")
        return json.loads(body) if status in (200, 503) and body else {}

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health().get("status") == "ok":
                return
            self.check_alive()
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready within {timeout:g}s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {self.log_path}")

    def events_in(self) -> float:
        """Input events (signals + feedback) this worker has consumed so far."""
        status, body = self._get("/metrics")
        if status != 200:
            return 0.0
        topics = (self.settings.signals_topic, self.settings.feedback_topic)
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith("fillrate_events_in_total{") and any(
                f'"{t}"' in line for t in topics
            ):
                total += float(line.rpartition(" ")[2])
        return total

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
