"""The deploy files are valid, and agree with the code they deploy.

``docker-compose.yml`` is checked against the Compose Specification's JSON Schema, and its
``FILLRATE_*`` variables, ports and topics against ``streams.settings`` and ``streams.topics``;
``deploy/prometheus/prometheus.yml`` by ``promtool`` and against the compose workers and mounts;
Grafana's provisioning against the Prometheus service and the dashboard files it must load.
(The alert rules and the dashboard's queries are checked in test_observability.py.)

Two tools come from outside the usual dev dependencies. Without them these tests fail, never
skip: a skipped check is one nobody notices has stopped running.

- ``check-jsonschema`` (PyPI) ships the Compose Specification schema as its builtin
  ``vendor.compose-spec`` and brings ``ruamel.yaml``, a YAML 1.2 parser like Compose's own.
- ``promtool`` comes with Debian's ``prometheus`` package.
"""

from __future__ import annotations

import dataclasses
import itertools
import posixpath
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from streams.cli import DEMO_EXTRA_MODULES
from streams.settings import ENV_PREFIX, Settings
from streams.topics import contract_topics
from tests.deploy_support import (
    ALERTS,
    COMPOSE,
    DASHBOARD,
    DOCKERFILE,
    GRAFANA,
    GRAFANA_DASHBOARDS,
    GRAFANA_DATASOURCES,
    PROMETHEUS,
    ROOT,
    dockerfile_instructions,
    load_yaml,
    prometheus_tool,
    require_check_jsonschema,
)

SETTINGS_VARIABLES = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}


def _validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    require_check_jsonschema()
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
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


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


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (named volumes left out)."""
    mounts: dict[str, Path] = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            if entry.get("type") != "bind":
                continue
            source, target = str(entry["source"]), str(entry["target"])
        else:
            source, target = str(entry).split(":")[:2]
            if not source.startswith((".", "/")):
                continue
        mounts[posixpath.normpath(target)] = (COMPOSE.parent / source).resolve()
    return mounts


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """What a path inside the container is on the host, through the service's bind mounts."""
    path = posixpath.normpath(container_path)
    for target, source in sorted(_bind_mounts(service).items(), key=lambda m: -len(m[0])):
        if path == target:
            return source
        if path.startswith(target + "/"):
            return source / path.removeprefix(target + "/")
    return None


def _named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> volume name of a service's named volumes."""
    found = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            if entry.get("type") == "volume":
                found[str(entry["target"])] = str(entry["source"])
        else:
            source, target = str(entry).split(":")[:2]
            if not source.startswith((".", "/")):
                found[target] = source
    return found


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

    # created as the worker creates them: compacted where its spec says so (the catalog, the
    # preferences, and the rankings table)
    expected = {
        t.name: (t.partitions, t.configs().get("cleanup.policy") == "compact")
        for t in contract_topics(Settings())
    }
    assert created == expected

    kafka_env = _environment(services["kafka"])
    assert kafka_env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


# --- The image: a normal install, the worker's without the demo extra, non-root -------------


def _dockerfile_args() -> dict[str, str]:
    """The Dockerfile's build arguments and their defaults."""
    return {
        name: default
        for kw, args in dockerfile_instructions()
        if kw == "ARG"
        for name, _, default in [shlex.split(args)[0].partition("=")]
    }


def _image_pip_install(build_args: dict[str, str]) -> list[str]:
    """The arguments of the image's ``pip install``, as /bin/sh expands them in the build with
    ``build_args`` over the Dockerfile's ARG defaults."""
    defaults = _dockerfile_args()
    (command,) = [
        args for kw, args in dockerfile_instructions() if kw == "RUN" and "pip install" in args
    ]
    _, _, arguments = command.partition("pip install")
    expanded = subprocess.run(
        ["sh", "-c", f"printf '%s\\n' {arguments}"],
        env={"PATH": "/usr/bin:/bin", **defaults, **build_args},
        capture_output=True,
        text=True,
        check=True,
    )
    return expanded.stdout.splitlines()


