"""The deploy files are valid, and agree with the code they deploy.

``docker-compose.yml`` is checked against the Compose Specification's JSON Schema, and its
``FILLRATE_*`` variables, ports and topics against ``streams.settings`` and ``streams.topics``;
``deploy/prometheus/prometheus.yml`` by ``promtool`` and against the compose workers.

Two tools come from outside the usual dev dependencies. Without them these tests fail, never
skip: a skipped check is one nobody notices has stopped running.

- ``check-jsonschema`` (PyPI) ships the Compose Specification schema as its builtin
  ``vendor.compose-spec`` and brings ``ruamel.yaml``, a YAML 1.2 parser like Compose's own.
- ``promtool`` comes with Debian's ``prometheus`` package.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.settings import ENV_PREFIX, Settings
from streams.topics import contract_topics

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"

INSTALL_CHECK_JSONSCHEMA = "pip install check-jsonschema==0.36.0"
INSTALL_PROMTOOL = "apt-get install -y --no-install-recommends prometheus"

SETTINGS_VARIABLES = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}


def _require_check_jsonschema() -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail(
            "check-jsonschema is not installed; it carries the Compose Specification schema "
            f"and the YAML parser these tests use: {INSTALL_CHECK_JSONSCHEMA}",
            pytrace=False,
        )


def _load_yaml(path: Path) -> Any:
    _require_check_jsonschema()
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def _validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    _require_check_jsonschema()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = _load_yaml(COMPOSE)
    return compose["services"]


@pytest.fixture(scope="module")
def workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {name: svc for name, svc in services.items() if svc.get("command") == ["worker"]}
    assert found, "docker-compose.yml runs no `fillrate worker` service"
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as the container sees it: strings, from either Compose form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _container_ports(service: dict[str, Any]) -> list[int]:
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append(int(entry["target"]))
        else:
            ports.append(int(str(entry).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def _host_ports(service: dict[str, Any]) -> list[str]:
    return [
        str(entry["published"]) if isinstance(entry, dict) else str(entry).rsplit(":", 1)[0]
        for entry in service.get("ports", [])
    ]


# --- Compose is valid Compose ------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    result = _validate_compose(COMPOSE)
    assert result.returncode == 0, f"{COMPOSE.name} breaks the Compose Specification:\n" + (
        result.stdout + result.stderr
    )


def test_schema_check_catches_a_misspelled_service_key(tmp_path: Path) -> None:
    # Guards the check above against passing vacuously (wrong schema, nothing validated).
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE.read_text(encoding="utf-8").replace("restart:", "restrat:", 1), encoding="utf-8"
    )
    result = _validate_compose(broken)
    assert result.returncode != 0
    assert "restrat" in result.stdout + result.stderr


# --- Compose agrees with streams/settings.py and streams/topics.py -----------------------------


def test_every_fillrate_variable_is_a_setting(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        env = _environment(service)
        unknown = {key for key in env if key.startswith(ENV_PREFIX)} - SETTINGS_VARIABLES
        assert not unknown, f"service {name} sets {sorted(unknown)}, which no Settings field reads"
        # The values must load too, as the container would load them.
        Settings.load(environ=env)

    in_dockerfile = set(re.findall(r"\bFILLRATE_[A-Z0-9_]+", DOCKERFILE.read_text("utf-8")))
    assert in_dockerfile <= SETTINGS_VARIABLES, sorted(in_dockerfile - SETTINGS_VARIABLES)


def test_clients_reach_kafka_at_its_advertised_listener(
    services: dict[str, dict[str, Any]],
) -> None:
    advertised = _environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    advertised_hosts = {url.split("://", 1)[1] for url in advertised.split(",")}
    clients = {
        name: _environment(svc)[ENV_PREFIX + "BROKER"]
        for name, svc in services.items()
        if ENV_PREFIX + "BROKER" in _environment(svc)
    }
    assert clients, "no service sets FILLRATE_BROKER"
    for name, broker in clients.items():
        hosts = set(Settings.load(environ={"FILLRATE_BROKER": broker}).bootstrap_servers.split(","))
        assert hosts <= advertised_hosts, f"{name} dials {hosts}, Kafka advertises {advertised}"


def test_workers_publish_their_web_port(workers: dict[str, dict[str, Any]]) -> None:
    host_ports: list[str] = []
    for name, service in workers.items():
        settings = Settings.load(environ=_environment(service))
        assert settings.web_host == "0.0.0.0", f"{name}: /health is unreachable from outside"
        ports = _container_ports(service)
        assert ports, f"{name} publishes no port"
        assert set(ports) == {settings.web_port}, (
            f"{name} publishes container ports {ports} but serves on {settings.web_port}"
        )
        host_ports += _host_ports(service)
    assert len(host_ports) == len(set(host_ports)), f"workers share a host port: {host_ports}"
    assert f"EXPOSE {Settings().web_port}" in DOCKERFILE.read_text("utf-8")


def test_workers_wait_for_the_topics(workers: dict[str, dict[str, Any]]) -> None:
    for name, service in workers.items():
        condition = service.get("depends_on", {}).get("kafka-init", {}).get("condition")
        assert condition == "service_completed_successfully", (
            f"{name} may start before kafka-init has created the topics"
        )


def test_kafka_init_creates_the_contract_topics(services: dict[str, dict[str, Any]]) -> None:
    command = services["kafka-init"]["command"]
    script = "\n".join(command) if isinstance(command, list) else command
    created: dict[str, tuple[int, bool]] = {}
    for line in script.splitlines():
        argv = shlex.split(line)
        if "--create" not in argv:
            continue
        assert "--if-not-exists" in argv, f"re-running the stack would fail on: {line.strip()}"
        args: dict[str, list[str]] = {}
        for flag, value in itertools.pairwise(argv):
            if flag.startswith("--"):
                args.setdefault(flag, []).append(value)
        assert args["--replication-factor"] == [str(Settings().replication)], line
        compacted = "cleanup.policy=compact" in args.get("--config", [])
        created[args["--topic"][0]] = (int(args["--partitions"][0]), compacted)

    expected = {t.name: (t.partitions, t.compacted) for t in contract_topics(Settings())}
    assert created == expected

    kafka_env = _environment(services["kafka"])
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


# --- Prometheus ---------------------------------------------------------------------------------


def test_prometheus_scrapes_every_worker(
    services: dict[str, dict[str, Any]], workers: dict[str, dict[str, Any]]
) -> None:
    mounts = [str(v).split(":") for v in services["prometheus"].get("volumes", [])]
    sources = {
        (ROOT / m[0]).resolve() for m in mounts if m[1:2] == ["/etc/prometheus/prometheus.yml"]
    }
    assert sources == {PROMETHEUS}, f"prometheus does not mount {PROMETHEUS.relative_to(ROOT)}"

    config = _load_yaml(PROMETHEUS)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "fillrate" in jobs
    job = jobs["fillrate"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    expected = {
        f"{name}:{Settings.load(environ=_environment(svc)).web_port}"
        for name, svc in workers.items()
    }
    assert targets == expected


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is not on PATH; install it (Debian): " + INSTALL_PROMTOOL, pytrace=False
        )
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
