"""The README's main command, end to end: `fillrate demo` on the embedded broker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_shows_progress_and_compares_the_worker_with_the_prior() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--duration", "12"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "catalog 49,688 real Instacart items published" in out
    assert "customers 'picky' population: " in out  # who the simulated customers are is said
    progress = re.findall(r"\[\s*\d+s\]\s+signals\s+([\d,]+)\s+feedback\s+([\d,]+)", out)
    assert progress, out[-3000:]
    signals, feedback = (int(x.replace(",", "")) for x in progress[-1])
    assert signals > 0 and feedback > 0, progress[-1]
    assert "dead letters 0" in out  # the simulator's events are all valid
    rows = re.findall(r"(first|middle|last) third\s+([\d.]+)% of [\d,]+\s+of ([\d,]+)", out)
    assert [r[0] for r in rows] == ["first", "middle", "last"], out[-2000:]
    assert all(int(r[2].replace(",", "")) > 0 for r in rows)  # the prior comparison ran
    # the simulator's orders, counted by the worker from orders.completed: the same fill rate
    sim_fill = re.search(
        r"perfect-order fill rate\s+([\d.]+)% of ([\d,]+) orders \(simulator\)", out
    )
    worker_fill = re.search(r"([\d.]+)% of ([\d,]+) orders \(worker's /metrics\)", out)
    assert sim_fill and worker_fill, out[-2000:]
    assert int(sim_fill[2].replace(",", "")) > 0
    assert worker_fill.groups() == sim_fill.groups()
    assert "fillrate demo: stopped" in out
