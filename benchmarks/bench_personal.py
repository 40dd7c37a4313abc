"""Per-customer taste offsets (online_learning/personal.py): cost per call, bytes per customer,
and what they buy on the simulator.

1. Cost per call, median over repeats, against the population model measured in the same run:
   ``learn_one`` against River's ``learn_one`` (what every feedback event already pays), and
   ``offsets`` for one customer's candidate matrix against the population's
   ``predict_proba_matrix`` over the same matrix (what every ranking already pays).
2. Bytes per customer, measured with tracemalloc (arrays, row index and id strings), at
   10,000 and 100,000 customers, one event each, capacity equal to the count.
3. Progressive log loss on the simulator (default population): a stream of feedback from
   its customers, each event predicted before it is learned by the population (engine model
   plus effects) and by the population plus the customer's offsets (full matrix and diagonal
   update), by how many events the customer had before it; and the time of ``learn_one``
   against the engine's whole ``on_feedback`` (the engine run without tastes of its own).

    .venv/bin/python benchmarks/bench_personal.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from online_learning.contract import Feedback
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.features import FEATURES, pair_features
from online_learning.logistic import sigmoid
from online_learning.model import AcceptanceModel, log_loss
from online_learning.offline.sim_config import SimConfig
from online_learning.offline.simulation import Simulation
from online_learning.personal import CustomerTastes, TastesConfig
from online_learning.ranking import rank_substitutes

CALLS = 2000  # calls per timed repeat
EVIDENCE_BUCKETS = ((0, 0), (1, 2), (3, 9), (10, 29), (30, 10**9))


def median_per_call(fn: Callable[[int], object], calls: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the seconds per call of ``fn(i)`` for i < calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(calls):
            fn(i)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def cost_per_call(repeat: int) -> None:
    rng = np.random.default_rng(1)
    rows = rng.uniform(0.0, 1.0, size=(CALLS, len(FEATURES)))
    dicts = [pair_features(r) for r in rows]
    labels = (rng.random(CALLS) < 0.6).tolist()
    customers = [f"customer-{i:05d}" for i in range(1000)]
    full, diagonal = CustomerTastes(), CustomerTastes(TastesConfig(diagonal=True))
    model = AcceptanceModel()
    for i in range(CALLS):  # every customer has state before the timing starts
        full.learn_one(customers[i % 1000], rows[i], labels[i], 0.0)
        diagonal.learn_one(customers[i % 1000], rows[i], labels[i], 0.0)

    def learn(tastes: CustomerTastes) -> Callable[[int], object]:
        return lambda i: tastes.learn_one(customers[i % 1000], rows[i], labels[i], 0.3)

    def line(name: str, ours: float, population: float) -> None:
        print(f"{name:<40} {ours * 1e6:>9.1f} {population * 1e6:>14.1f} {ours / population:>6.2f}x")

    title = f"per call, median of {repeat} repeats"
    print(f"{title:<40} {'us':>9} {'population us':>14} {'ratio':>7}")
    river_learn = median_per_call(lambda i: model.learn_one(dicts[i], labels[i]), CALLS, repeat)
    for name, tastes in (("learn_one, full matrix", full), ("learn_one, diagonal", diagonal)):
        line(name, median_per_call(learn(tastes), CALLS, repeat), river_learn)
    river_logit = median_per_call(lambda i: model.logit_one(dicts[i]), CALLS, repeat)
    one = median_per_call(lambda i: full.offset_one(customers[i % 1000], rows[i]), CALLS, repeat)
    line("offset_one", one, river_logit)
    for n in (50, 500):
        matrix = rows[:n]

        def personal(i: int, matrix: np.ndarray = matrix) -> object:
            return full.offsets(customers[i % 1000], matrix)

        def population(i: int, matrix: np.ndarray = matrix) -> object:
            return model.predict_proba_matrix(matrix)

        line(
            f"offsets, {n} candidates",
            median_per_call(personal, CALLS // 10, repeat),
            median_per_call(population, CALLS // 10, repeat),
        )


def bytes_per_customer(sizes: tuple[int, ...]) -> None:
    print(
        f"\n{'customers':>10} {'traced bytes':>13} {'bytes/customer':>15} "
        f"{'peak/customer':>14} {'memory_bytes()/customer':>24}"
    )
    row = np.zeros(len(FEATURES))
    row[FEATURES.index("brand_match")] = 1.0
    for n in sizes:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tastes = CustomerTastes(TastesConfig(capacity=n))
        for i in range(n):
            tastes.learn_one(f"customer-{i:07d}", row, i % 2 == 0, 0.0)
        now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        used = now - before
        print(
            f"{n:>10,} {used:>13,} {used / n:>15.0f} {(peak - before) / n:>14.0f} "
            f"{tastes.memory_bytes() / n:>24.0f}"
        )
    print(f"array bytes per customer (bytes_per_customer): {CustomerTastes().bytes_per_customer}")


def simulated_gain(events: int, n_customers: int) -> None:
    """Progressive log loss on the simulator's customers, by the customer's evidence."""
    sim = Simulation(SimConfig(seed=11, n_customers=n_customers, catalog_limit=5000))
    # The engine without a personal part of its own: this loop adds it, and times it.
    engine = SubstitutionEngine(
        products=sim.catalog_events(), wall_clock=lambda: 0.0, config=EngineConfig(tastes=None)
    )
    full, diagonal = CustomerTastes(), CustomerTastes(TastesConfig(diagonal=True))
    products = [p for p in sim.products.values() if engine.catalog.get(p.item_id) is not None]
    customers = sim.customer_ids
    rng = random.Random(11)
    seen: dict[str, int] = {}
    # bucket -> [events, population loss, full loss, diagonal loss]
    sums = {bucket: [0, 0.0, 0.0, 0.0] for bucket in EVIDENCE_BUCKETS}
    done = 0
    learn_seconds = feedback_seconds = 0.0
    while done < events:
        requested = products[rng.randrange(len(products))]
        ranked, _ = rank_substitutes(
            requested,
            "store-001",
            sim.now,
            features=engine.features,
            model=engine.model,
            availability=engine.availability,
            rules=engine.rules,
            top_k=5,
            effects=engine.effects,
        )
        if not ranked:
            continue
        # Some customers order far more often than others (squaring skews the draw).
        customer = customers[int(len(customers) * rng.random() ** 2)]
        candidate = engine.catalog.get(ranked[rng.randrange(len(ranked))].item_id)
        assert candidate is not None
        accepted = rng.random() < sim.true_accept_prob(customer, requested, candidate)
        # What SubstitutionEngine.on_feedback would do with personal tastes wired in:
        x = engine.features.pair_vector(requested, candidate)
        base = engine.model.logit_one(pair_features(x))
        if engine.effects is not None:
            base += engine.effects.offset(engine.effect_key(requested, candidate))
        count = seen.get(customer, 0)
        bucket = next(b for b in EVIDENCE_BUCKETS if b[0] <= count <= b[1])
        row = sums[bucket]
        row[0] += 1
        row[1] += log_loss(sigmoid(base), accepted)
        row[2] += log_loss(sigmoid(base + full.offset_one(customer, x)), accepted)
        row[3] += log_loss(sigmoid(base + diagonal.offset_one(customer, x)), accepted)
        start = time.perf_counter()
        full.learn_one(customer, x, accepted, base)
        learn_seconds += time.perf_counter() - start
        diagonal.learn_one(customer, x, accepted, base)
        feedback = Feedback(
            f"e{done}",
            "store-001",
            requested.item_id,
            candidate.item_id,
            "accepted" if accepted else "rejected",
            sim.now + done,
            customer_id=customer,
        )
        start = time.perf_counter()
        engine.on_feedback(feedback)
        feedback_seconds += time.perf_counter() - start
        seen[customer] = count + 1
        done += 1
    print(f"\nsimulator, {events:,} events from {len(seen):,} customers: progressive log loss")
    print(
        f"{'events before':>13} {'events':>8} {'population':>11} {'+ personal':>11} "
        f"{'+ diagonal':>11} {'gain':>7}"
    )
    total = [0, 0.0, 0.0, 0.0]
    for (low, high), (n, pop, per, diag) in sums.items():
        for i, value in enumerate((n, pop, per, diag)):
            total[i] += value
        if n:
            label = f"{low}+" if high >= 10**9 else f"{low}-{high}"
            print(
                f"{label:>13} {n:>8,} {pop / n:>11.4f} {per / n:>11.4f} {diag / n:>11.4f} "
                f"{(pop - per) / pop:>6.1%}"
            )
    n, pop, per, diag = total
    print(
        f"{'all':>13} {n:>8,} {pop / n:>11.4f} {per / n:>11.4f} {diag / n:>11.4f} "
        f"{(pop - per) / pop:>6.1%}"
    )
    print(
        f"per feedback event: engine.on_feedback {feedback_seconds / events * 1e6:.0f} us,"
        f" learn_one {learn_seconds / events * 1e6:.0f} us"
        f" (+{learn_seconds / feedback_seconds:.0%} if the engine learns the tastes too)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    args = parser.parse_args()
    cost_per_call(repeat=3 if args.quick else 15)
    bytes_per_customer((1_000, 5_000) if args.quick else (10_000, 100_000))
    simulated_gain(events=1_500 if args.quick else 40_000, n_customers=100 if args.quick else 2_000)


if __name__ == "__main__":
    main()
