"""River models on the same feedback stream: progressive validation, and why ours is kept.

The simulator (online_learning/offline/simulation.py) is run through the learning core exactly as
``fillrate evaluate`` does; every feedback event's pair features and outcome are recorded as
the engine saw them. Each candidate model then replays that stream with progressive
validation (predict each event, score the prediction, then learn from it): log loss and
ROC AUC over the whole stream and over its last half.

    .venv/bin/python benchmarks/compare_models.py              # 1 seed, 10,000 feedback events
    .venv/bin/python benchmarks/compare_models.py --population tokens-mixed
    .venv/bin/python benchmarks/compare_models.py --quick      # CI smoke: 300 events, small catalog

Candidates:

- ``logreg-from-prior``: what the engine ships (model.py): a LogisticRegression whose weights
  start at the hand-set content prior, AdaGrad steps (0.1) with a floor of 0.01
  (online_learning/optimizers.py), plus the hashed interaction weights
  (online_learning/interactions.py), learned on the same gradient from 0.
- ``logreg-linear-only``: the same without the interaction weights (the model before they
  were added).
- ``interactions-alpha-X``: the shipped model with the interaction weights' FTRL rate X
  instead of the default.
- ``logreg-from-prior-sgd``: the same with plain SGD 0.05, the baseline the floored AdaGrad
  has to beat.
- ``scaled-logreg``: StandardScaler | LogisticRegression from zero weights, SGD 0.05: the
  textbook online choice, no prior.
- ``hoeffding-tree``: HoeffdingTreeClassifier (naive-Bayes-adaptive leaves): non-linear, no
  prior; it cannot be scored as one matrix product over a pool, so it would also cost the hot
  path its vectorised ranking.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from river import compose, linear_model, metrics, optim, preprocessing, tree

from online_learning.interaction_keys import KeyIndex
from online_learning.interactions import InteractionConfig
from online_learning.model import AcceptanceModel
from online_learning.offline.evaluation import evaluate_seed, offline_engine
from online_learning.offline.simulation import SimConfig, Simulation
from online_learning.rules import load_rules
from streams.arg_types import add_population_flag

Stream = list[tuple[dict[str, float], bool]]
# (requested id, substitute id) of each event of a Stream, in the same order
Pairs = list[tuple[str, str]]


class _Recorder:
    """Takes the (features, outcome) of every feedback event the learned engine learns from
    (an evaluation ``FeedbackObserver``)."""

    def __init__(self) -> None:
        self.stream: Stream = []
        self.pairs: Pairs = []

    def add(
        self,
        p_accept: float,
        requested_id: str,
        substitute_id: str,
        aisle: str,
        outcome: str,
        x: Mapping[str, float],
        customer_id: str | None = None,
    ) -> None:
        # the recording engine's own interaction score is not the replayed model's
        self.stream.append(({**x, "interactions": 0.0}, outcome == "accepted"))
        self.pairs.append((requested_id, substitute_id))


class _Shipped:
    """model.py's model; its interaction weights learn from each event's hashed keys
    (``keys_of``, set by the replay: the same keys the engine would compute)."""

    def __init__(
        self,
        optimizer: optim.base.Optimizer | None = None,
        interactions: InteractionConfig | None = InteractionConfig(),  # noqa: B008 (frozen)
    ) -> None:
        self.model = AcceptanceModel(optimizer=optimizer, interactions=interactions)
        self.keys: KeyIndex | None = None  # the current event's keys

    def _with_score(self, x: dict[str, float]) -> dict[str, float]:
        weights = self.model.interactions
        if weights is None or self.keys is None:
            return x
        return {**x, "interactions": weights.score(self.keys)}

    def predict_proba_one(self, x: dict[str, float]) -> dict[bool, float]:
        p = self.model.predict_proba_one(self._with_score(x))
        return {True: p, False: 1.0 - p}

    def learn_one(self, x: dict[str, float], y: bool) -> None:
        self.model.learn_one(self._with_score(x), y, self.keys)


CANDIDATES: dict[str, Callable[[], Any]] = {
    "logreg-from-prior": _Shipped,
    "logreg-linear-only": lambda: _Shipped(interactions=None),
    "interactions-alpha-0.05": lambda: _Shipped(interactions=InteractionConfig(alpha=0.05)),
    "interactions-alpha-0.15": lambda: _Shipped(interactions=InteractionConfig(alpha=0.15)),
    "logreg-from-prior-sgd": lambda: _Shipped(optim.SGD(0.05), interactions=None),
    "scaled-logreg": lambda: compose.Pipeline(
        preprocessing.StandardScaler(), linear_model.LogisticRegression(optim.SGD(0.05))
    ),
    "hoeffding-tree": lambda: tree.HoeffdingTreeClassifier(grace_period=200),
}


def progressive(model: Any, stream: Stream, keys: list[KeyIndex] | None = None) -> dict[str, float]:
    """Log loss and ROC AUC, whole stream and last half; microseconds per event (predict
    and learn). ``keys``: each event's hashed interaction keys, for a model that takes them."""
    loss, auc = metrics.LogLoss(), metrics.ROCAUC()
    late_loss, late_auc = metrics.LogLoss(), metrics.ROCAUC()
    half = len(stream) // 2
    started = time.perf_counter()
    takes_keys = keys is not None and isinstance(model, _Shipped)
    for i, (x, y) in enumerate(stream):
        if takes_keys:
            assert keys is not None
            model.keys = keys[i]
        p = model.predict_proba_one(x).get(True, 0.5)
        loss.update(y, p)
        auc.update(y, p)
        if i >= half:
            late_loss.update(y, p)
            late_auc.update(y, p)
        model.learn_one(x, y)
    elapsed = time.perf_counter() - started
    return {
        "log_loss": loss.get(),
        "roc_auc": auc.get(),
        "log_loss_last_half": late_loss.get(),
        "roc_auc_last_half": late_auc.get(),
        "us_per_event": 1e6 * elapsed / max(1, len(stream)),
    }


