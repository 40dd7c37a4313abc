"""The PromQL that docs/operations.md gives for the business numbers parses and selects only
metrics the worker exports: an operator pastes it as it is."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.deploy_support import OPERATIONS, metric_names_in, prometheus_tool, unknown_metrics


def documented_queries() -> list[str]:
    """Each expression of the ```promql blocks: lines up to a blank line or a comment."""
    queries: list[str] = []
    for block in re.findall(r"```promql\n(.*?)```", OPERATIONS.read_text("utf-8"), re.DOTALL):
        current: list[str] = []
        for line in [*block.splitlines(), ""]:
            if line.strip() and not line.lstrip().startswith("#"):
                current.append(line.strip())
            elif current:
                queries.append(" ".join(current))
                current = []
    return queries


def test_the_documented_business_queries_use_what_the_worker_exports(tmp_path: Path) -> None:
    queries = documented_queries()
    assert len(queries) >= 5  # acceptance, refunds, refunds of kept ones, counts, empty ones
    for query in queries:
        assert metric_names_in(query), query
        assert not unknown_metrics(query), query
    rules = {
        "groups": [
            {
                "name": "docs",
                "rules": [{"record": f"docs:query_{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "documented_queries.yml"
    path.write_text(json.dumps(rules), encoding="utf-8")  # JSON is YAML
    result = subprocess.run(
        [prometheus_tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
