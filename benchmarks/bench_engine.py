"""The learning core alone, without Kafka or Faust: how fast can one engine take the stream?

Replays the same realistic mix as bench_throughput.py (about 90% signals, 10% feedback, over
the real Instacart catalog) straight into SubstitutionEngine and prints events/s and what was
emitted, overall and per chunk of the stream: the per-chunk rate is the "does it slow down as
state grows" curve (live rankings, availability entries and feedback history all grow).

A worker runs a model-update refresh every 2 s of wall time, so how much refresh work falls on
each event depends on the load. Here the refresh is driven by the stream instead, every
``--refresh-every`` events, which makes runs comparable: the default, 1,750 events, is 2 s at
875 events/s, the 25% load of bench_latency.py.

    .venv/bin/python benchmarks/bench_engine.py                 # 300,000 events, 20,000 a chunk
    .venv/bin/python benchmarks/bench_engine.py --quick         # 6,000 events, 2,000 a chunk
    .venv/bin/python benchmarks/bench_engine.py --events N --chunk M --refresh-every K
"""

from __future__ import annotations

import argparse
import collections
import time

from workload import make_events

from online_learning.contract import Feedback
from online_learning.engine import SubstitutionEngine
from online_learning.offline.instacart import load_order_popularity

TRIGGERS = ("stock_out", "candidate_stock_out", "model_update")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--chunk", type=int, default=20_000, help="events per printed chunk")
    parser.add_argument(
        "--refresh-every", type=int, default=1_750, help="events between two refresh calls"
    )
    parser.add_argument("--quick", action="store_true", help="6,000 events in chunks of 2,000")
    args = parser.parse_args()
    if args.quick:
        args.events, args.chunk = 6_000, 2_000
    sim, events = make_events(args.events)
    engine = SubstitutionEngine(products=sim.catalog_events(), popularity=load_order_popularity())
    engine.features.warm()
    emitted: collections.Counter[str] = collections.Counter()
    chunk: collections.Counter[str] = collections.Counter()
    print(
        f"{'events':>9}{'events/s':>10}{'stock_out':>11}{'cand_out':>10}{'model_upd':>11}"
        f"{'refreshes':>11}{'live':>8}{'availability':>14}"
    )
    refreshes = 0
    start = chunk_start = time.perf_counter()
    for i, event in enumerate(events, 1):
        if isinstance(event, Feedback):
            engine.on_feedback(event)
        else:
            chunk.update(r.trigger for r in engine.on_signal(event))
        if i % args.refresh_every == 0:
            chunk.update(r.trigger for r in engine.refresh())
            refreshes += 1
        if i % args.chunk == 0 or i == len(events):
            now = time.perf_counter()
            size = (i - 1) % args.chunk + 1
            print(
                f"{i:>9,}{size / (now - chunk_start):>10,.0f}"
                + "".join(f"{chunk[t]:>{w},}" for t, w in zip(TRIGGERS, (11, 10, 11), strict=True))
                + f"{refreshes:>11,}{engine.live_rankings():>8,}{len(engine.availability):>14,}",
                flush=True,
            )
            emitted.update(chunk)
            chunk.clear()
            refreshes = 0
            chunk_start = time.perf_counter()
    elapsed = time.perf_counter() - start
    print(f"{len(events):,} events in {elapsed:.1f}s: {len(events) / elapsed:,.0f} events/s")
    print(
        f"rankings emitted: {dict(emitted)}; live rankings at the end: {engine.live_rankings():,}"
    )


if __name__ == "__main__":
    main()
