"""A real Prometheus scrapes a real worker, loads the alert rules and runs the dashboard's queries.

The same ``prometheus`` binary as ``promtool`` (Debian's ``prometheus`` package): missing, the
test fails rather than skips. Prometheus scrapes every second so the test takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from online_learning.contract import (
    CompletedOrder,
    CustomerNeeds,
    OrderLine,
    SubstitutionRequest,
    encode_preference,
    order_payload,
    product_payload,
    request_payload,
)
from streams.embedded_broker import free_port
from tests.conftest import feedback_payload, milk, signal_payload
from tests.deploy_support import (
    ALERTS,
    PROMETHEUS,
    alert_rules,
    dashboard_queries,
    load_yaml,
    metric_names_in,
    prometheus_tool,
)

pytestmark = pytest.mark.broker

# Alerts a healthy worker must leave inactive. FillrateRankingLatencyHigh is not among them:
# a slow machine may put the first rankings over 50 ms, and timing is not asserted in tests.
QUIET_WHEN_HEALTHY = {rule["alert"] for rule in alert_rules()} - {"FillrateRankingLatencyHigh"}

MILK = [milk("p1", "Organic Whole Milk"), milk("p2", "Whole Milk")]


class Prometheus:
    """Prometheus's HTTP API, read with urllib."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(self.url + path + query, timeout=5) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query: each series' labels (without the name) -> value."""
        result = self.get("/api/v1/query", query=expr)["result"]
        return {
            tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(
                r["value"][1]
            )
            for r in result
        }

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False


@contextmanager
def running_prometheus(tmp_path: Path, job: str, target: str) -> Iterator[Prometheus]:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}],
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                prometheus_tool("prometheus"),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        prometheus = Prometheus(port, process, log)
        wait_for(prometheus.ready, "prometheus ready", timeout=20)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll ``condition`` until it returns something true; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)


async def test_prometheus_scrapes_the_worker_and_evaluates_the_alerts(
    worker_factory: Any, kafka_io: Any, tmp_path: Path
) -> None:
    worker = worker_factory()
    s = worker.settings
    io = await kafka_io(s)
    job = load_yaml(PROMETHEUS)["scrape_configs"][0]["job_name"]
    instance = f"127.0.0.1:{s.web_port}"

    with running_prometheus(tmp_path, job, instance) as prometheus:
        wait_for(
            lambda: (
                prometheus.query(f'up{{job="{job}"}}')
                == {(("instance", instance), ("job", job)): 1.0}
            ),
            "the worker's first scrape",
        )

        for p in MILK:
            await io.send(s.catalog_topic, product_payload(p), key=p.item_id)
        now = time.time()
        await io.send(s.signals_topic, signal_payload("s1", "p1", "not_found", now), key="s1")
        await io.send(
            s.feedback_topic, feedback_payload("s1", "p1", "p2", "accepted", ts=now), key="s1"
        )
        order = CompletedOrder("o1", "s1", now, (OrderLine("p1", "substituted", "p2"),))
        await io.send(s.orders_topic, order_payload(order), key="s1")
        needs = CustomerNeeds("c1", frozenset({"organic"}), now)
        await io.send(s.preferences_topic, encode_preference(needs)[1], key="c1")
        request = SubstitutionRequest("r1", "o1", "c1", "s1", "p1", now)
        await io.send(s.requests_topic, request_payload(request), key="s1")

        def events_in() -> dict[str, float]:
            by_labels = prometheus.query("fillrate_events_in_total")
            return {dict(labels)["topic"]: value for labels, value in by_labels.items()}

        # Scraped before the bad message, so the signals counter is seen moving (its rate > 0).
        wait_for(lambda: events_in().get(s.signals_topic) == 1, "the signal, scraped")
        await io.send(s.signals_topic, b"{not json", key="s1")

        expected_in = {
            s.catalog_topic: 2.0,
            s.signals_topic: 2.0,
            s.feedback_topic: 1.0,
            s.orders_topic: 1.0,
            s.preferences_topic: 1.0,
            s.requests_topic: 1.0,
        }
        try:
            wait_for(lambda: events_in() == expected_in, "every input, scraped")
        except AssertionError:
            raise AssertionError(f"Prometheus has {events_in()}, expected {expected_in}") from None
        seen_at = time.time()

        # Every message sent is processed: Prometheus sees both input topics' lag, at 0.
        def lag() -> dict[str, float]:
            by_labels = prometheus.query("fillrate_consumer_lag")
            return {dict(labels)["topic"]: value for labels, value in by_labels.items()}

        expected_lag = {s.signals_topic: 0.0, s.feedback_topic: 0.0}
        try:
            wait_for(lambda: lag() == expected_lag, "lag 0 on both input topics, scraped")
        except AssertionError:
            raise AssertionError(f"Prometheus has lag {lag()}, expected {expected_lag}") from None

        dead = prometheus.query("fillrate_dead_letters_total")
        assert {
            (dict(labels)["topic"], dict(labels)["kind"]): value for labels, value in dead.items()
        } == {(s.signals_topic, "malformed"): 1.0}
        stock_outs = prometheus.query('fillrate_rankings_out_total{trigger="stock_out"}')
        assert list(stock_outs.values()) == [1.0]
        # Gauges are set once a second: wait for the one accepted offer to show.
        wait_for(
            lambda: list(prometheus.query("fillrate_acceptance_rate").values()) == [1.0],
            "acceptance rate 1 after one accepted offer",
        )
        assert list(prometheus.query("fillrate_feedback_learned_total").values()) == [1.0]
        assert list(prometheus.query("fillrate_catalog_items").values()) == [2.0]

        # Every alert is loaded, evaluates without error, and a healthy worker trips none.
        def rules_evaluated_since_seen() -> list[dict[str, Any]] | None:
            groups = prometheus.get("/api/v1/rules", type="alert")["groups"]
            if not groups or any(_epoch(g["lastEvaluation"]) < seen_at for g in groups):
                return None
            return [rule for group in groups for rule in group["rules"]]

        rules = wait_for(rules_evaluated_since_seen, "a rule evaluation after the last scrape")
        assert {r["name"] for r in rules} == {rule["alert"] for rule in alert_rules()}
        for rule in rules:
            assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
            if rule["name"] in QUIET_WHEN_HEALTHY:
                assert rule["state"] == "inactive", f"{rule['name']} is {rule['state']}"

        # Every dashboard query runs, and every series it names is really there.
        for title, expr in dashboard_queries():
            prometheus.query(expr)
            for name in metric_names_in(expr):
                assert prometheus.query(name), f"panel {title!r}: Prometheus has no {name}"
