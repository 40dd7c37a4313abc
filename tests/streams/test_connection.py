"""The exact configuration each Kafka client receives for each security setting, and the
settings' refusals: no broker needed (tests/streams/test_secured_broker.py connects for real)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from streams.cli import build_parser, main
from streams.connection import KafkaConnection, TokenFileProvider, faust_credentials
from streams.settings import Settings, SettingsError
from tests.secured_front import TestPKI

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki"), key_password=SECRET)


def load(**values: Any) -> Settings:
    return Settings.load({"broker": "kafka://b1:9093;b2:9093", **values}, environ={})


def test_plaintext_clients_get_only_the_servers() -> None:
    settings = load()
    assert KafkaConnection.from_settings(settings).client_options() == {
        "bootstrap_servers": "b1:9093,b2:9093"
    }
    assert faust_credentials(settings) is None


def test_tls_with_a_client_certificate(pki: TestPKI) -> None:
    settings = load(
        security_protocol="SSL",
        ssl_cafile=str(pki.cafile),
        ssl_certfile=str(pki.certfile),
        ssl_keyfile=str(pki.keyfile),
        ssl_key_password=SECRET,
    )
    options = KafkaConnection.from_settings(settings).client_options()
    assert set(options) == {"bootstrap_servers", "security_protocol", "ssl_context"}
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # the CA given, not only the system's: our test CA is among the trusted ones
    assert any("Testing CA" in str(c.get("subject")) for c in context.get_ca_certs())
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials) == {
        "security_protocol": "SSL",
        "ssl_context": credentials.context,
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_with_a_password(pki: TestPKI, mechanism: str) -> None:
    settings = load(
        security_protocol="SASL_SSL",
        ssl_cafile=str(pki.cafile),
        sasl_mechanism=mechanism,
        sasl_username="fillrate",
        sasl_password=SECRET,
    )
    connection = KafkaConnection.from_settings(settings)
    options = connection.client_options()
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "bootstrap_servers": "b1:9093,b2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "fillrate",
        "sasl_plain_password": SECRET,
    }
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    # Faust's clients (its consumer, producer and topic creation) get the same options
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    faust_options = dict(credentials_to_aiokafka_auth(credentials))
    assert faust_options.pop("ssl_context") is not None
    assert faust_options == {
        k: v for k, v in options.items() if k not in ("ssl_context", "bootstrap_servers")
    }
    # what may be logged names everything but the secret
    shown = connection.describe()
    assert shown["sasl_plain_password"] == "***" and SECRET not in repr(shown)
    assert shown["sasl_mechanism"] == mechanism and "verify certificates" in shown["ssl_context"]
    assert SECRET not in repr(settings) and SECRET not in repr(credentials)


def test_sasl_plaintext_has_no_tls_context() -> None:
    settings = load(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password=SECRET,
    )
    options = KafkaConnection.from_settings(settings).client_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in options
    faust_options = credentials_to_aiokafka_auth(faust_credentials(settings))
    assert faust_options["security_protocol"] == "SASL_PLAINTEXT"
    assert faust_options["ssl_context"] is None


async def test_oauthbearer_reads_the_token_file_at_every_login(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first-token\n")
    settings = load(
        security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER", sasl_oauth_token_file=str(token)
    )
    options = KafkaConnection.from_settings(settings).client_options()
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, TokenFileProvider)
    assert options["sasl_mechanism"] == "OAUTHBEARER" and "sasl_plain_password" not in options
    assert await provider.token() == "first-token"
    token.write_text("rotated-token")
    assert await provider.token() == "rotated-token"
    credentials = faust_credentials(settings)
    assert isinstance(credentials, OAuthCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SASL_SSL"
    token.write_text("")
    with pytest.raises(SettingsError, match="is empty"):
        await provider.token()


def test_secrets_come_from_the_environment_or_a_file_never_a_flag(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")
    env = {
        "FILLRATE_BROKER": "kafka://b:9093",
        "FILLRATE_SECURITY_PROTOCOL": "SASL_SSL",
        "FILLRATE_SASL_MECHANISM": "PLAIN",
        "FILLRATE_SASL_USERNAME": "key",
        "FILLRATE_SASL_PASSWORD_FILE": str(secret_file),
        "FILLRATE_SSL_CHECK_HOSTNAME": "false",
    }
    settings = Settings.load(environ=env)
    assert settings.sasl_password == SECRET  # stripped of the file's newline
    assert settings.ssl_check_hostname is False
    assert SECRET not in repr(settings)
    direct = Settings.load(
        environ={**env, "FILLRATE_SASL_PASSWORD_FILE": "", "FILLRATE_SASL_PASSWORD": "x"}
    )
    assert direct.sasl_password == "x"
    # the command line takes a file, not the secret itself
    parser = build_parser("worker")
    args = parser.parse_args(["worker", "--sasl-password-file", str(secret_file)])
    assert args.sasl_password_file == str(secret_file)
    with pytest.raises(SystemExit):
        parser.parse_args(["worker", "--sasl-password", SECRET])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"security_protocol": "TLS"}, "security_protocol must be one of"),
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism"),
        (
            {"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": SECRET},
            "use SASL_SSL",
        ),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism must be"),
        (
            {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_username": "u",
            },
            "needs sasl_username and sasl_password",
        ),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
            "needs sasl_oauth_token_file",
        ),
        ({"ssl_cafile": "/etc/hostname"}, "use SSL or SASL_SSL"),
        (
            {"security_protocol": "SSL", "ssl_cafile": "/no/such/ca.pem"},
            "no such file /no/such/ca.pem",
        ),
        (
            {"security_protocol": "SSL", "ssl_keyfile": "/etc/hostname"},
            "ssl_keyfile needs ssl_certfile",
        ),
        ({"broker": "embedded", "security_protocol": "SSL"}, "plaintext on this machine only"),
        ({"replication": 3, "min_insync_replicas": 4}, "min_insync_replicas must be between 1"),
    ],
)
def test_contradictory_settings_are_refused_with_the_setting_named(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        load(**values)
    assert SECRET not in str(refused.value)


def test_a_wrong_key_password_is_refused_without_showing_it(pki: TestPKI) -> None:
    settings = load(
        security_protocol="SSL",
        ssl_cafile=str(pki.cafile),
        ssl_certfile=str(pki.certfile),
        ssl_keyfile=str(pki.keyfile),
        ssl_key_password="not-" + SECRET,
    )
    with pytest.raises(SettingsError, match="cannot load the client certificate") as refused:
        KafkaConnection.from_settings(settings)
    assert SECRET not in str(refused.value)


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(SettingsError, match="not a PEM CA bundle"):
        KafkaConnection.from_settings(load(security_protocol="SSL", ssl_cafile=str(bogus)))


def test_the_worker_command_exits_2_on_contradictory_security_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FILLRATE_SASL_PASSWORD", SECRET)
    code = main(["worker", "--broker", "kafka://b:9093", "--sasl-mechanism", "PLAIN"])
    err = capsys.readouterr().err
    assert code == 2 and "use SASL_SSL" in err and SECRET not in err


def test_simulate_and_tail_take_the_connection_settings(tmp_path: Path) -> None:
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET)
    for command in ("simulate", "tail"):
        args = build_parser(command).parse_args(
            [
                command,
                "--broker",
                "kafka://b:9096",
                "--security-protocol",
                "SASL_SSL",
                "--sasl-mechanism",
                "SCRAM-SHA-512",
                "--sasl-username",
                "fillrate",
                "--sasl-password-file",
                str(secret_file),
                "--ssl-check-hostname",
                "false",
            ]
        )
        settings = _settings_of(args)
        options = KafkaConnection.from_settings(settings).client_options()
        assert options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_password"] == SECRET
        assert options["ssl_context"].check_hostname is False


def _settings_of(args: Any) -> Settings:
    from streams.cli import _settings

    return _settings(args)
