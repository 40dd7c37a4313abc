"""Each benchmark runs end to end in a short version: correctness only, no timing asserts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str, timeout: float = 240) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_scoring_benchmark_prints_each_pool_size_and_learning_cost() -> None:
    out = run("bench_scoring.py", "--quick")
    for size in (50, 500, 2000):
        assert re.search(rf"^\s*{size}\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+x$", out, re.M), out
    assert re.search(r"learning: \d+ us per feedback event", out), out


def test_engine_benchmark_replays_the_mix_and_emits_rankings() -> None:
    out = run("bench_engine.py", "--events", "3000")
    assert "3,000 events in" in out, out
    assert "'stock_out':" in out, out


@pytest.mark.broker
def test_throughput_benchmark_measures_all_three_consumers() -> None:
    out = run("bench_throughput.py", "--quick")
    for name in ("fillrate worker", "plain Faust agent", "plain aiokafka loop"):
        assert re.search(rf"^{name}\s+[\d,]+\s+[\d.]+\s+[\d.]+$", out, re.M), out
