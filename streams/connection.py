"""How every Kafka client fillrate creates reaches the cluster: servers, TLS and SASL.

The settings are turned into client options here and nowhere else, so the worker's Faust app,
its own consumers and producers, the admin client that creates topics, ``simulate`` and
``tail`` all connect the same way. :meth:`KafkaConnection.describe` is the configuration each
client receives with the secrets replaced, for logs and for the tests that pin it down.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import errors as kafka_errors
from aiokafka.abc import AbstractTokenProvider
from aiokafka.conn import create_conn
from aiokafka.protocol.metadata import MetadataRequest

from streams.settings import Settings, SettingsError

__all__ = [
    "KafkaConnection",
    "TokenFileProvider",
    "check_connection",
    "faust_credentials",
    "tls_context",
]

REDACTED = "***"


class TokenFileProvider(AbstractTokenProvider):
    """OAUTHBEARER tokens read from a file at every login.

    The file is the usual hand-over point of a token that something else keeps fresh (a
    Kubernetes projected service-account token, a sidecar running the identity provider's
    client-credentials flow), so a worker never holds an expired token across a reconnect.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    async def token(self) -> str:
        text = await asyncio.to_thread(self._read)
        if not text:
            raise SettingsError(f"sasl_oauth_token_file {self.path} is empty")
        return text

    def _read(self) -> str:
        try:
            return self.path.read_text("utf-8").strip()
        except OSError as exc:
            raise SettingsError(
                f"sasl_oauth_token_file: cannot read {self.path}: {exc.strerror}"
            ) from None

    def __repr__(self) -> str:
        return f"TokenFileProvider({str(self.path)!r})"


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of an SSL / SASL_SSL connection (None for a plaintext one).

    Certificates are verified against ``ssl_cafile`` (the system CAs when unset, which is what
    managed services with public certificates need), the host name is checked unless
    ``ssl_check_hostname`` is false, and ``ssl_certfile`` / ``ssl_keyfile`` are presented for
    mutual TLS.
    """
    if not settings.security_protocol.endswith("SSL"):
        return None
    try:
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(
            f"ssl_cafile {settings.ssl_cafile}: not a PEM CA bundle ({exc})"
        ) from None
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile:
        try:
            context.load_cert_chain(
                settings.ssl_certfile, settings.ssl_keyfile, password=settings.ssl_key_password
            )
        except (ssl.SSLError, OSError) as exc:
            # the reason, never the password: "bad decrypt" says enough
            reason = getattr(exc, "reason", None) or exc.__class__.__name__
            raise SettingsError(
                f"ssl_certfile {settings.ssl_certfile} / ssl_keyfile"
                f" {settings.ssl_keyfile or '(in the certfile)'}: cannot load the client"
                f" certificate and key ({reason})"
            ) from None
    return context


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """Where the cluster is and how to log in to it.

    ``security`` holds the aiokafka options beyond the servers (``security_protocol``,
    ``ssl_context``, ``sasl_*``); it is empty for a plaintext cluster.

    >>> KafkaConnection.of("127.0.0.1:9092").client_options()
    {'bootstrap_servers': '127.0.0.1:9092'}
    """

    bootstrap_servers: str
    security: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, where: KafkaConnection | str) -> KafkaConnection:
        """``where`` itself, or a plaintext connection to the servers it names."""
        return where if isinstance(where, KafkaConnection) else cls(where)

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConnection:
        security: dict[str, Any] = {}
        protocol = settings.security_protocol
        if protocol != "PLAINTEXT":
            security["security_protocol"] = protocol
        context = tls_context(settings)
        if context is not None:
            security["ssl_context"] = context
        if protocol.startswith("SASL_"):
            security["sasl_mechanism"] = settings.sasl_mechanism
            if settings.sasl_mechanism == "OAUTHBEARER":
                assert settings.sasl_oauth_token_file is not None  # Settings.validate
                security["sasl_oauth_token_provider"] = TokenFileProvider(
                    settings.sasl_oauth_token_file
                )
            else:
                security["sasl_plain_username"] = settings.sasl_username
                security["sasl_plain_password"] = settings.sasl_password
        return cls(settings.bootstrap_servers, security)

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments of an aiokafka consumer, producer, admin or plain client."""
        return {"bootstrap_servers": self.bootstrap_servers, **self.security}

    def describe(self) -> dict[str, str]:
        """What each client receives, secrets replaced by ``***``: safe to log or show.

        >>> KafkaConnection("b:9093", {"security_protocol": "SASL_SSL",
        ...     "sasl_mechanism": "PLAIN", "sasl_plain_username": "key",
        ...     "sasl_plain_password": "hunter2"}).describe()["sasl_plain_password"]
        '***'
        """
        shown = {"bootstrap_servers": self.bootstrap_servers, "security_protocol": "PLAINTEXT"}
        for name, value in self.security.items():
            if name == "sasl_plain_password":
                shown[name] = REDACTED
            elif isinstance(value, ssl.SSLContext):
                shown[name] = _describe_tls(value)
            else:
                shown[name] = str(value)
        return shown

    @property
    def tls(self) -> bool:
        return "ssl_context" in self.security

    def summary(self) -> str:
        """One line for the start-up log: how this connection logs in, no secrets.

        >>> KafkaConnection("b:9096", {"security_protocol": "SASL_PLAINTEXT",
        ...     "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "fillrate",
        ...     "sasl_plain_password": "hunter2"}).summary()
        "b:9096 over SASL_PLAINTEXT, SCRAM-SHA-512 as 'fillrate'"
        """
        shown = self.describe()
        parts = [f"{self.bootstrap_servers} over {shown['security_protocol']}"]
        if "sasl_mechanism" in shown:
            who = self.security.get("sasl_plain_username")
            parts.append(shown["sasl_mechanism"] + (f" as {who!r}" if who else ""))
        if "ssl_context" in shown:
            parts.append(shown["ssl_context"])
        return ", ".join(parts)


