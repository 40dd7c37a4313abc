"""One settings object for every command, from CLI flags over ``FILLRATE_*`` environment variables.

Each field's environment variable is ``FILLRATE_`` + the field name in upper case (for example
``FILLRATE_BROKER``, ``FILLRATE_WEB_PORT``); a flag given on the command line wins. Defaults run
on a laptop, except the broker: ``fillrate worker`` needs ``FILLRATE_BROKER`` (or ``--broker``),
``kafka://HOST:PORT`` for a cluster or ``embedded`` for the in-memory Tansu broker, so a missing
or misspelt variable never leaves a worker running happily against nothing.

Secrets (``sasl_password``, ``ssl_key_password``) come from the environment or from a file
(``FILLRATE_SASL_PASSWORD_FILE``, ``--sasl-password-file``), never from a flag; they are left
out of the settings' repr and out of every error message, log line and endpoint.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "CONNECTION_SETTINGS",
    "EMBEDDED",
    "ENV_PREFIX",
    "SASL_MECHANISMS",
    "SECURITY_PROTOCOLS",
    "Settings",
    "SettingsError",
    "parse_bool",
]

ENV_PREFIX = "FILLRATE_"
EMBEDDED = "embedded"  # the broker setting that starts the in-memory Tansu broker
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
# How a client reaches the cluster: every command that talks to Kafka takes these.
CONNECTION_SETTINGS = (
    "broker",
    "security_protocol",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_key_password",
    "ssl_check_hostname",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "sasl_oauth_token_file",
)


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable or flag."""


