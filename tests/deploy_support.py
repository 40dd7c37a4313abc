"""What the deploy and observability tests share: the files, their parsers and the tools.

The deploy files are read as the tools that use them read them; the metric names they may use
come from the worker's own exposition (``streams.metrics.WorkerMetrics``), not from a list kept
by hand.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.metrics import WorkerMetrics

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
GRAFANA = ROOT / "deploy" / "grafana"
GRAFANA_DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_DASHBOARDS = GRAFANA / "provisioning" / "dashboards" / "fillrate.yml"
DASHBOARD = GRAFANA / "dashboards" / "fillrate.json"
OPERATIONS = ROOT / "docs" / "operations.md"

INSTALL_CHECK_JSONSCHEMA = "pip install check-jsonschema==0.36.0"
INSTALL_PROMETHEUS = "apt-get install -y --no-install-recommends prometheus"

# Series Prometheus itself attaches to every scrape target.
PROMETHEUS_BUILTINS = frozenset({"up"})

# The dashboard's template variables: the data source every panel and query uses, and the
# scrape jobs every PromQL selector is limited to (``job=~"$job"``).
DATASOURCE_VARIABLE = "${datasource}"
JOB_MATCHER = 'job=~"$job"'

# Grafana's interval variables and the dashboard's $job, and what stands in for them when a
# query is run elsewhere ($job: the scrape job of deploy/prometheus/prometheus.yml).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$job": "fillrate",
}


def require_check_jsonschema() -> None:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail(
            "check-jsonschema is not installed; it carries the Compose Specification schema "
            f"and the YAML parser these tests use: {INSTALL_CHECK_JSONSCHEMA}",
            pytrace=False,
        )


def dockerfile_instructions(text: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments left out.

    >>> dockerfile_instructions("# c\\nFROM x\\nRUN a \\\\\\n    && b\\n")
    [('FROM', 'x'), ('RUN', 'a && b')]
    """
    text = DOCKERFILE.read_text(encoding="utf-8") if text is None else text
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].strip() + " "
            continue
        whole = (pending + line.strip()).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def load_yaml(path: Path) -> Any:
    require_check_jsonschema()
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def prometheus_tool(name: str) -> str:
    """Path of ``promtool`` or ``prometheus``; missing fails the test (a skip goes unnoticed)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH; install it (Debian): {INSTALL_PROMETHEUS}", pytrace=False
        )
    return path


@cache
def exported_metric_names() -> frozenset[str]:
    """Every series name a worker can expose, from its exposition (without ``_created``).

    >>> "fillrate_event_to_ranking_latency_seconds_bucket" in exported_metric_names()
    True
    """
    text = WorkerMetrics().exposition().decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return frozenset(names)


# fillrate's own metrics and prometheus_client's standard process and Python ones.
_FILLRATE_NAME = re.compile(r"\b(?:fillrate|process|python)_[A-Za-z0-9_:]*")
# A crude PromQL reading: an identifier followed by a label matcher is a metric selector.
_SELECTOR = re.compile(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")


def metric_names_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (by regex: fillrate_*, process_*, python_*
    and ``name{...}``).

    >>> sorted(metric_names_in('sum by (le) (rate(fillrate_x_bucket[5m])) and up{job="a"}'))
    ['fillrate_x_bucket', 'up']
    """
    return set(_FILLRATE_NAME.findall(expr)) | set(_SELECTOR.findall(expr))


def unknown_metrics(expr: str) -> set[str]:
    """Names in ``expr`` that neither a worker nor Prometheus exports."""
    return metric_names_in(expr) - exported_metric_names() - PROMETHEUS_BUILTINS


def alert_rules() -> list[dict[str, Any]]:
    rules = [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]
    return [rule for rule in rules if "alert" in rule]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    panels: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return [p for p in panels if p.get("type") != "row"]


def as_promql(grafana_expr: str) -> str:
    """A panel's query with Grafana's variables replaced, as Prometheus would run it.

    >>> as_promql('rate(x{job=~"$job"}[$__rate_interval])')
    'rate(x{job=~"fillrate"}[1m])'
    """
    for variable, value in GRAFANA_VARIABLES.items():
        grafana_expr = grafana_expr.replace(variable, value)
    return grafana_expr


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query on the dashboard."""
    return [
        (panel["title"], as_promql(target["expr"]))
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]
