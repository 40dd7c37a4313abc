"""The rankings topic read as a table (store_id:item_id -> latest ranking, a tombstone deleting
the key) holds exactly the worker's live rankings, after stock-outs, restocks and a restart.

Tansu does not compact, so the test applies records and tombstones per key itself, from the
beginning of the topic, as a consumer of a compacted topic does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from online_learning.contract import Product, decode_entry, decode_ranking
from streams.connection import KafkaConnection
from streams.embedded_broker import EmbeddedBroker
from streams.replay import TopicReplay
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.worker_process import WorkerProcess
from tests.conftest import signal_payload
from tests.streams.conftest import wait_ready, worker_settings
from tests.streams.test_worker_integration import catalog, publish_catalog

pytestmark = pytest.mark.broker

__all__ = ["catalog"]  # the module fixture, shared with the worker integration tests

Key = tuple[str, str]


def connection(settings: Settings) -> KafkaConnection:
    return KafkaConnection.from_settings(settings)


async def rankings_table(settings: Settings) -> dict[Key, tuple[str, ...]]:
    """What a table consumer holds after reading the rankings topic from the beginning."""
    table: dict[Key, tuple[str, ...]] = {}
    async with TopicReplay(connection(settings), settings.rankings_topic) as replay:
        async for records in replay.backlog():
            for record in records:
                store_id, item_id = record.key.decode().split(":", 1)
                if record.value is None:
                    table.pop((store_id, item_id), None)
                    continue
                ranking = decode_ranking(record.value)
                assert ranking.key == record.key.decode()  # the key says what the value is
                table[store_id, item_id] = ranking.substitute_ids()
    return table


async def changelog_live(settings: Settings) -> dict[Key, tuple[str, ...]]:
    """The live rankings the worker keeps in its state changelog (what a restart restores)."""
    live: dict[Key, tuple[str, ...]] = {}
    async with TopicReplay(connection(settings), settings.state_topic) as replay:
        async for records in replay.backlog():
            for record in records:
                kind, store_id, item_id, value = decode_entry(record.key, record.value)
                if kind != "r":
                    continue
                if value is None:
                    live.pop((store_id, item_id), None)
                else:
                    live[store_id, item_id] = tuple(value)
    return live


async def settled(worker: WorkerProcess, expected: set[Key], timeout: float = 10.0) -> Any:
    """Wait until the table, the changelog and /health agree with ``expected``; return them."""
    deadline = time.monotonic() + timeout
    while True:
        table = await rankings_table(worker.settings)
        live = await changelog_live(worker.settings)
        health = worker.health() or {}
        if (
            set(table) == set(live) == expected and health.get("live_rankings") == len(expected)
        ) or time.monotonic() > deadline:
            return table, live, health
        await asyncio.sleep(0.3)


async def test_the_rankings_topic_as_a_table_holds_exactly_the_live_rankings(
    worker_factory: Any, kafka_io: Any, catalog: list[Product], tmp_path: Path
) -> None:
    worker = worker_factory()
    settings = worker.settings
    io = await kafka_io(settings)
    await publish_catalog(io, catalog)
    milk = [p.item_id for p in catalog if p.aisle == "milk"]
    t0 = time.time() - 60

    async def send(store: str, item: str, kind: str, dt: float) -> None:
        await io.send(settings.signals_topic, signal_payload(store, item, kind, t0 + dt), store)

    for store in ("s1", "s2", "s3"):
        for item in milk[:4]:
            await send(store, item, "not_found", 0)
    await send("s3", milk[10], "out_of_stock", 1)  # a stock-out of its own, maybe a candidate's
    await send("s1", milk[0], "in_stock", 2)  # restocks: the key must leave every table
    await send("s2", milk[1], "found", 2)
    await send("s2", milk[2], "in_stock", 2)
    await send("s2", milk[2], "not_found", 3)  # ... and a key out again is live again
    expected = {(s, i) for s in ("s1", "s2", "s3") for i in milk[:4]} | {("s3", milk[10])}
    expected -= {("s1", milk[0]), ("s2", milk[1])}

    table, live, health = await settled(worker, expected)
    assert set(table) == expected, "the table is not the worker's live rankings"
    assert table == live  # same substitutes, in the same order, as the worker holds
    assert health["live_rankings"] == len(expected)
    # three tombstones: s2's milk[2] was retired, then live again with a new ranking
    assert worker.metric("fillrate_rankings_retired_total", reason="restock") == 3

    # A restart: the new process restores the live rankings from the changelog; a restock
    # of a restored key is still a tombstone, and a new stock-out a new key.
    worker.stop()
    again = WorkerProcess(settings, tmp_path / "restarted.log").start()
    worker_factory.started.append(again)
    wait_ready(again)
    await send("s3", milk[3], "in_stock", 10)
    await send("s4", milk[0], "not_found", 10)
    expected = (expected - {("s3", milk[3])}) | {("s4", milk[0])}

    table, live, health = await settled(again, expected)
    assert set(table) == expected, "after a restart the table is not the worker's live rankings"
    assert table == live
    assert health["live_rankings"] == len(expected)
    assert again.metric("fillrate_rankings_retired_total", reason="restock") == 1


async def test_an_existing_rankings_topic_that_deletes_by_age_starts_the_worker_with_a_warning(
    broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    settings = worker_settings(broker)
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.rankings_topic, 2, 1)])
    finally:
        await admin.close()
    with caplog.at_level(logging.WARNING, logger="streams.topics"):
        created = await ensure_topics(settings)  # no TopicsError: deployments have such topics
    assert settings.rankings_topic not in created
    warned = [r.getMessage() for r in caplog.records if settings.rankings_topic in r.getMessage()]
    assert warned and "table" in warned[0] and "cleanup.policy=compact" in warned[0]


async def test_a_new_rankings_topic_is_created_compacted(broker: EmbeddedBroker) -> None:
    settings = worker_settings(broker)
    assert settings.rankings_topic in await ensure_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, settings.rankings_topic)
        (response,) = await admin.describe_configs([resource])
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
    assert configs["cleanup.policy"] == "compact"  # a table consumer rebuilds from it alone