# How long an input batch waits while the consumer holds a backlog (more of its fetch than the
# batch has room for), or ``batch_wait_ms`` if that is longer: full batches drain a backlog
# with less CPU per event (take_batches in streams/faust_internals.py).
BACKLOG_BATCH_WAIT_MS = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    broker: str | None = field(
        default=None,
        metadata={
            "help": "Kafka bootstrap URL, kafka://HOST:PORT[;HOST:PORT], or 'embedded' (worker"
            " only): start the in-memory Tansu broker in this process"
        },
    )
    security_protocol: str = field(
        default="PLAINTEXT",
        metadata={
            "help": "PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (TLS + SASL login), as"
            " Kafka names them; docs/operations.md shows each managed service's settings"
        },
    )
    ssl_cafile: str | None = field(
        default=None,
        metadata={
            "help": "CA bundle (PEM) that signed the brokers' certificates; unset: system CAs"
        },
    )
    ssl_certfile: str | None = field(
        default=None, metadata={"help": "Client certificate (PEM) for mutual TLS; unset: none"}
    )
    ssl_keyfile: str | None = field(
        default=None, metadata={"help": "Private key (PEM) of ssl_certfile; unset: in the certfile"}
    )
    ssl_key_password: str | None = field(
        default=None,
        repr=False,
        metadata={"help": "Password of an encrypted ssl_keyfile", "secret": True},
    )
    ssl_check_hostname: bool = field(
        default=True,
        metadata={"help": "Check that a broker's certificate names the host connected to"},
    )
    sasl_mechanism: str | None = field(
        default=None,
        metadata={"help": "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (SASL_* only)"},
    )
    sasl_username: str | None = field(
        default=None, metadata={"help": "SASL user (PLAIN / SCRAM; a Confluent Cloud API key)"}
    )
    sasl_password: str | None = field(
        default=None,
        repr=False,
        metadata={"help": "SASL password (PLAIN / SCRAM; an API secret)", "secret": True},
    )
    sasl_oauth_token_file: str | None = field(
        default=None,
        metadata={
            "help": "OAUTHBEARER: file holding the bearer token, read again at every login, so"
            " a sidecar or the platform can rotate it"
        },
    )
    app_id: str = field(default="fillrate", metadata={"help": "Consumer group / Faust app id"})
    partitions: int = field(default=4, metadata={"help": "Partitions of each topic it creates"})
    replication: int = field(default=1, metadata={"help": "Replication factor of its topics"})
    min_insync_replicas: int | None = field(
        default=None,
        metadata={
            "help": "min.insync.replicas of the topics it creates; unset: the broker's default"
        },
    )
    create_topics: bool = field(
        default=True,
        metadata={
            "help": "Create missing topics at start; false: create nothing and check that the"
            " topics exist with the right partitions and cleanup policy (managed clusters)"
        },
    )
    catalog_topic: str = "catalog.items"
    signals_topic: str = "inventory.signals"
    feedback_topic: str = "substitutions.feedback"
    orders_topic: str = "orders.completed"
    preferences_topic: str = "customers.preferences"
    requests_topic: str = "substitutions.requests"
    rankings_topic: str = "substitutions.rankings"
    replies_topic: str = "substitutions.replies"
    deadletter_topic: str = "substitutions.deadletter"
    web_host: str = field(
        default="127.0.0.1", metadata={"help": "Bind address of /health, /metrics"}
    )
    web_port: int = field(default=6066, metadata={"help": "Port of /health and /metrics"})
    rules: str | None = field(default=None, metadata={"help": "Hard rules TOML; unset: defaults"})
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
    snapshot_every: int = field(
        default=2_500,
        metadata={
            "help": "Learning-log records between model snapshots, from which a starting worker"
            " replays only the tail (0: none; every start replays the whole log)"
        },
    )
    snapshot_min_interval_s: float = field(
        default=60.0,
        metadata={
            "help": "At least this long between two model snapshots, s: taking one holds up"
            " learning for a moment (about 0.5 s at 5,000,000 learned events)"
        },
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
    interactions: bool = field(
        default=True,
        metadata={
            "help": "Learn hashed interaction weights (word, brand and aisle pairs) on top of"
            " the content features: they learn what those miss, for about 1.85x the engine's"
            " CPU per event and ~25 MB (docs/evaluation.md)"
        },
    )
    batch_size: int = field(default=500, metadata={"help": "Events taken per batch"})
    batch_wait_ms: float = field(
        default=1.0,
        metadata={
            "help": "The longest a batch of signals, feedback, requests or orders waits, after"
            " its first event, for the rest of what the consumer fetched, ms"
            f" ({BACKLOG_BATCH_WAIT_MS:g} ms while the consumer holds a backlog, or this if"
            " longer; docs/performance.md)"
        },
    )
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
    stop_timeout_s: float = field(
        default=20.0,
        metadata={
            "help": "How long a stop (SIGTERM) may take before the worker exits anyway (a"
            " broker that is gone can hold it forever), s; below Kubernetes' 30 s grace"
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
        overrides = dict(overrides or {})
        values: dict[str, Any] = {}
        for f in fields(cls):
            where = ENV_PREFIX + f.name.upper()
            raw = env.get(where)
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw, where)
            if f.metadata.get("secret"):
                # a secret may also come from a file (Docker / Kubernetes secrets), named by
                # FILLRATE_<NAME>_FILE or --<name>-file; a command-line flag would show the
                # secret itself to everyone who can list processes, so there is none
                path = overrides.pop(f.name + "_file", None) or env.get(where + "_FILE")
                if path:
                    values[f.name] = _read_secret(path, where + "_FILE")
        for name, value in overrides.items():
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
        if self.snapshot_every < 0:
            raise SettingsError(f"snapshot_every must be >= 0, got {self.snapshot_every}")
        if self.snapshot_min_interval_s < 0:
            raise SettingsError(
                f"snapshot_min_interval_s must be >= 0, got {self.snapshot_min_interval_s}"
            )
        if not 0.0 < self.batch_wait_ms <= 1000.0:
            raise SettingsError(
                f"batch_wait_ms must be above 0 and at most 1000, got {self.batch_wait_ms}"
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
        if not self.stop_timeout_s > 0:
            raise SettingsError(f"stop_timeout_s must be > 0, got {self.stop_timeout_s}")
        if self.heartbeat_interval_s >= self.session_timeout_s:
            # the broker would count the member dead between two of its own heartbeats
            raise SettingsError(
                f"heartbeat_interval_s ({self.heartbeat_interval_s}) must be below"
                f" session_timeout_s ({self.session_timeout_s})"
            )
        self._validate_security()
        if self.min_insync_replicas is not None and not (
            1 <= self.min_insync_replicas <= self.replication
        ):
            raise SettingsError(
                f"min_insync_replicas must be between 1 and replication ({self.replication}),"
                f" got {self.min_insync_replicas}"
            )
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise SettingsError(
                f"log_level must be debug/info/warning/error, got {self.log_level!r}"
            )

    def _validate_security(self) -> None:
        # Every message names the setting, never a secret's value.
        if self.broker == EMBEDDED and self.security_protocol != "PLAINTEXT":
            raise SettingsError(
                f"the {EMBEDDED} broker listens in plaintext on this machine only:"
                f" security_protocol {self.security_protocol} is for a cluster (kafka://...)"
            )
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise SettingsError(
                f"security_protocol must be one of {', '.join(SECURITY_PROTOCOLS)},"
                f" got {self.security_protocol!r}"
            )
        sasl = self.security_protocol.startswith("SASL_")
        tls = self.security_protocol.endswith("SSL")
        if sasl and self.sasl_mechanism is None:
            raise SettingsError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism"
                f" ({', '.join(SASL_MECHANISMS)})"
            )
        if self.sasl_mechanism is not None:
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise SettingsError(
                    f"sasl_mechanism must be one of {', '.join(SASL_MECHANISMS)},"
                    f" got {self.sasl_mechanism!r}"
                )
            if not sasl:
                raise SettingsError(
                    f"sasl_mechanism is set but security_protocol is {self.security_protocol}:"
                    " use SASL_SSL (or SASL_PLAINTEXT on a network you trust)"
                )
            if self.sasl_mechanism == "OAUTHBEARER":
                if not self.sasl_oauth_token_file:
                    raise SettingsError("sasl_mechanism OAUTHBEARER needs sasl_oauth_token_file")
            elif not (self.sasl_username and self.sasl_password):
                raise SettingsError(
                    f"sasl_mechanism {self.sasl_mechanism} needs sasl_username and sasl_password"
                    f" (FILLRATE_SASL_PASSWORD or FILLRATE_SASL_PASSWORD_FILE)"
                )
        tls_files = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        if not tls:
            given = [name for name in tls_files if getattr(self, name)]
            if given:
                raise SettingsError(
                    f"{', '.join(given)} set but security_protocol is {self.security_protocol}:"
                    " use SSL or SASL_SSL"
                )
        if self.ssl_keyfile and not self.ssl_certfile:
            raise SettingsError("ssl_keyfile needs ssl_certfile (the client certificate)")
        for name in (*tls_files, "sasl_oauth_token_file"):
            path = getattr(self, name)
            if path and not os.path.isfile(path):
                raise SettingsError(f"{name}: no such file {path}")

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
    def snapshot_topic(self) -> str:
        """The app's compacted topic of model snapshots; see model_snapshots.py."""
        return f"{self.app_id}-model-snapshots"

    @property
    def state_topic(self) -> str:
        """The app's compacted store-state changelog; see state_changelog.py."""
        return f"{self.app_id}-store-state-changelog"

    def input_topics(self) -> tuple[str, ...]:
        return (
            self.catalog_topic,
            self.signals_topic,
            self.feedback_topic,
            self.orders_topic,
            self.preferences_topic,
            self.requests_topic,
        )


def _read_secret(path: str, where: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read {path}: {exc.strerror}") from None


def parse_bool(text: str) -> bool:
    """``true``/``false`` as an operator writes them in an environment file or a flag.

    >>> parse_bool("False"), parse_bool("1"), parse_bool("yes")
    (False, True, True)
    """
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _convert(f: dataclasses.Field[Any], raw: str, where: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if f.metadata.get("secret"):
        return raw
    if kind.startswith("bool"):
        try:
            return parse_bool(raw)
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        what = "an integer" if kind.startswith("int") else "a number"
        raise SettingsError(f"{where}={raw!r} is not {what}") from None
    return raw
