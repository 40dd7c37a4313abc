"""The alert rules and the Grafana dashboard watch what the worker really exports.

Metric names are taken from the worker's own exposition (``WorkerMetrics``), so a renamed or
misspelled metric fails here rather than as an alert that can never fire or an empty panel. The
rules are checked and unit-tested by ``promtool``; the dashboard's queries are parsed by it too.
A real Prometheus scraping a real worker: tests/streams/test_prometheus.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from streams.cli import version
from streams.metrics import WorkerMetrics
from tests.deploy_support import (
    ALERTS,
    ALERTS_TEST,
    DASHBOARD,
    DATASOURCE_VARIABLE,
    GRAFANA_DATASOURCES,
    GRAFANA_VARIABLES,
    JOB_MATCHER,
    OPERATIONS,
    PROMETHEUS,
    alert_rules,
    dashboard,
    dashboard_panels,
    dashboard_queries,
    exported_metric_names,
    load_yaml,
    metric_names_in,
    prometheus_tool,
    unknown_metrics,
)

SEVERITIES = {"critical", "warning", "info"}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [prometheus_tool("promtool"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _datasource_uid() -> str:
    (uid,) = [d["uid"] for d in load_yaml(GRAFANA_DATASOURCES)["datasources"]]
    return str(uid)


# --- The alert rules -----------------------------------------------------------------------------


def test_promtool_accepts_the_alert_rules() -> None:
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_unit_tests_pass() -> None:
    result = _promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    cases: dict[str, set[bool]] = defaultdict(set)
    for test in load_yaml(ALERTS_TEST)["tests"]:
        for case in test.get("alert_rule_test", []):
            cases[case["alertname"]].add(bool(case.get("exp_alerts")))
    for rule in alert_rules():
        assert cases[rule["alert"]] == {True, False}, (
            f"{rule['alert']}: alerts_test.yml needs a case where it fires and one where it "
            "does not"
        )


def test_every_alert_says_how_bad_what_and_where_the_runbook_is() -> None:
    headings = re.findall(r"^#+\s+(.+?)\s*$", OPERATIONS.read_text("utf-8"), re.MULTILINE)
    # GitHub's anchors: lower case, punctuation dropped, spaces to dashes.
    anchors = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), f"alert names repeat: {names}"
    for rule in alert_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        path, _, anchor = annotations["runbook"].partition("#")
        assert path == "docs/operations.md", rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in {OPERATIONS.name}"


def test_alerts_use_only_metrics_the_worker_exports() -> None:
    for rule in alert_rules():
        assert metric_names_in(rule["expr"]), f"{rule['alert']} selects no metric"
        assert not unknown_metrics(rule["expr"]), f"{rule['alert']}: {rule['expr']}"


def test_alerts_select_the_scrape_job_of_prometheus_yml() -> None:
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS)["scrape_configs"]}
    for rule in alert_rules():
        for job in re.findall(r'\bjob\s*=\s*"([^"]*)"', rule["expr"]):
            assert job in jobs, f"{rule['alert']} selects job {job!r}; jobs: {sorted(jobs)}"


def test_the_metric_name_check_catches_a_misspelling() -> None:
    # Guards the two tests above and the dashboard's against passing vacuously.
    assert "fillrate_events_in_total" in exported_metric_names()
    assert unknown_metrics("sum(rate(fillrate_events_in_total[5m]))") == set()
    assert unknown_metrics("rate(fillrate_event_in_total[5m])") == {"fillrate_event_in_total"}
    assert unknown_metrics('upp{job="fillrate"} == 0') == {"upp"}
    assert unknown_metrics("fillrate_event_to_ranking_latency_seconds") == {
        "fillrate_event_to_ranking_latency_seconds"  # a histogram is only its series
    }


# --- The dashboard -------------------------------------------------------------------------------


def test_dashboard_is_json_with_unique_panel_ids() -> None:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text("utf-8"))
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"


def _variables() -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard()["templating"]["list"]}


def test_the_data_source_is_a_variable_that_opens_on_the_provisioned_prometheus() -> None:
    # Imported into another Grafana, the dashboard asks for (or defaults to) a Prometheus
    # there; provisioned by compose, it opens on the compose Prometheus.
    variable = _variables()["datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    assert variable["current"]["value"] == _datasource_uid()
    assert "${" + variable["name"] + "}" == DATASOURCE_VARIABLE


def test_the_job_variable_lists_the_jobs_that_scrape_workers() -> None:
    variable = _variables()["job"]
    assert variable["type"] == "query"
    assert variable["datasource"] == {"type": "prometheus", "uid": DATASOURCE_VARIABLE}
    match = re.fullmatch(r"label_values\((\w+),\s*job\)", variable["query"]["query"])
    assert match, variable["query"]
    assert match[1] in exported_metric_names() and match[1].startswith("fillrate_")
    # "All" must mean the jobs that list offers, never every job of that Prometheus (".*"
    # would show, say, node exporters on "Workers up").
    assert variable["includeAll"] and not variable.get("allValue")
    # What the checks put in for $job is the compose stack's job.
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS)["scrape_configs"]}
    assert GRAFANA_VARIABLES["$job"] in jobs


def test_every_panel_and_query_uses_the_data_source_variable() -> None:
    for panel in dashboard_panels():
        title = panel["title"]
        assert panel.get("datasource") == {"type": "prometheus", "uid": DATASOURCE_VARIABLE}, (
            f"{title}: datasource"
        )
        targets = panel.get("targets", [])
        assert targets, f"{title} has no query"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), f"{title}: refIds repeat"
        for target in targets:
            assert target.get("expr"), f"{title} {target['refId']}: empty query"
            assert target.get("datasource", {}).get("uid") == DATASOURCE_VARIABLE, title


def _unscoped_selectors(expr: str) -> set[str]:
    """Metric names ``expr`` selects, at least once, without the ``job=~"$job"`` matcher.

    >>> expr = 'rate(fillrate_a{job=~"$job"}[1m]) / process_b + up{x="y"} + fillrate_a'
    >>> sorted(_unscoped_selectors(expr))
    ['fillrate_a', 'process_b', 'up']
    >>> _unscoped_selectors('fillrate_a{topic="t", job=~"$job"} / process_b{job=~"$job"}')
    set()
    """
    unscoped = set()
    for name in metric_names_in(expr):
        for selector in re.finditer(rf"\b{name}\b(\{{[^}}]*\}})?", expr):
            if JOB_MATCHER not in (selector[1] or ""):
                unscoped.add(name)
    return unscoped


def test_every_query_selects_only_the_chosen_jobs() -> None:
    for panel in dashboard_panels():
        for target in panel["targets"]:
            unscoped = _unscoped_selectors(target["expr"])
            assert not unscoped, f"{panel['title']}: {sorted(unscoped)} without {JOB_MATCHER}"


def test_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    # Grafana pushes an overlapping panel down instead of failing: the layout would silently
    # differ from the file.
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard_panels():
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["h"] > 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']} is wider than the 24-column grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                other = cells.setdefault((x, y), panel["title"])
                assert other == panel["title"], f"{panel['title']} overlaps {other}"


def test_dashboard_uses_only_metrics_the_worker_exports() -> None:
    for title, expr in dashboard_queries():
        assert metric_names_in(expr), f"{title}: {expr} selects no metric"
        assert not unknown_metrics(expr), f"panel {title!r}: {expr}"


def test_dashboard_shows_every_metric_the_worker_exports() -> None:
    # Every fillrate_ metric; of the standard process_ and python_ ones, those panels use.
    shown = set().union(*(metric_names_in(expr) for _, expr in dashboard_queries()))
    families = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for name in exported_metric_names()
        if name.startswith("fillrate_")
    }
    shown_families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in shown}
    assert families <= shown_families, f"no panel shows {sorted(families - shown_families)}"


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    # promtool has no "check this expression": each query becomes a recording rule to check.
    queries = dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(json.dumps(rules), encoding="utf-8")  # JSON is YAML
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def _threshold(rule: dict[str, Any]) -> float:
    (value,) = re.findall(r"\)\s*>\s*([0-9.]+)\s*$", rule["expr"].strip())
    return float(value)


@pytest.mark.parametrize(
    ("title", "alert"),
    [
        ("Event-to-ranking latency", "FillrateRankingLatencyHigh"),
        ("Dead letters, by topic and kind", "FillrateDeadLetters"),
    ],
)
def test_a_panels_red_line_is_its_alerts_threshold(title: str, alert: str) -> None:
    (panel,) = [p for p in dashboard_panels() if p["title"] == title]
    (rule,) = [r for r in alert_rules() if r["alert"] == alert]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps if s["color"] == "red"] == [_threshold(rule)]


def test_the_worker_exports_its_version_and_process_metrics() -> None:
    text = WorkerMetrics().exposition().decode()
    assert f'fillrate_build_info{{version="{version()}"}} 1.0' in text.splitlines()
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "python_info",
        "python_gc_collections_total",
    ):
        assert name in exported_metric_names(), name


@pytest.mark.parametrize(
    "title",
    [
        "Events in, by topic",
        "Consumer lag, by topic",
        "Rankings out, by trigger",
        "Dead letters, by topic and kind",
        "Event-to-ranking latency",
        "Acceptance rate, per worker",
        "Log loss: model vs content prior",
        "ROC AUC, interactions counted",
        "Availability entries",
        "Live rankings",
        "Catalog items",
        "Workers up",
        "Workers ready",
        "Versions running",
        "CPU, each worker",
        "Resident memory, each worker",
        "Python garbage collections, each worker",
    ],
)
def test_dashboard_has_the_panels_operators_look_for(title: str) -> None:
    # docs/operations.md explains each of these by name.
    assert title in {panel["title"] for panel in dashboard_panels()}
    assert f"**{title}**" in OPERATIONS.read_text("utf-8"), f"{title} is not in the runbook"
