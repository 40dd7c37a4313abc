"""Integration fixtures: one real Tansu broker per session, one real worker process per test.

Each test gets its own topic names and consumer group, so tests never see each other's data.
The worker processes are the package's own harness (streams/worker_process.py), the one the
demo and the benchmarks use.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.aiokafka_internals import force_metadata_update
from streams.connection import KafkaConnection
from streams.embedded_broker import EmbeddedBroker, free_port
from streams.settings import Settings
from streams.worker_process import WorkerExited, WorkerNotReady, WorkerProcess

__all__ = ["KafkaIO", "WorkerProcess", "same_topics", "wait_ready", "worker_settings"]


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running


def worker_settings(broker: EmbeddedBroker | str, **overrides: Any) -> Settings:
    """A worker's settings with its own app id, web port and topic names (``broker``: the
    embedded one, or the kafka:// URL of a listener in front of it)."""
    tag = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "broker": broker if isinstance(broker, str) else broker.url,
        "app_id": f"test-{tag}",
        "web_port": free_port(),
        "partitions": 2,
        "catalog_topic": f"t-{tag}-catalog",
        "signals_topic": f"t-{tag}-signals",
        "feedback_topic": f"t-{tag}-feedback",
        "orders_topic": f"t-{tag}-orders",
        "preferences_topic": f"t-{tag}-preferences",
        "requests_topic": f"t-{tag}-requests",
        "rankings_topic": f"t-{tag}-rankings",
        "replies_topic": f"t-{tag}-replies",
        "deadletter_topic": f"t-{tag}-deadletter",
        "refresh_interval_s": 0.5,
    }
    values.update(overrides)
    return Settings.load(values, environ={})


def same_topics(settings: Settings) -> dict[str, Any]:
    """The app id and every topic name of ``settings``: what a worker of the same group, or a
    check of the same topics, shares with it."""
    names = ["app_id", *(f.name for f in fields(Settings) if f.name.endswith("_topic"))]
    return {name: getattr(settings, name) for name in names}


def wait_ready(worker: WorkerProcess, timeout: float = 60.0) -> None:
    """Wait until /health says ok; a worker that exits or is not ready fails the test."""
    try:
        worker.wait_ready(timeout)
    except (WorkerExited, WorkerNotReady) as exc:
        raise AssertionError(str(exc)) from exc


@pytest.fixture
def worker_factory(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def make(**overrides: Any) -> WorkerProcess:
        settings = worker_settings(broker, **overrides)
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log").start()
        started.append(worker)
        wait_ready(worker)
        return worker

    make.started = started  # type: ignore[attr-defined]  # for tests that must stop them all
    yield make
    for worker in started:
        worker.stop()


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
            **KafkaConnection.from_settings(self.settings).client_options(),
            group_id=None,
            enable_auto_commit=False,
        )
        await consumer.start()
        for _ in range(50):
            parts = consumer.partitions_for_topic(topic)
            if parts:
                break
            await asyncio.sleep(0.1)
            await force_metadata_update(consumer)
        tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        self.consumers[topic] = consumer

    async def read(
        self, topic: str, until: Any = None, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Records (decoded JSON) read until ``until(records)`` is true or the timeout;
        tombstones (null values: a retired ranking) are not records here."""
        consumer = self.consumers[topic]
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(orjson.loads(r.value) for r in batch if r.value is not None)
            if until is not None and until(records):
                return records
        return records


@pytest.fixture
async def kafka_io(broker: EmbeddedBroker) -> AsyncIterator[Any]:
    ios: list[KafkaIO] = []

    async def make(settings: Settings) -> KafkaIO:
        connection = KafkaConnection.from_settings(settings)
        producer = AIOKafkaProducer(**connection.client_options(), linger_ms=1)
        await producer.start()
        io = KafkaIO(settings, producer)
        ios.append(io)
        return io

    yield make
    for io in ios:
        await io.producer.stop()
        for consumer in io.consumers.values():
            await consumer.stop()