def _describe_tls(context: ssl.SSLContext) -> str:
    verify = "verify certificates" if context.verify_mode == ssl.CERT_REQUIRED else "no verify"
    hostname = "check hostname" if context.check_hostname else "no hostname check"
    return f"TLS ({verify}, {hostname}, minimum {context.minimum_version.name})"


def faust_credentials(settings: Settings) -> Any:
    """The ``broker_credentials`` of the worker's Faust app (None for a plaintext cluster).

    Faust hands them to every aiokafka client it creates (its consumer, producer and the
    client that creates its own topics) through ``credentials_to_aiokafka_auth``, which maps
    them to the same options as :meth:`KafkaConnection.client_options`.
    """
    from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials

    protocol = settings.security_protocol
    context = tls_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(context)
    if settings.sasl_mechanism == "OAUTHBEARER":
        assert settings.sasl_oauth_token_file is not None  # Settings.validate
        credentials: Any = OAuthCredentials(
            oauth_cb=TokenFileProvider(settings.sasl_oauth_token_file), ssl_context=context
        )
    else:
        credentials = SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            ssl_context=context,
            mechanism=settings.sasl_mechanism,
        )
    return credentials


async def check_connection(connection: KafkaConnection, timeout: float = 10.0) -> None:
    """Connect (TLS, SASL login) to the bootstrap servers one by one until one lets us in.

    Raises :class:`ConnectionError` with what went wrong and which setting to look at: the
    clients' own errors say only "Unable to bootstrap" and leave the reason in a log line.
    """
    reasons = []
    for server in connection.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        conn = None
        try:
            # aiokafka's one-connection helper (aiokafka.conn, 0.14): the handshake and the
            # SASL login of a real client, without a client's retries around them
            conn = await asyncio.wait_for(
                create_conn(
                    host,
                    int(port),
                    client_id="fillrate-connection-check",
                    request_timeout_ms=int(timeout * 1000),
                    **connection.security,
                ),
                timeout,
            )
            # one real request after the login: a listener that wants a login this client
            # did not attempt refuses it here, not at the handshake
            await asyncio.wait_for(conn.send(MetadataRequest([])), timeout)
        except Exception as exc:  # every failure is explained, none is fatal to the loop
            reasons.append(explain_failure(exc, connection, server, timeout))
            continue
        finally:
            if conn is not None:
                conn.close()
        return
    raise ConnectionError("; ".join(reasons))


def explain_failure(
    exc: BaseException, connection: KafkaConnection, server: str, timeout: float
) -> str:
    """One line on why connecting to ``server`` failed and what to change (no secrets)."""
    security = connection.security
    protocol = security.get("security_protocol", "PLAINTEXT")
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = "set ssl_cafile to the CA that signed it"
        if "hostname" in str(exc.verify_message).lower() or "ip address" in str(exc).lower():
            hint = "the certificate does not name this host: connect by a name it has"
        return (
            f"TLS with {server}: the broker's certificate was refused ({exc.verify_message});"
            f" {hint}"
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if "WRONG_VERSION_NUMBER" in str(reason) or "RECORD_LAYER" in str(reason):
            return (
                f"TLS with {server} failed ({reason}): this listener does not speak TLS; try"
                " security_protocol PLAINTEXT or SASL_PLAINTEXT"
            )
        if "CERTIFICATE" in str(reason):
            return (
                f"TLS with {server} failed ({reason}): the broker wants a client certificate"
                " it trusts (ssl_certfile, ssl_keyfile)"
            )
        return f"TLS with {server} failed ({reason})"
    mechanism = str(security.get("sasl_mechanism"))
    if isinstance(exc, KeyError) and mechanism.startswith("SCRAM-"):
        # aiokafka 0.14 reads the server's final SCRAM message as a proof (v=...); a broker
        # that refuses the login sends an error (e=...) there instead and this KeyError is all
        # that surfaces
        exc = kafka_errors.SaslAuthenticationFailed(
            "the broker's final SCRAM message carried no proof, it refused the login"
        )
    if isinstance(exc, kafka_errors.SaslAuthenticationFailed):
        who = security.get("sasl_plain_username") or "the bearer token's owner"
        return (
            f"SASL login to {server} as {who!r} with {mechanism} refused"
            f" ({exc}): check sasl_username and sasl_password (or the token)"
        )
    if isinstance(
        exc, kafka_errors.UnsupportedSaslMechanismError | kafka_errors.IllegalSaslStateError
    ):
        return f"SASL with {server}: {exc}"
    if isinstance(exc, kafka_errors.KafkaConnectionError):
        return (
            f"{server} closed the connection while it was being set up ({protocol}): the"
            " listener may expect TLS (security_protocol SSL or SASL_SSL), a SASL login"
            " (SASL_*), or a client certificate (ssl_certfile)"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"no answer from {server} within {timeout:g}s ({protocol}): a TLS listener and a"
            " plaintext client (or the reverse) wait for each other like this"
        )
    if isinstance(exc, OSError):
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return f"cannot connect to {server}: {reason}"
    return f"cannot connect to {server}: {exc.__class__.__name__}: {exc}"