def _build_args(service: dict[str, Any]) -> dict[str, str] | None:
    """The build arguments of a service built from this repository's Dockerfile (None: not
    built from it)."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    if (COMPOSE.parent / build.get("context", ".")).resolve() != ROOT:
        return None
    if (ROOT / build.get("dockerfile", "Dockerfile")).resolve() != DOCKERFILE:
        return None
    args = build.get("args") or {}
    if isinstance(args, list):
        args = dict(item.split("=", 1) for item in args)
    return {key: str(value) for key, value in args.items()}


def test_the_image_is_a_regular_install_of_the_core_package() -> None:
    # `.`: the package and its core dependencies; not editable, no extra.
    assert _image_pip_install({})[-1] == "."
    assert not {"-e", "--editable"} & set(_image_pip_install({}))
    assert _image_pip_install({"EXTRAS": "demo"})[-1] == ".[demo]"


def test_the_image_runs_as_a_non_root_user_it_creates() -> None:
    instructions = dockerfile_instructions()
    users = [args for kw, args in instructions if kw == "USER"]
    assert users, "the image runs as root"
    # Numeric, so runAsNonRoot can check it without /etc/passwd; not root, nor root's group.
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, users[-1]
    assert gid == "" or (gid.isdigit() and int(gid) != 0), users[-1]
    creates = " ".join(args for kw, args in instructions if kw == "RUN")
    assert re.search(rf"useradd [^&]*--uid {uid}\b", creates), f"no user with uid {uid}"
    # Nothing runs after the switch that would need root, and the command starts after it.
    after = [kw for kw, _ in instructions[instructions.index(("USER", users[-1])) :]]
    assert "RUN" not in after and "ENTRYPOINT" in after


def test_the_image_healthcheck_asks_for_liveness() -> None:
    (check,) = [args for kw, args in dockerfile_instructions() if kw == "HEALTHCHECK"]
    assert "/live'" in check and "/health" not in check and "/ready" not in check


def test_only_the_services_that_run_the_example_world_get_the_demo_extra(
    services: dict[str, dict[str, Any]],
) -> None:
    built = {name: _build_args(svc) for name, svc in services.items()}
    built = {name: args for name, args in built.items() if args is not None}
    assert built, "no service is built from the Dockerfile"
    declared = set(_dockerfile_args())
    for name, args in built.items():
        assert set(args) <= declared, f"{name} passes {sorted(set(args) - declared)}"
        command = services[name].get("command", ["worker"])
        installs = _image_pip_install(args)[-1]
        if command[0] in DEMO_EXTRA_MODULES:
            assert installs == ".[demo]", f"{name} runs `{command[0]}` without the demo extra"
        else:
            assert installs == ".", f"{name} ({command[0]}) gets {installs}, not the core install"


# --- Prometheus ---------------------------------------------------------------------------------

PROMETHEUS_CONFIG_IN_CONTAINER = "/etc/prometheus/prometheus.yml"


def test_prometheus_scrapes_every_worker(
    services: dict[str, dict[str, Any]], workers: dict[str, dict[str, Any]]
) -> None:
    mounted = _host_path(services["prometheus"], PROMETHEUS_CONFIG_IN_CONTAINER)
    assert mounted == PROMETHEUS, f"prometheus does not mount {PROMETHEUS.relative_to(ROOT)}"

    config = load_yaml(PROMETHEUS)
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


def test_prometheus_loads_the_alert_rules_in_the_container_too(
    services: dict[str, dict[str, Any]],
) -> None:
    # Prometheus resolves rule_files against its config file's directory: in the repository
    # (where promtool checks them) and in the container they must name the same file.
    rule_files = load_yaml(PROMETHEUS).get("rule_files", [])
    here = {(PROMETHEUS.parent / name).resolve() for name in rule_files}
    assert here == {ALERTS}, f"prometheus.yml loads {sorted(map(str, here))}"
    config_dir = posixpath.dirname(PROMETHEUS_CONFIG_IN_CONTAINER)
    in_container = {
        _host_path(services["prometheus"], posixpath.join(config_dir, name)) for name in rule_files
    }
    assert in_container == {ALERTS}, "docker-compose.yml does not mount the rule files"


def test_prometheus_keeps_its_history_in_a_volume(compose: dict[str, Any]) -> None:
    volumes = _named_volumes(compose["services"]["prometheus"])
    # /prometheus is the storage path the prom/prometheus image starts with.
    assert "/prometheus" in volumes
    assert volumes["/prometheus"] in (compose.get("volumes") or {})


def test_promtool_accepts_the_prometheus_config_and_its_rules() -> None:
    result = subprocess.run(
        [prometheus_tool("promtool"), "check", "config", str(PROMETHEUS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Checking {PROMETHEUS.parent / 'alerts.yml'}" in output, output
    assert re.search(r"SUCCESS: [1-9]\d* rules found", output), output


# --- Grafana ------------------------------------------------------------------------------------

GRAFANA_PROVISIONING_IN_CONTAINER = "/etc/grafana/provisioning"


def test_grafana_reads_the_provisioning_files(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    provisioning = _host_path(grafana, GRAFANA_PROVISIONING_IN_CONTAINER)
    assert provisioning == GRAFANA / "provisioning"
    assert GRAFANA_DATASOURCES.parent.name == "datasources"
    assert GRAFANA_DASHBOARDS.parent.name == "dashboards"
    assert 3000 in _container_ports(grafana)


def test_grafana_datasource_is_the_compose_prometheus(
    services: dict[str, dict[str, Any]],
) -> None:
    datasources = load_yaml(GRAFANA_DATASOURCES)["datasources"]
    prometheus = [d for d in datasources if d["type"] == "prometheus"]
    assert [d["uid"] for d in prometheus] == ["fillrate-prometheus"]
    url = urlsplit(prometheus[0]["url"])
    assert url.hostname in services, f"{url.hostname} is not a compose service"
    assert str(services[url.hostname]["image"]).startswith("prom/prometheus:")
    # 9090 is where the prom/prometheus image listens; it must be the port compose exposes.
    assert url.port == 9090
    assert 9090 in _container_ports(services[url.hostname])
    # Grafana's $__rate_interval is four of these: it must be the real scrape interval.
    scrape_interval = load_yaml(PROMETHEUS)["global"]["scrape_interval"]
    assert prometheus[0]["jsonData"]["timeInterval"] == scrape_interval


def test_grafana_loads_the_fillrate_dashboard(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    providers = load_yaml(GRAFANA_DASHBOARDS)["providers"]
    folders = {_host_path(grafana, p["options"]["path"]) for p in providers if p["type"] == "file"}
    assert folders == {DASHBOARD.parent}, f"providers load {folders}, not {DASHBOARD.parent}"
    home = _environment(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home is not None:
        assert _host_path(grafana, home) == DASHBOARD
