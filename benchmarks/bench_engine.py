"""The learning core alone, without Kafka or Faust: how fast can one engine take the stream?

Replays the same realistic mix as bench_throughput.py (about 90% signals, 10% feedback, over
the real Instacart catalog) straight into SubstitutionEngine, with a model_update refresh every
two seconds as the worker does, and prints events/s and what was emitted.

    .venv/bin/python benchmarks/bench_engine.py [--events N]
"""

from __future__ import annotations

import argparse
import collections
import time

from workload import make_events

from online_learning.catalog import load_order_popularity
from online_learning.engine import SubstitutionEngine
from online_learning.events import Feedback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    sim, events = make_events(args.events)
    engine = SubstitutionEngine(products=sim.catalog_events(), popularity=load_order_popularity())
    engine.features.warm()
    emitted: collections.Counter[str] = collections.Counter()
    start = last_refresh = time.perf_counter()
    for event in events:
        if isinstance(event, Feedback):
            engine.on_feedback(event)
        else:
            emitted.update(r.trigger for r in engine.on_signal(event))
        now = time.perf_counter()
        if now - last_refresh >= 2.0:
            emitted.update(r.trigger for r in engine.refresh())
            last_refresh = now
    elapsed = time.perf_counter() - start
    print(f"{len(events):,} events in {elapsed:.1f}s: {len(events) / elapsed:,.0f} events/s")
    print(
        f"rankings emitted: {dict(emitted)}; live rankings at the end: {engine.live_rankings():,}"
    )


if __name__ == "__main__":
    main()
