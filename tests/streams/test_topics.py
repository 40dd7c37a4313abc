"""Topic creation and checks on the real broker: created with the operator's settings,
nothing created when the cluster's topics are managed, and unusable existing topics refused
at start with the reason."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings
from streams.topics import (
    TopicsError,
    contract_topics,
    ensure_topics,
    internal_topics,
    new_topic,
)
from tests.streams.conftest import same_topics, worker_settings

pytestmark = pytest.mark.broker


def all_names(settings: Settings) -> list[str]:
    return [s.name for s in contract_topics(settings) + internal_topics(settings, 1)]


async def create(broker: EmbeddedBroker, *topics: NewTopic) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(list(topics))
    finally:
        await admin.close()


async def topic_configs(broker: EmbeddedBroker, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    return {entry[0]: entry[1] for entry in response.resources[0][4]}


def test_creation_requests_carry_replication_and_min_insync_replicas() -> None:
    settings = Settings.load({"replication": 3, "min_insync_replicas": 2}, environ={})
    for spec in contract_topics(settings) + internal_topics(settings, 4):
        request = new_topic(spec, settings)
        assert request.replication_factor == 3
        assert request.topic_configs["min.insync.replicas"] == "2"
    learning = new_topic(internal_topics(settings, 4)[0], settings)
    assert learning.num_partitions == 1 and learning.topic_configs["retention.ms"] == "-1"
    snapshots = new_topic(internal_topics(settings, 4)[1], settings)
    assert snapshots.num_partitions == 1
    assert snapshots.topic_configs["cleanup.policy"] == "compact"  # at most two snapshots kept
    changelog = new_topic(internal_topics(settings, 4)[2], settings)
    assert changelog.num_partitions == 4
    assert changelog.topic_configs["cleanup.policy"] == "compact"


async def test_missing_topics_are_created_with_the_settings_then_checked_again(
    broker: EmbeddedBroker,
) -> None:
    settings = worker_settings(broker, min_insync_replicas=1)
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(all_names(settings))
    configs = await topic_configs(broker, settings.catalog_topic)
    assert configs["cleanup.policy"] == "compact" and configs["min.insync.replicas"] == "1"
    assert (await topic_configs(broker, settings.learning_topic))["retention.ms"] == "-1"
    assert await ensure_topics(settings) == []  # a second worker: nothing to create, all fine


async def test_with_create_topics_false_nothing_is_created_and_the_commands_are_given(
    broker: EmbeddedBroker,
) -> None:
    settings = worker_settings(broker, create_topics=False)
    with pytest.raises(TopicsError) as missing:
        await ensure_topics(settings)
    message = str(missing.value)
    for name in all_names(settings):
        assert name in message
    assert (
        f"--create --topic {settings.learning_topic} --partitions 1 --replication-factor 1"
        " --config retention.ms=-1" in message
    )
    assert f"--topic {settings.catalog_topic} --partitions 2" in message
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        assert not set(all_names(settings)) & set(await admin.list_topics())
    finally:
        await admin.close()
    # once the platform team created them, the same worker starts
    await ensure_topics(worker_settings(broker, **same_topics(settings)))
    assert await ensure_topics(settings) == []


@pytest.mark.parametrize(
    ("shape", "problem"),
    [
        ("catalog_not_compacted", "cleanup.policy=delete, needs compact"),
        ("signals_compacted", "cleanup.policy=compact, must not compact"),
        ("learning_log_partitioned", "3 partitions, needs exactly 1"),
        ("learning_log_expires", "retention.ms=86400000, needs -1"),
        ("changelog_too_few_partitions", "1 partitions, needs at least 2"),
    ],
)
async def test_an_existing_topic_the_worker_cannot_use_is_refused_with_the_reason(
    broker: EmbeddedBroker, shape: str, problem: str
) -> None:
    settings = worker_settings(broker)
    bad = {
        "catalog_not_compacted": NewTopic(settings.catalog_topic, 2, 1),
        "signals_compacted": NewTopic(
            settings.signals_topic, 2, 1, topic_configs={"cleanup.policy": "compact"}
        ),
        "learning_log_partitioned": NewTopic(
            settings.learning_topic, 3, 1, topic_configs={"retention.ms": "-1"}
        ),
        "learning_log_expires": NewTopic(
            settings.learning_topic, 1, 1, topic_configs={"retention.ms": "86400000"}
        ),
        "changelog_too_few_partitions": NewTopic(
            settings.state_topic, 1, 1, topic_configs={"cleanup.policy": "compact"}
        ),
    }[shape]
    await create(broker, bad)
    with pytest.raises(TopicsError) as refused:
        await ensure_topics(settings)
    assert f"{bad.name}: {problem}" in str(refused.value)


def test_the_worker_command_exits_2_when_topics_are_missing_and_may_not_be_created(
    broker: EmbeddedBroker,
) -> None:
    settings = worker_settings(broker)
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker", "--create-topics", "false"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "FILLRATE_BROKER": broker.url,
            "FILLRATE_APP_ID": settings.app_id,
            "FILLRATE_CATALOG_TOPIC": settings.catalog_topic,
        },
    )
    assert result.returncode == 2
    assert "topics missing and create_topics is false" in result.stderr
    assert settings.catalog_topic in result.stderr and "Traceback" not in result.stderr
