"""The benchmark workload: one realistic stream, the same for every benchmark that replays it.

About 90% inventory signals from the simulator (real Instacart baskets, stock-outs that trigger
rankings) and 10% feedback events answering real substitution requests with a same-aisle pick,
over the full real catalog.
"""

from __future__ import annotations

import collections
import uuid

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
