"""Scoring cost per candidate when ranking, and learning cost per feedback event.

A ranking is timed three ways: an item's first (its candidate block built), again (the
block cached), and again after the model learned (the interaction scores recomputed, as after
every feedback event). Prints medians over repeated runs (these machines are shared and
noisy) and, as baselines measured in the same run, River's own ``predict_proba_one`` looped
over the candidates and the shipped model, with its hashed interaction weights, against the
linear model alone (``AcceptanceModel()``, as ``FILLRATE_INTERACTIONS=false`` runs it), rows
alternating so both see the same load. The shipped model is timed as it ranks once its
interaction weights count in predictions (keys and scores over the pool) and before they do
("not counted": the column left 0, nothing keyed).

    .venv/bin/python benchmarks/bench_scoring.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from river import optim

from online_learning.availability import AvailabilityState
from online_learning.contract import Feedback
from online_learning.engine import SubstitutionEngine
from online_learning.features import pair_features
from online_learning.interactions import InteractionConfig
from online_learning.model import AcceptanceModel
from online_learning.offline.instacart import load_instacart_products, load_order_popularity
from online_learning.ranking import rank_substitutes


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def predict_each(model: AcceptanceModel, rows: list[dict[str, float]]) -> list[float]:
    """The baseline: River's own per-row prediction, looped in Python."""
    return [model.predict_proba_one(x) for x in rows]


def counting() -> AcceptanceModel:
    """The shipped model once its interaction weights count in predictions (their record
    clearly the better, online_learning/model.py): a ranking keys and scores its whole pool."""
    model = AcceptanceModel(interactions=InteractionConfig())
    model.record = [100.0, 50.0, 26.0, 100.0]  # 100 events, each about 0.5 better with them
    model.estimator._weights["interactions"] = 1.0  # as learn_one sets it from the record
    assert model.interactions_count
    return model


MODELS: dict[str, Callable[[], AcceptanceModel]] = {
    "interactions": counting,
    # before they count (a new worker, a world where they do not help): the column is 0
    "not counted": lambda: AcceptanceModel(interactions=InteractionConfig()),
    "linear": AcceptanceModel,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI smoke run)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 25
    products = load_instacart_products()
    by_aisle: dict[str, list] = {}
    for p in products:
        by_aisle.setdefault(p.aisle, []).append(p)
    print(
        f"{'model':<12} {'pool':>6} {'first rank us':>14} {'re-rank us':>11} {'us/cand':>8}"
        f" {'after learning us':>18}"
        f" {'River loop us/cand':>19} {'ratio':>6}"
    )
    for size, (label, make) in (
        (size, variant) for size in (50, 500, 2000) for variant in MODELS.items()
    ):
        # Real items, largest aisles first, shelved together so the pool has exactly `size`.
        ranked = sorted(by_aisle.values(), key=len, reverse=True)
        pool = [dataclasses.replace(p, aisle="bench") for ps in ranked for p in ps][:size]
        engine = SubstitutionEngine(products=pool, popularity=load_order_popularity(), model=make())
        if engine.model.interactions is not None:
            # what a running worker's weights look like: every slot learned something
            rng = np.random.default_rng(0)
            engine.model.interactions.weights[:-1] = rng.normal(
                0.0, 0.1, engine.model.interactions.size
            )
        requested = engine.catalog.get(pool[0].item_id)
        assert requested is not None
        availability = AvailabilityState()
        engine.features.matrix(requested)  # build the pool's matrix once, as a warm worker has

        rank = partial(
            rank_substitutes,
            requested,
            "s1",
            0.0,
            features=engine.features,
            model=engine.model,
            availability=availability,
            rules=engine.rules,
        )
        t_rank = median_seconds(rank, repeat)  # an item ranked again: its candidates cached

        def first_rank(
            rank: Callable[[], object] = rank, engine: SubstitutionEngine = engine
        ) -> None:
            engine.features._blocks.clear()  # the first stock-out of this item
            rank()

        t_first = median_seconds(first_rank, repeat)

        def rank_after_learning(
            rank: Callable[[], object] = rank, engine: SubstitutionEngine = engine
        ) -> None:
            if engine.model.interactions is not None:
                engine.model.interactions.n_learned += 1  # as after feedback: scores are stale
            rank()

        t_learned = median_seconds(rank_after_learning, repeat)
        rows = [
            pair_features(r)
            for r in engine.features.matrix(requested).pair_matrix(engine.features.row(requested))
        ]

        river_loop = partial(predict_each, engine.model, rows)
        t_river = median_seconds(river_loop, max(3, repeat // 5))
        print(
            f"{label:<12} {size:>6} {t_first * 1e6:>14.0f} {t_rank * 1e6:>11.0f}"
            f" {t_rank * 1e6 / size:>8.2f} {t_learned * 1e6:>18.0f}"
            f" {t_river * 1e6 / size:>19.2f} {t_river / t_rank:>6.1f}x"
        )
    # Feedback as it comes: a substitute from the requested item's aisle, over the full catalog.
    n = 300 if args.quick else 3000
    aisles = [ps for ps in by_aisle.values() if len(ps) > 1]
    events = []
    for i in range(n):
        pool = aisles[(i * 31) % len(aisles)]
        requested, substitute = pool[i % len(pool)], pool[(i * 7 + 1) % len(pool)]
        outcome = "accepted" if i % 3 else "rejected"
        events.append(
            Feedback(f"e{i}", "s1", requested.item_id, substitute.item_id, outcome, float(i))
        )
    popularity = load_order_popularity()
    costs = {}
    # The shipped model (with the interaction weights) against the linear model alone, and
    # that with plain SGD steps, as shipped before the floored AdaGrad.
    for name, model in (
        (
            "shipped (AdaGrad with a floor, interactions)",
            AcceptanceModel(interactions=InteractionConfig()),
        ),
        ("linear (AdaGrad with a floor, no interactions)", AcceptanceModel()),
        (
            "baseline (SGD 0.05, no interactions)",
            AcceptanceModel(optimizer=optim.SGD(0.05), interactions=None),
        ),
    ):
        engine = SubstitutionEngine(products=products, popularity=popularity, model=model)
        engine.features.warm()  # a warm worker has built every pool's columns (and keys)
        start = time.perf_counter()
        for event in events:
            engine.on_feedback(event)
        costs[name] = (time.perf_counter() - start) / n
        print(
            f"learning, {name}: {costs[name] * 1e6:.0f} us per feedback event"
            " (features + progressive eval + one optimiser step)"
        )
    shipped, linear, baseline = costs.values()
    print(f"learning cost ratio shipped/linear: {shipped / linear:.2f}")
    print(f"learning cost ratio linear/baseline: {linear / baseline:.2f}")


if __name__ == "__main__":
    main()
