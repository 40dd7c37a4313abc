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
import uuid

from online_learning.catalog import load_order_popularity
from online_learning.engine import SubstitutionEngine
from online_learning.events import Feedback, InventorySignal
from online_learning.simulation import SimConfig, Simulation


def make_events(
    n_events: int, seed: int = 7
) -> tuple[Simulation, list[InventorySignal | Feedback]]:
    """The mix bench_throughput.py pre-fills: 90% simulated signals, 10% same-aisle feedback."""
    sim = Simulation(SimConfig(seed=seed, orders_per_minute=600.0))
    by_aisle: dict[str, list[str]] = collections.defaultdict(list)
    for p in sim.products.values():
        by_aisle[p.aisle].append(p.item_id)
    events: list[InventorySignal | Feedback] = []
    wanted = int(n_events * 0.9)
    signals = feedback = 0
    while signals < wanted:
        batch, requests = sim.advance(60.0)
        for s in batch[: wanted - signals]:
            events.append(s)
            signals += 1
        for r in requests:
            if feedback * 9 >= signals:
                break
            pool = by_aisle[sim.products[r.item_id].aisle]
            substitute = pool[(feedback * 7919) % len(pool)]
            if substitute == r.item_id:
                continue
            outcome = "accepted" if feedback % 2 else "rejected"
            events.append(
                Feedback(uuid.uuid4().hex, r.store_id, r.item_id, substitute, outcome, r.ts)
            )
            feedback += 1
    return sim, events


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
