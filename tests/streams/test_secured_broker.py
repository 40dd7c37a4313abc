"""Secured clusters for real: a worker over mutual TLS and over SASL_SSL becomes ready and
publishes a ranking; every mechanism logs in; a refused login stops the worker with the reason.

The broker is the embedded Tansu behind tests/secured_front.py, which does the TLS and the SASL
exchange the way a Kafka listener does (Tansu 0.6.0 cannot do either itself: see that module).
The last test shows what Tansu's own ``--authentication`` does with a login it cannot know.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from online_learning.contract import product_payload
from streams.connection import KafkaConnection, check_connection
from streams.embedded_broker import EmbeddedBroker
from streams.settings import Settings
from streams.topics import ensure_topics
from streams.worker_process import WorkerProcess
from tests.conftest import milk, signal_payload
from tests.secured_front import SecuredFront, TestPKI, secured_broker
from tests.streams.conftest import wait_ready, worker_settings

pytestmark = pytest.mark.broker

PASSWORD = "Tr0ub4dor-" + uuid.uuid4().hex[:6]
KEY_PASSWORD = "k3y-" + uuid.uuid4().hex[:6]
TOKEN = "bearer-" + uuid.uuid4().hex
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki"), key_password=KEY_PASSWORD)


@pytest.fixture(scope="module")
def front(pki: TestPKI) -> Iterator[SecuredFront]:
    """A listener that wants TLS with a client certificate and then a SASL login."""
    with secured_broker(
        tls=pki.server_context(require_client_certificate=True),
        mechanisms=MECHANISMS,
        users={"fillrate": PASSWORD},
        oauth_tokens=[TOKEN],
    ) as running:
        yield running


@pytest.fixture(scope="module")
def tls_front(pki: TestPKI) -> Iterator[SecuredFront]:
    """A listener that wants TLS with a client certificate, no SASL."""
    with secured_broker(tls=pki.server_context(require_client_certificate=True)) as running:
        yield running


def tls_settings(pki: TestPKI) -> dict[str, Any]:
    return {
        "ssl_cafile": str(pki.cafile),
        "ssl_certfile": str(pki.certfile),
        "ssl_keyfile": str(pki.keyfile),
        "ssl_key_password": KEY_PASSWORD,
    }


def sasl_settings(mechanism: str, token_file: Path) -> dict[str, Any]:
    if mechanism == "OAUTHBEARER":
        return {"sasl_mechanism": mechanism, "sasl_oauth_token_file": str(token_file)}
    return {"sasl_mechanism": mechanism, "sasl_username": "fillrate", "sasl_password": PASSWORD}


async def publish_and_rank(settings: Settings) -> dict[str, Any]:
    """Publish a small milk aisle and a stock-out over the secured connection; the ranking."""
    options = KafkaConnection.from_settings(settings).client_options()
    producer = AIOKafkaProducer(**options, linger_ms=1)
    consumer = AIOKafkaConsumer(
        settings.rankings_topic, **options, group_id=None, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    try:
        for i in range(8):
            product = milk(f"m{i}", f"Organic Whole Milk {i}", price=3.0 + i / 10)
            await producer.send(
                settings.catalog_topic, orjson.dumps(product_payload(product)), key=b"m%d" % i
            )
        await producer.send_and_wait(
            settings.signals_topic,
            orjson.dumps(signal_payload("s1", "m0", "not_found")),
            key=b"s1",
        )
        async for record in consumer:
            ranking: dict[str, Any] = orjson.loads(record.value)
            if ranking["item_id"] == "m0" and ranking["substitutes"]:
                return ranking
        raise AssertionError("the rankings topic ended")
    finally:
        await producer.stop()
        await consumer.stop()


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
async def test_a_worker_on_a_secured_cluster_is_ready_and_publishes_rankings(
    protocol: str,
    pki: TestPKI,
    front: SecuredFront,
    tls_front: SecuredFront,
    tmp_path: Path,
) -> None:
    listener = front if protocol == "SASL_SSL" else tls_front
    values: dict[str, Any] = {"security_protocol": protocol, **tls_settings(pki)}
    if protocol == "SASL_SSL":
        values.update(sasl_settings("SCRAM-SHA-512", tmp_path / "unused"))
    settings = worker_settings(f"kafka://{listener.bootstrap_servers}", **values)
    logins_before = len(listener.logins)
    log = tmp_path / "worker.log"
    with WorkerProcess(settings, log) as worker:
        wait_ready(worker)
        ranking = await publish_and_rank(settings)
    assert ranking["trigger"] in ("stock_out", "not_found") or ranking["substitutes"]
    assert {s["item_id"] for s in ranking["substitutes"]} <= {f"m{i}" for i in range(1, 8)}
    text = log.read_text(errors="replace")
    assert PASSWORD not in text and KEY_PASSWORD not in text
    if protocol == "SASL_SSL":
        logins = listener.logins[logins_before:]
        # the worker's clients (Faust's, its own readers, the admin) all logged in, none failed
        assert len(logins) >= 3
        assert all(login.ok and login.user == "fillrate" for login in logins)
        assert {login.mechanism for login in logins} == {"SCRAM-SHA-512"}
        assert "over SASL_SSL, SCRAM-SHA-512 as 'fillrate', TLS (verify certificates" in text
    else:
        assert "over SSL, TLS (verify certificates, check hostname" in text


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_every_mechanism_creates_topics_and_carries_records(
    mechanism: str, pki: TestPKI, front: SecuredFront, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    settings = worker_settings(
        f"kafka://{front.bootstrap_servers}",
        security_protocol="SASL_SSL",
        **tls_settings(pki),
        **sasl_settings(mechanism, token_file),
    )
    created = await ensure_topics(settings)
    assert settings.signals_topic in created
    options = KafkaConnection.from_settings(settings).client_options()
    producer = AIOKafkaProducer(**options)
    consumer = AIOKafkaConsumer(
        settings.signals_topic, **options, group_id=None, auto_offset_reset="earliest"
    )
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(settings.signals_topic, b"{}", key=b"s1")
        record = await consumer.getone()
    finally:
        await producer.stop()
        await consumer.stop()
    assert record.value == b"{}"
    assert any(login.mechanism == mechanism and login.ok for login in front.logins)


def secured_env(pki: TestPKI, front: SecuredFront, tmp_path: Path) -> dict[str, str]:
    key_password_file = tmp_path / "key-password"
    key_password_file.write_text(KEY_PASSWORD)
    return {
        "FILLRATE_BROKER": f"kafka://{front.bootstrap_servers}",
        "FILLRATE_SECURITY_PROTOCOL": "SASL_SSL",
        "FILLRATE_SSL_CAFILE": str(pki.cafile),
        "FILLRATE_SSL_CERTFILE": str(pki.certfile),
        "FILLRATE_SSL_KEYFILE": str(pki.keyfile),
        "FILLRATE_SSL_KEY_PASSWORD_FILE": str(key_password_file),
        "FILLRATE_SASL_MECHANISM": "SCRAM-SHA-256",
        "FILLRATE_SASL_USERNAME": "fillrate",
        "FILLRATE_SASL_PASSWORD": PASSWORD,
        "FILLRATE_APP_ID": f"refused-{uuid.uuid4().hex[:6]}",
    }


def test_a_refused_login_stops_the_worker_command_with_the_reason_and_no_secret(
    pki: TestPKI, front: SecuredFront, tmp_path: Path
) -> None:
    env = secured_env(pki, front, tmp_path)
    env["FILLRATE_SASL_PASSWORD"] = "wrong-" + PASSWORD
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot reach Kafka at kafka://{front.bootstrap_servers}" in result.stderr
    assert "as 'fillrate' with SCRAM-SHA-256 refused" in result.stderr
    assert "check sasl_username and sasl_password" in result.stderr
    assert "Traceback" not in result.stderr
    for secret in (PASSWORD, KEY_PASSWORD):
        assert secret not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"FILLRATE_SASL_USERNAME": "mallory"}, "as 'mallory' with SCRAM-SHA-256 refused"),
        ({"FILLRATE_SSL_CAFILE": ""}, "the broker's certificate was refused"),
        ({"FILLRATE_SSL_CERTFILE": "", "FILLRATE_SSL_KEYFILE": ""}, "client certificate"),
        (
            {"FILLRATE_SECURITY_PROTOCOL": "SSL", "FILLRATE_SASL_MECHANISM": ""},
            "closed the connection while it was being set up (SSL)",
        ),
    ],
)
async def test_a_refused_connection_says_which_setting_to_look_at(
    change: dict[str, str], reason: str, pki: TestPKI, front: SecuredFront, tmp_path: Path
) -> None:
    settings = Settings.load(environ={**secured_env(pki, front, tmp_path), **change})
    with pytest.raises(ConnectionError) as refused:
        await ensure_topics(settings, timeout=5)
    assert reason in str(refused.value)
    for secret in (PASSWORD, KEY_PASSWORD):
        assert secret not in str(refused.value)


async def test_tansu_own_authentication_refuses_a_login_it_cannot_know(tmp_path: Path) -> None:
    """Tansu's ``--authentication`` offers SCRAM and keeps no user a client could log in as
    (see tests/secured_front.py); the worker's check says the login was refused."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log", authentication=True) as broker:
        settings = Settings.load(
            {
                "broker": broker.url,
                "security_protocol": "SASL_PLAINTEXT",
                **sasl_settings("SCRAM-SHA-512", tmp_path / "unused"),
            },
            environ={},
        )
        with pytest.raises(ConnectionError, match=r"SASL login to .* refused") as refused:
            await check_connection(KafkaConnection.from_settings(settings), timeout=5)
        plain = Settings.load({"broker": broker.url}, environ={})
        with pytest.raises(ConnectionError, match="closed the connection"):
            await check_connection(KafkaConnection.from_settings(plain), timeout=5)
    assert PASSWORD not in str(refused.value)
