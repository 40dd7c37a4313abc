"""The benchmark workload: one realistic stream, the same for every benchmark that replays it.

About 90% inventory signals from the simulator (real Instacart baskets, stock-outs that trigger
rankings) and 10% feedback events answering real substitution requests with a same-aisle pick,
over the full real catalog.
"""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, overload

from online_learning.contract import (
    FEEDBACK_TOPIC,
    SIGNALS_TOPIC,
    Feedback,
    InventorySignal,
    encode_event,
)
from online_learning.offline.simulation import SimConfig, Simulation

T = TypeVar("T")

# The Settings field that names each input topic (benchmarks run on fresh topic names).
TOPIC_SETTINGS = {SIGNALS_TOPIC: "signals_topic", FEEDBACK_TOPIC: "feedback_topic"}


def encode(event: InventorySignal | Feedback) -> tuple[str, bytes, bytes]:
    """(topic setting name, key, value) of an input event: the contract's encoding."""
    topic, key, value = encode_event(event)
    return TOPIC_SETTINGS[topic], key, value


def _same(event: InventorySignal | Feedback) -> Any:
    return event


@overload
def make_events(
    n_events: int, seed: int = 7, *, n_stores: int = 20
) -> tuple[Simulation, list[InventorySignal | Feedback]]: ...


@overload
def make_events(
    n_events: int,
    seed: int = 7,
    *,
    n_stores: int = 20,
    convert: Callable[[InventorySignal | Feedback], T],
) -> tuple[Simulation, list[T]]: ...


def make_events(
    n_events: int,
    seed: int = 7,
    *,
    n_stores: int = 20,
    convert: Callable[[InventorySignal | Feedback], T] = _same,
) -> tuple[Simulation, list[T]]:
    """The mix bench_throughput.py pre-fills: 90% simulated signals, 10% same-aisle feedback.

    ``convert`` turns each event into what the caller keeps (bench_scale.py keeps encoded
    bytes, so the event objects never all sit in memory at once).
    """
    sim = Simulation(
        SimConfig(
            seed=seed,
            n_stores=n_stores,
            n_customers=max(2000, 2 * n_stores),
            orders_per_minute=600.0,
        )
    )
    by_aisle: dict[str, list[str]] = collections.defaultdict(list)
    for p in sim.products.values():
        by_aisle[p.aisle].append(p.item_id)
    events: list[T] = []
    wanted = int(n_events * 0.9)
    signals = feedback = 0
    while signals < wanted:
        batch, requests = sim.advance(60.0)
        for s in batch[: wanted - signals]:
            events.append(convert(s))
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
                convert(
                    Feedback(uuid.uuid4().hex, r.store_id, r.item_id, substitute, outcome, r.ts)
                )
            )
            feedback += 1
    return sim, events
