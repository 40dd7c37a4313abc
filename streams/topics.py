"""The topics of the contract and the app's own, created or checked before anything attaches.

With ``create_topics`` (the default) the missing topics are created with the settings'
partitions, replication factor and ``min.insync.replicas``. Without it (clusters where topics
are managed by a platform team) nothing is created: a missing topic stops the worker with the
commands that would create it. Either way the existing topics are checked, because a wrong
one fails quietly much later: a catalog or changelog that is not compacted loses items and
state after its retention, a compacted signals or feedback topic drops events, a learning log
with more than one partition or a finite retention gives workers different models.

A topic the worker only writes for others is never refused for its shape: the rankings topic
is created compacted (consumers hold it as a table keyed by ``store_id:item_id``, tombstones
deleting retired keys), but an existing one that does not compact only logs a warning with
the command that fixes it. The worker itself is right either way, and deployments created that
topic before it was a table: refusing to start would stop every ranking for a consumer's
convenience. What the warning costs the consumers: on a topic that deletes by age, a table
rebuilt from the beginning misses every live ranking older than the retention.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.connection import KafkaConnection, check_connection
from streams.settings import Settings

__all__ = [
    "TopicSpec",
    "TopicsError",
    "contract_topics",
    "ensure_topics",
    "internal_topics",
    "new_topic",
    "topic_problems",
    "topic_warnings",
]

log = logging.getLogger(__name__)


class TopicsError(RuntimeError):
    """Topics are missing (and may not be created) or exist in a shape the worker cannot use;
    the message lists each, with the reason and the fix."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the worker needs it.

    ``compacted``: the latest record per key must stay (cleanup.policy compact);
    ``table``: created compacted for consumers that hold it as a table, but an existing topic
    that does not compact is only warned about (:func:`topic_warnings`), never refused;
    ``append_only``: every record must stay until read (compaction would drop events);
    ``retain_forever``: never deleted by age or size (the learning log: the model is rebuilt
    from it); ``exact_partitions``: the partition count is part of the design (the learning
    log's one order); ``min_partitions``: fewer partitions than this cannot hold the data.
    """

    name: str
    partitions: int
    compacted: bool = False
    table: bool = False
    append_only: bool = False
    retain_forever: bool = False
    exact_partitions: bool = False
    min_partitions: int = 1
    why: str = ""

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact"} if self.compacted or self.table else {}
        if self.retain_forever:
            configs["retention.ms"] = "-1"
            configs["retention.bytes"] = "-1"
        return configs


def contract_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the v1 contract, inputs and outputs; the catalog is compacted."""
    n = settings.partitions
    return [
        TopicSpec(settings.catalog_topic, n, compacted=True, why="the catalog: item id -> item"),
        TopicSpec(settings.signals_topic, n, append_only=True, why="stock signals"),
        TopicSpec(settings.feedback_topic, n, append_only=True, why="customer feedback"),
        TopicSpec(settings.orders_topic, n, append_only=True, why="completed orders"),
        TopicSpec(
            settings.preferences_topic,
            n,
            compacted=True,
            why="customers' choices and needs: customer_id[:item_id] -> record",
        ),
        TopicSpec(settings.requests_topic, n, append_only=True, why="substitution requests"),
        TopicSpec(
            settings.rankings_topic, n, table=True, why="live rankings: store_id:item_id -> ranking"
        ),
        TopicSpec(settings.replies_topic, n, why="replies to substitution requests, by order"),
        TopicSpec(settings.deadletter_topic, n),
    ]


def internal_topics(settings: Settings, signal_partitions: int) -> list[TopicSpec]:
    """The app's own topics: the shared learning log, its snapshots and the store-state changelog.

    The learning log has one partition (one order for every worker) and is kept forever: the
    model is rebuilt from it. The changelog is partitioned like the signals topic, so a
    store's state sits in the partition number of its signals.
    """
    return [
        TopicSpec(
            settings.learning_topic,
            1,
            append_only=True,
            retain_forever=True,
            exact_partitions=True,
            why="the learning log every worker rebuilds the model from, in one order",
        ),
        TopicSpec(
            settings.snapshot_topic,
            1,
            compacted=True,
            exact_partitions=True,
            why="model snapshots: a starting worker replays only the log after the newest",
        ),
        TopicSpec(
            settings.state_topic,
            signal_partitions,
            compacted=True,
            min_partitions=signal_partitions,
            why="per-store state, in the partition number of the store's signals",
        ),
    ]


def new_topic(spec: TopicSpec, settings: Settings) -> NewTopic:
    """The creation request of ``spec``: the settings' replication and min.insync.replicas."""
    configs = spec.configs()
    if settings.min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(settings.min_insync_replicas)
    return NewTopic(
        spec.name,
        num_partitions=spec.partitions,
        replication_factor=settings.replication,
        topic_configs=configs,
    )


def topic_problems(spec: TopicSpec, partitions: int, configs: Mapping[str, str]) -> list[str]:
    """What is wrong with an existing topic for ``spec`` (nothing: an empty list).

    ``configs`` are the topic's settings as the broker describes them; a setting it does not
    report is taken at Kafka's default (cleanup.policy delete, retention of 7 days).

    >>> log = TopicSpec("app-learning", 1, append_only=True, retain_forever=True,
    ...                 exact_partitions=True)
    >>> topic_problems(log, 1, {"retention.ms": "-1"})
    []
    >>> topic_problems(log, 3, {"retention.ms": "604800000"})  # doctest: +NORMALIZE_WHITESPACE
    ['app-learning: 3 partitions, needs exactly 1',
     'app-learning: retention.ms=604800000, needs -1 (kept forever)']
    """
    problems = []
    if spec.exact_partitions and partitions != spec.partitions:
        problems.append(f"{spec.name}: {partitions} partitions, needs exactly {spec.partitions}")
    elif partitions < spec.min_partitions:
        problems.append(
            f"{spec.name}: {partitions} partitions, needs at least {spec.min_partitions}"
        )
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    if spec.compacted and "compact" not in policy:
        problems.append(
            f"{spec.name}: cleanup.policy={','.join(sorted(policy))}, needs compact"
            " (the latest record of each key must stay)"
        )
    if spec.append_only and "compact" in policy:
        problems.append(
            f"{spec.name}: cleanup.policy={','.join(sorted(policy))}, must not compact"
            " (compaction drops events)"
        )
    if spec.retain_forever:
        for name in ("retention.ms", "retention.bytes"):
            value = configs.get(name, "604800000" if name == "retention.ms" else "-1")
            if value.strip() != "-1":
                problems.append(f"{spec.name}: {name}={value}, needs -1 (kept forever)")
    return problems


def topic_warnings(spec: TopicSpec, configs: Mapping[str, str]) -> list[str]:
    """What an existing topic lacks that only its consumers need (the worker runs anyway).

    >>> rankings = TopicSpec("substitutions.rankings", 3, table=True)
    >>> topic_warnings(rankings, {"cleanup.policy": "compact"})
    []
    >>> print(topic_warnings(rankings, {})[0])  # doctest: +ELLIPSIS
    substitutions.rankings: cleanup.policy=delete; consumers that hold it as a table need ...
    """
    policy = {p.strip() for p in configs.get("cleanup.policy", "delete").split(",")}
    if not spec.table or "compact" in policy:
        return []
    return [
        f"{spec.name}: cleanup.policy={','.join(sorted(policy))}; consumers that hold it as a"
        " table need compact (a table rebuilt from the beginning misses keys older than the"
        " retention): kafka-configs.sh --bootstrap-server HOST:PORT --alter --entity-type topics"
        f" --entity-name {spec.name} --add-config cleanup.policy=compact"
    ]


def create_commands(specs: Iterable[TopicSpec], settings: Settings) -> list[str]:
    """``kafka-topics.sh`` lines that create ``specs`` as the worker would."""
    lines = []
    for spec in specs:
        request = new_topic(spec, settings)
        configs = "".join(f" --config {k}={v}" for k, v in request.topic_configs.items())
        lines.append(
            f"kafka-topics.sh --bootstrap-server HOST:PORT --create --topic {spec.name}"
            f" --partitions {spec.partitions} --replication-factor {settings.replication}{configs}"
        )
    return lines


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create the missing topics (unless ``settings.create_topics`` is false) and check every
    one; returns the names it created.

    Existing topics are never changed. The store-state changelog gets as many partitions as
    the signals topic has. Raises :class:`ConnectionError` when the cluster cannot be reached
    and :class:`TopicsError` when topics are missing or unusable.
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
        return await _ensure(admin, settings)
    finally:
        await admin.close()


async def _ensure(admin: AIOKafkaAdminClient, settings: Settings) -> list[str]:
    existing = set(await admin.list_topics())
    contract = contract_topics(settings)
    created = await _create(admin, settings, contract, existing)
    signal_partitions = None
    if settings.signals_topic in existing or settings.signals_topic in created:
        # never describe a topic that is not there: a broker that creates topics on a
        # metadata request (Tansu, auto.create.topics.enable) would create it
        signal_partitions = (await _partitions(admin, [settings.signals_topic])).get(
            settings.signals_topic
        )
    specs = contract + internal_topics(settings, signal_partitions or settings.partitions)
    created += await _create(admin, settings, specs[len(contract) :], existing)
    missing = [spec for spec in specs if spec.name not in existing and spec.name not in created]
    if missing:
        raise TopicsError(
            "topics missing and create_topics is false: "
            + ", ".join(spec.name for spec in missing)
            + "; create them (or let the worker, with create_topics true):\n  "
            + "\n  ".join(create_commands(missing, settings))
        )
    if created:
        log.info("created topics: %s", ", ".join(created))
    present = [spec for spec in specs if spec.name not in created]
    partitions = await _partitions(admin, [spec.name for spec in present])
    configs = await _configs(admin, [spec.name for spec in present])
    problems = [
        problem
        for spec in present
        for problem in topic_problems(
            spec, partitions.get(spec.name, 0), configs.get(spec.name, {})
        )
    ]
    if problems:
        raise TopicsError(
            "existing topics the worker cannot use (it never changes a topic):\n  "
            + "\n  ".join(problems)
            + "\nfix them with kafka-configs.sh --alter (cleanup.policy, retention), or"
            " delete and recreate them, or point the worker at other topics or another app_id"
        )
    for spec in present:
        for warning in topic_warnings(spec, configs.get(spec.name, {})):
            log.warning("%s", warning)
    return created


async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    return {
        description["topic"]: len(description["partitions"])
        for description in await admin.describe_topics(topics)
        if description.get("partitions")
    }


async def _configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's settings as the broker reports them (Tansu reports only those set at
    creation, Apache Kafka all of them)."""
    found: dict[str, dict[str, str]] = {}
    if not topics:
        return found
    resources = [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
    for response in await admin.describe_configs(resources):
        for _error, _message, _type, name, entries in response.resources:
            found[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return found


async def _create(
    admin: AIOKafkaAdminClient, settings: Settings, specs: list[TopicSpec], existing: set[str]
) -> list[str]:
    if not settings.create_topics:
        return []
    created = []
    for spec in specs:
        if spec.name in existing:
            continue
        try:
            await admin.create_topics([new_topic(spec, settings)])
            created.append(spec.name)
        except TopicAlreadyExistsError:  # another worker won the race: check it like ours
            existing.add(spec.name)
    return created
