"""Event-loop stalls from Python's cyclic GC, with and without ``gc.freeze()`` after start-up.

A worker holds half a million long-lived objects (the 49,688-item catalog, its features, the
model) before it processes its first event. A full (generation 2) collection walks all of them
every time one is triggered, which stalls the event loop: every stock-out waiting behind it is
late. The worker freezes what it loaded once it is ready (``streams/worker/worker.py``), which
takes those objects out of every later collection.

This runs the engine alone (no Kafka, no Faust, so the pauses are not hidden in other noise)
in two fresh processes, one per mode, on the same stream: the catalog loaded and warmed as a
worker does, then ``--events`` events of the realistic mix. It prints each generation's
collection count and longest pause, and the slowest events.

    .venv/bin/python benchmarks/bench_gc_pauses.py               # 60,000 events
    .venv/bin/python benchmarks/bench_gc_pauses.py --quick       # CI smoke: 3,000 events
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from workload import make_events

from online_learning.contract import InventorySignal
from streams.settings import Settings
from streams.worker import build_engine

HERE = Path(__file__).resolve().parent


def run_one(n_events: int, freeze: bool) -> dict[str, Any]:
    """One mode, in this process: load like a worker, optionally freeze, replay, time."""
    engine = build_engine(Settings())
    sim, events = make_events(n_events, seed=1)
    for product in sim.catalog_events():
        engine.apply_catalog(product)
    engine.features.warm()
    if freeze:
        gc.collect()
        gc.freeze()
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)
    per_event: list[float] = []
    begin = time.perf_counter()
    for event in events:
        t = time.perf_counter()
        if isinstance(event, InventorySignal):
            engine.on_signal(event)
        else:
            engine.on_feedback(event)
        per_event.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - begin
    gc.callbacks.remove(on_gc)
    per_event.sort()
    return {
        "freeze": freeze,
        "tracked_objects": len(gc.get_objects()),
        "events_per_s": len(events) / elapsed,
        "collections": {g: len(p) for g, p in pauses.items()},
        "max_pause_ms": {g: 1000 * max(p, default=0.0) for g, p in pauses.items()},
        "total_pause_ms": {g: 1000 * sum(p) for g, p in pauses.items()},
        "event_p50_us": 1e6 * statistics.median(per_event),
        "event_p999_ms": 1000 * per_event[int(0.999 * (len(per_event) - 1))],
        "event_max_ms": 1000 * per_event[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--quick", action="store_true", help="3,000 events")
    parser.add_argument("--child", choices=("freeze", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = 3_000 if args.quick else args.events
    if args.child:
        print(json.dumps(run_one(n, args.child == "freeze")))
        return
    results = {}
    for mode in ("plain", "freeze"):  # the baseline first, each in a fresh process
        print(f"running {mode} ({n:,} events) ...", flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--events", str(n), "--child", mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE,
        )
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    plain, frozen = results["plain"], results["freeze"]
    print()
    print(f"{'':28} {'no freeze':>12} {'gc.freeze()':>12} {'ratio':>8}")
    rows = [
        ("objects the GC walks, end", "tracked_objects", "{:,.0f}"),
        ("events/s", "events_per_s", "{:,.0f}"),
        ("event p50, us", "event_p50_us", "{:.1f}"),
        ("event p99.9, ms", "event_p999_ms", "{:.2f}"),
        ("slowest event, ms", "event_max_ms", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        a, b = plain[key], frozen[key]
        ratio = f"{b / a:.2f}" if a else "-"
        print(f"{label:28} {fmt.format(a):>12} {fmt.format(b):>12} {ratio:>8}")
    for g in ("0", "1", "2"):
        for label, key, fmt in (
            (f"gen {g} collections", "collections", "{:.0f}"),
            (f"gen {g} longest pause, ms", "max_pause_ms", "{:.1f}"),
        ):
            a, b = plain[key][g], frozen[key][g]
            print(f"{label:28} {fmt.format(a):>12} {fmt.format(b):>12}")


if __name__ == "__main__":
    main()
