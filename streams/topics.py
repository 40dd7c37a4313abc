"""The topics of the contract, and creating the missing ones before anything attaches."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.connection import KafkaConnection, check_connection
from streams.settings import Settings

__all__ = ["TopicSpec", "contract_topics", "ensure_topics", "internal_topics"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retain_forever: bool = False

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact"} if self.compacted else {}
        if self.retain_forever:
            configs["retention.ms"] = "-1"
        return configs


def contract_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the v1 contract, inputs and outputs; the catalog is compacted."""
    n = settings.partitions
    return [
        TopicSpec(settings.catalog_topic, n, compacted=True),
        TopicSpec(settings.signals_topic, n),
        TopicSpec(settings.feedback_topic, n),
        TopicSpec(settings.rankings_topic, n),
        TopicSpec(settings.deadletter_topic, n),
    ]


def internal_topics(settings: Settings, signal_partitions: int) -> list[TopicSpec]:
    """The app's own topics: the shared learning log and the store-state changelog.

    The learning log has one partition (one order for every worker) and is kept forever: the
    model is rebuilt from it. The changelog is partitioned like the signals topic, so a
    store's state sits in the partition number of its signals.
    """
    return [
        TopicSpec(settings.learning_topic, 1, retain_forever=True),
        TopicSpec(settings.state_topic, signal_partitions, compacted=True),
    ]


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the contract's and the app's missing topics; returns the names it created.

    Existing topics are left as they are (their partition count is not changed). The
    store-state changelog gets as many partitions as the signals topic has.
    """
    connection = KafkaConnection.from_settings(settings)
    try:
        await check_connection(connection, min(timeout, 10.0))
    except ConnectionError as exc:
        raise ConnectionError(f"cannot reach Kafka at {settings.broker}: {exc}") from None
    admin = AIOKafkaAdminClient(
        **connection.client_options(), request_timeout_ms=int(timeout * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (TimeoutError, KafkaConnectionError, KafkaError, OSError) as exc:
        await admin.close()
        raise ConnectionError(
            f"cannot reach Kafka at {settings.broker}: {exc.__class__.__name__}: {exc}"
        ) from None
    try:
        existing = set(await admin.list_topics())
        created = await _create(admin, settings, contract_topics(settings), existing)
        signal_partitions = await _partition_count(admin, settings.signals_topic)
        created += await _create(
            admin,
            settings,
            internal_topics(settings, signal_partitions or settings.partitions),
            existing,
        )
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()


async def _partition_count(admin: AIOKafkaAdminClient, topic: str) -> int | None:
    for description in await admin.describe_topics([topic]):
        if description.get("topic") == topic and description.get("partitions"):
            return len(description["partitions"])
    return None


async def _create(
    admin: AIOKafkaAdminClient, settings: Settings, specs: list[TopicSpec], existing: set[str]
) -> list[str]:
    wanted = [spec for spec in specs if spec.name not in existing]
    created = []
    for spec in wanted:
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=settings.replication,
                        topic_configs=spec.configs(),
                    )
                ]
            )
            created.append(spec.name)
        except TopicAlreadyExistsError:  # another worker won the race
            pass
    return created
