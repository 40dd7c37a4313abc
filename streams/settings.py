"""One settings object for every command, from CLI flags over ``FILLRATE_*`` environment variables.

Each field's environment variable is ``FILLRATE_`` + the field name in upper case (for example
``FILLRATE_BROKER``, ``FILLRATE_WEB_PORT``); a flag given on the command line wins. Defaults run
on a laptop, except the broker: ``fillrate worker`` needs ``FILLRATE_BROKER`` (or ``--broker``),
``kafka://HOST:PORT`` for a cluster or ``embedded`` for the in-memory Tansu broker, so a missing
or misspelt variable never leaves a worker running happily against nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["EMBEDDED", "ENV_PREFIX", "Settings", "SettingsError"]

ENV_PREFIX = "FILLRATE_"
EMBEDDED = "embedded"  # the broker setting that starts the in-memory Tansu broker


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable or flag."""


@dataclass(frozen=True, slots=True)
class Settings:
    broker: str | None = field(
        default=None,
        metadata={
            "help": "Kafka bootstrap URL, kafka://HOST:PORT[;HOST:PORT], or 'embedded' (worker"
            " only): start the in-memory Tansu broker in this process"
        },
    )
    app_id: str = field(default="fillrate", metadata={"help": "Consumer group / Faust app id"})
    partitions: int = field(default=4, metadata={"help": "Partitions of each topic it creates"})
    replication: int = field(default=1, metadata={"help": "Replication factor of its topics"})
    catalog_topic: str = "catalog.items"
    signals_topic: str = "inventory.signals"
    feedback_topic: str = "substitutions.feedback"
    rankings_topic: str = "substitutions.rankings"
    deadletter_topic: str = "substitutions.deadletter"
    web_host: str = field(
        default="127.0.0.1", metadata={"help": "Bind address of /health, /metrics"}
    )
    web_port: int = field(default=6066, metadata={"help": "Port of /health and /metrics"})
    rules: str | None = field(default=None, metadata={"help": "Hard rules TOML; unset: defaults"})
    popularity: str | None = field(
        default=None,
        metadata={
            "help": "Order counts per item id (JSON object, or CSV item_id,count) for the"
            " popularity feature; unset: every item 0"
        },
    )
    top_k: int = field(default=10, metadata={"help": "Substitutes per ranking"})
    threshold: float = field(default=0.5, metadata={"help": "P(available) below which: stock-out"})
    prior: float = field(default=0.9, metadata={"help": "P(available) of an unseen item"})
    half_life_s: float = field(default=4 * 3600.0, metadata={"help": "Evidence half-life, s"})
    refresh_interval_s: float = field(
        default=2.0, metadata={"help": "Debounce of model_update re-rankings, s"}
    )
    refresh_budget: int = field(
        default=500, metadata={"help": "Live rankings re-ranked per refresh tick"}
    )
    explore_epsilon: float = field(
        default=0.05, metadata={"help": "Share of rankings that put a runner-up first (0: none)"}
    )
    stores: str | None = field(
        default=None, metadata={"help": "Comma-separated known store ids; unset: any"}
    )
    candidate_cache: int = field(
        default=2048,
        metadata={
            "help": "Requested items whose candidate blocks stay cached, ~72 kB each:"
            " more memory, fewer rebuilds"
        },
    )
    batch_size: int = field(default=500, metadata={"help": "Events taken per batch"})
    reference_wait_s: float = field(
        default=2.0,
        metadata={
            "help": "How long a batch naming items the catalog lacks waits for the catalog to"
            " catch up (once per batch), s; 0: refuse them at once"
        },
    )
    fetch_wait_ms: int = field(
        default=40,
        metadata={"help": "Consumer fetch wait, ms (Tansu answers an empty fetch only after it)"},
    )
    rebalance_timeout_s: float = field(
        default=3.0, metadata={"help": "Consumer-group rebalance timeout, s (Tansu needs it low)"}
    )
    session_timeout_s: float = field(default=6.0, metadata={"help": "Consumer session timeout, s"})
    heartbeat_interval_s: float = field(default=1.0, metadata={"help": "Heartbeat interval, s"})
    group_instance_id: str | None = field(
        default=None,
        metadata={
            "help": "Static group member id (KIP-345), unique per worker; a restart with the"
            " same id takes its partitions back without a rebalance; unset: dynamic member"
        },
    )
    data_dir: str | None = field(default=None, metadata={"help": "Worker data dir; unset: temp"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then ``FILLRATE_*`` variables, then non-None ``overrides`` (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw, ENV_PREFIX + f.name.upper())
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.broker not in (None, EMBEDDED) and not str(self.broker).startswith("kafka://"):
            raise SettingsError(
                f"broker must look like kafka://HOST:PORT (or be '{EMBEDDED}'), got {self.broker!r}"
            )
        for name in (
            "partitions",
            "replication",
            "top_k",
            "batch_size",
            "refresh_budget",
            "candidate_cache",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.web_port <= 65535:
            raise SettingsError(f"web_port must be a TCP port, got {self.web_port}")
        for name in ("threshold", "prior"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise SettingsError(f"{name} must be in (0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.reference_wait_s <= 60.0:
            raise SettingsError(
                f"reference_wait_s must be between 0 and 60, got {self.reference_wait_s}"
            )
        if self.fetch_wait_ms < 0:
            raise SettingsError(f"fetch_wait_ms must be >= 0, got {self.fetch_wait_ms}")
        if not 0.0 <= self.explore_epsilon < 1.0:
            raise SettingsError(f"explore_epsilon must be in [0, 1), got {self.explore_epsilon}")
        if self.half_life_s <= 0 or self.refresh_interval_s <= 0:
            raise SettingsError("half_life_s and refresh_interval_s must be > 0")
        for name in ("rebalance_timeout_s", "session_timeout_s", "heartbeat_interval_s"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.heartbeat_interval_s >= self.session_timeout_s:
            # the broker would count the member dead between two of its own heartbeats
            raise SettingsError(
                f"heartbeat_interval_s ({self.heartbeat_interval_s}) must be below"
                f" session_timeout_s ({self.session_timeout_s})"
            )
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise SettingsError(
                f"log_level must be debug/info/warning/error, got {self.log_level!r}"
            )

    @property
    def bootstrap_servers(self) -> str:
        """The broker URL as aiokafka wants it (HOST:PORT[,HOST:PORT])."""
        if self.broker is None or self.broker == EMBEDDED:
            raise SettingsError("no broker set")
        return self.broker.removeprefix("kafka://").replace(";", ",")

    def store_allowlist(self) -> frozenset[str] | None:
        if not self.stores:
            return None
        return frozenset(s.strip() for s in self.stores.split(",") if s.strip())

    def with_broker(self, broker: str) -> Settings:
        return dataclasses.replace(self, broker=broker)

    @property
    def learning_topic(self) -> str:
        """The app's shared learning log (one partition, kept forever); see learning_log.py."""
        return f"{self.app_id}-feedback-learning"

    @property
    def state_topic(self) -> str:
        """The app's compacted store-state changelog; see state_changelog.py."""
        return f"{self.app_id}-store-state-changelog"

    def input_topics(self) -> tuple[str, str, str]:
        return (self.catalog_topic, self.signals_topic, self.feedback_topic)


def _convert(f: dataclasses.Field[Any], raw: str, where: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        what = "an integer" if kind.startswith("int") else "a number"
        raise SettingsError(f"{where}={raw!r} is not {what}") from None
    return raw
