"""Integration fixtures: one real Tansu broker per session, one real worker process per test.

Each test gets its own topic names and consumer group, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.embedded_broker import EmbeddedBroker, free_port
from streams.settings import Settings


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running


@dataclass
class WorkerProcess:
    settings: Settings
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def rss(self) -> int:
        """The worker process's resident memory, bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=1) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())  # type: ignore[no-any-return]
        except OSError:
            return None

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0 if absent)."""
        with urllib.request.urlopen(self.base_url + "/metrics", timeout=2) as r:
            text = r.read().decode()
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            sample, _, value = line.rpartition(" ")
            metric, _, rest = sample.partition("{")
            if metric != name:
                continue
            got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
            if not labels or all(part in got.split(",") for part in want.split(",")):
                total += float(value)
        return total

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _worker_settings(broker: EmbeddedBroker, **overrides: Any) -> Settings:
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "broker": broker.url,
        "app_id": f"test-{tag}",
        "web_port": free_port(),
        "partitions": 2,
        "catalog_topic": f"t-{tag}-catalog",
        "signals_topic": f"t-{tag}-signals",
        "feedback_topic": f"t-{tag}-feedback",
        "rankings_topic": f"t-{tag}-rankings",
        "deadletter_topic": f"t-{tag}-deadletter",
        "refresh_interval_s": 0.5,
    }
    values.update(overrides)
    return Settings.load(values, environ={})


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILLRATE_")}
    for name in Settings.__dataclass_fields__:
        value = getattr(settings, name)
        if value is not None:
            env[f"FILLRATE_{name.upper()}"] = str(value)
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )


def wait_ready(worker: WorkerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{worker.log()[-3000:]}")
        health = worker.health()
        if health and health.get("status") == "ok":
            return
        time.sleep(0.2)
    raise AssertionError(f"worker not ready in {timeout}s:\n{worker.log()[-3000:]}")


@pytest.fixture
def worker_factory(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def make(**overrides: Any) -> WorkerProcess:
        settings = _worker_settings(broker, **overrides)
        log_path = tmp_path / f"worker-{len(started)}.log"
        proc = WorkerProcess(settings, start_worker(settings, log_path), log_path)
        started.append(proc)
        wait_ready(proc)
        return proc

    make.started = started  # type: ignore[attr-defined]  # for tests that must stop them all
    yield make
    for proc in started:
        proc.stop()


@dataclass
class KafkaIO:
    """Produce inputs and read outputs of one worker's topics."""

    settings: Settings
    producer: AIOKafkaProducer
    consumers: dict[str, AIOKafkaConsumer] = field(default_factory=dict)

    async def send(self, topic: str, value: Any, key: str | None = None) -> None:
        raw = value if isinstance(value, bytes | None) else orjson.dumps(value)
        await self.producer.send_and_wait(
            topic, key=None if key is None else key.encode(), value=raw
        )

    async def follow(self, topic: str) -> None:
        """Start reading ``topic`` from its current end (call before causing output)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        for _ in range(50):
            parts = consumer.partitions_for_topic(topic)
            if parts:
                break
            await asyncio.sleep(0.1)
            await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        self.consumers[topic] = consumer

    async def read(
        self, topic: str, until: Any = None, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Records (decoded JSON) read until ``until(records)`` is true or the timeout."""
        consumer = self.consumers[topic]
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(orjson.loads(r.value) for r in batch)
            if until is not None and until(records):
                return records
        return records


@pytest.fixture
async def kafka_io(broker: EmbeddedBroker) -> AsyncIterator[Any]:
    ios: list[KafkaIO] = []

    async def make(settings: Settings) -> KafkaIO:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=1)
        await producer.start()
        io = KafkaIO(settings, producer)
        ios.append(io)
        return io

    yield make
    for io in ios:
        await io.producer.stop()
        for consumer in io.consumers.values():
            await consumer.stop()
