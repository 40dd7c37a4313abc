"""The topics of the contract, and creating the missing ones before anything attaches."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.settings import Settings

__all__ = ["TopicSpec", "contract_topics", "ensure_topics"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        return {"cleanup.policy": "compact"} if self.compacted else {}


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


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the contract's missing topics; returns the names it created.

    Existing topics are left as they are (their partition count is reported, not changed).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=int(timeout * 1000)
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
        wanted = [spec for spec in contract_topics(settings) if spec.name not in existing]
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
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()