def pair_keys(config: SimConfig, pairs: Pairs) -> list[KeyIndex]:
    """Each pair's hashed interaction keys, as the engine computes them over the same catalog."""
    engine = offline_engine(Simulation(config).catalog_events(), load_rules())
    features = engine.features
    out = []
    for requested_id, substitute_id in pairs:
        requested, substitute = engine.catalog.get(requested_id), engine.catalog.get(substitute_id)
        assert requested is not None and substitute is not None
        keys = features.pair_row(requested, substitute)[1]
        out.append(np.zeros(0, np.int32) if keys is None else keys)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--feedback", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 events, 3,000-item catalog")
    add_population_flag(parser)
    args = parser.parse_args()
    config = SimConfig(seed=args.seed, population=args.population)
    if args.quick:
        args.feedback = 300
        config = SimConfig(seed=args.seed, catalog_limit=3000, population=args.population)
    recorder = _Recorder()
    print(
        f"simulating {args.feedback:,} feedback events (seed {args.seed},"
        f" population {args.population}) ...",
        flush=True,
    )
    evaluate_seed(config, args.feedback, mistakes=recorder)
    stream = recorder.stream
    keys = pair_keys(config, recorder.pairs)
    print(f"replaying {len(stream):,} events through each model (progressive validation)\n")
    header = (
        f"{'model':<24} {'log loss':>9} {'ROC AUC':>8} {'2nd half LL':>11} "
        f"{'2nd half AUC':>12} {'us/event':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, make in CANDIDATES.items():
        r = progressive(make(), stream, keys)
        print(
            f"{name:<24} {r['log_loss']:>9.4f} {r['roc_auc']:>8.4f} "
            f"{r['log_loss_last_half']:>11.4f} {r['roc_auc_last_half']:>12.4f} "
            f"{r['us_per_event']:>9.1f}"
        )


if __name__ == "__main__":
    main()
