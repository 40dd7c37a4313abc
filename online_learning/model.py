"""P(accept | requested, candidate): a River logistic regression that starts from a content prior.

Before any feedback the weights are a hand-set content-similarity prior (similar names, same
brand, similar size and price, kept tags are good), so a brand-new deployment already ranks
sensibly. Every feedback event then takes one step from there: the prior is where learning
starts, not a constant it has to fight. The steps are AdaGrad's with a floor
(:class:`~online_learning.optimizers.FlooredAdaGrad`): large while a weight has seen little
feedback, SGD at the floor rate once it has seen a lot, so the model keeps adapting.

Ranking scores many candidates at once with :meth:`AcceptanceModel.predict_proba_matrix`, a dot
product over the same weights River holds; a test holds it to ``predict_proba_one``.

Fifteen hand-set features can only say "alike" in one way everywhere. The model also owns
hashed interaction weights (:mod:`online_learning.interactions`: pairs of words, brands, tags
and binned features, per aisle); their sum for a pair is the ``interactions`` feature. They
start at 0, so before any feedback the model predicts exactly what the prior does.

Whether they count is decided by their record: the ``interactions`` feature's weight is 1
while the prediction with them has had the lower log loss over recent feedback (both losses
taken before the event is learned, so on data neither had seen) by a margin chance would
rarely give, 0 otherwise. Where the content features already say what customers want, the
interactions fit only noise, rarely beat that margin and do not count; where customers care
about more, they count once they predict clearly better. The interaction weights always
learn from the prediction with them; River's weights learn from the prediction as it is
made: jointly with the interactions while they count (each part learns what the other leaves
over), alone while they do not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from river import linear_model, optim, utils

from online_learning.features import FEATURES
from online_learning.interaction_keys import KeyIndex
from online_learning.interactions import (
    InteractionConfig,
    InteractionWeights,
    interaction_config_key,
)
from online_learning.logistic import sigmoid
from online_learning.optimizers import FlooredAdaGrad

__all__ = ["PRIOR_INTERCEPT", "PRIOR_WEIGHTS", "AcceptanceModel"]

PRIOR_WEIGHTS: dict[str, float] = {
    "name_jaccard": 3.0,
    "brand_match": 0.6,
    "brand_differs": -0.2,
    "size_log_ratio": -1.2,
    "size_unknown": -0.1,
    "price_log_ratio": -0.6,
    "tag_jaccard": 0.8,
    "tags_lost": -0.7,
    "popularity": 0.6,
    "item_history": 0.5,
    "pair_history": 0.5,
    "kind_jaccard": 1.5,
    "fat_distance": -0.8,
    "fat_unknown": -0.3,
    "price_up": -1.0,
    "interactions": 1.0,  # a sum of learned weights, not a similarity: 1 or 0 (their record)
}
PRIOR_INTERCEPT = -1.2
INTERACTIONS = "interactions"
# How fast the interactions' record forgets: each event weighs this much less than the next
# (a memory of about two thousand feedback events; on the ``catalog`` population 0.999 let
# them count on streaks of luck, docs/evaluation.md).
RECORD_DECAY = 0.9995
# How clearly: the mean of the per-event loss differences in the record must be this many of
# its standard errors above 0 (a z-test on the decayed sums). Without it the ``catalog``
# population, where there is nothing for them to learn, let them count through streaks of
# luck; at 3 a token world kept them out for most of 15,000 events (docs/evaluation.md).
RECORD_Z = 2.0
# and not before this many events are in the record (a handful of differences says nothing)
RECORD_MIN_EVENTS = 50
# Learned inputs: with them the "prior" would already be learning (prior_proba_one).
HISTORY_FEATURES = frozenset({"item_history", "pair_history", INTERACTIONS})


class AcceptanceModel:
    """Online logistic regression over pair features, River's verbs and shapes.

    ``learning_rate`` and ``min_learning_rate`` are the weights' AdaGrad rate and its floor;
    the intercept takes plain SGD steps of ``intercept_lr``. ``optimizer`` replaces the
    weights' optimizer (benchmarks/compare_models.py compares plain SGD with it).
    ``interactions``: size and rates of the hashed interaction weights (None, the default:
    none, the ``interactions`` feature is then always 0); they learn from :meth:`learn_one`
    calls that pass the pair's keys.

    >>> m = AcceptanceModel()
    >>> x = {"name_jaccard": 0.8, "brand_match": 1.0, "tag_jaccard": 1.0, "popularity": 0.5}
    >>> before = m.predict_proba_one(x)
    >>> for _ in range(20):
    ...     m.learn_one(x, False)
    >>> m.predict_proba_one(x) < before, m.n_learned
    (True, 20)
    """

    def __init__(
        self,
        learning_rate: float = 0.1,
        min_learning_rate: float = 0.01,
        intercept_lr: float = 0.05,
        l2: float = 0.0,
        prior_weights: dict[str, float] | None = None,
        prior_intercept: float = PRIOR_INTERCEPT,
        optimizer: optim.base.Optimizer | None = None,
        interactions: InteractionConfig | None = None,
    ) -> None:
        weights = dict(PRIOR_WEIGHTS if prior_weights is None else prior_weights)
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"prior weights for unknown features: {sorted(unknown)}")
        if optimizer is None:
            optimizer = FlooredAdaGrad(learning_rate, floor=min_learning_rate)
        self.estimator = linear_model.LogisticRegression(
            optimizer=optimizer,
            l2=l2,
            intercept_init=prior_intercept,
            intercept_lr=intercept_lr,
        )
        # A copy: VectorDict wraps the dict it is given, and learning would move the prior too.
        self.estimator._weights = utils.VectorDict({**weights, INTERACTIONS: 0.0})
        self.prior_weights = weights
        self.prior_intercept = prior_intercept
        self.interactions = None if interactions is None else InteractionWeights(interactions)
        # the interactions' record: decayed log losses of the predictions without and with
        # them, the decayed sum of the squares of their per-event differences and the count
        # of events in it; the ``interactions`` feature's weight follows from it
        self.record = [0.0, 0.0, 0.0, 0.0]
        self.n_learned = 0
        # (n_learned, the weights object, weights in FEATURES order, intercept): coefficients()
        self._coefficients: tuple[int, Any, npt.NDArray[np.float64], float] | None = None

    @property
    def version(self) -> str:
        """Changes whenever the model learns; rankings carry it."""
        return f"logreg-v1-{self.n_learned}"

    def predict_proba_one(self, x: dict[str, float]) -> float:
        return float(self.estimator.predict_proba_one(x)[True])

    def prior_proba_one(self, x: dict[str, float]) -> float:
        """What the content prior alone says, before any learning: the baseline to beat.

        Learned inputs (the acceptance-history features) are left out: with them the
        "prior" would already be learning.

        >>> m = AcceptanceModel()
        >>> m.prior_proba_one({"name_jaccard": 0.5}) == m.predict_proba_one({"name_jaccard": 0.5})
        True
        """
        z = self.prior_intercept + sum(
            self.prior_weights.get(k, 0.0) * v for k, v in x.items() if k not in HISTORY_FEATURES
        )
        return sigmoid(z)

    def learn_one(
        self,
        x: dict[str, float],
        y: bool,
        keys: KeyIndex | None = None,
        logit: float | None = None,
    ) -> None:
        """One step from one pair; ``keys``: its hashed interaction keys (None: River's
        weights learn alone). River's weights step on the prediction as made, the interaction
        weights on the prediction with them; then their record decides whether they count
        (the module docstring). ``logit``: :meth:`logit_one` of ``x`` if the caller has it
        already."""
        interactions = self.interactions
        weights = self.estimator._weights
        if interactions is None or keys is None:
            self.estimator.learn_one(x, bool(y))
        else:
            z = self.logit_one(x) if logit is None else logit
            score = x.get(INTERACTIONS, 0.0)
            without = z - weights.get(INTERACTIONS, 0.0) * score
            p_with = sigmoid(without + score)
            record, decay = self.record, RECORD_DECAY
            loss_without, loss_with = log_loss(sigmoid(without), bool(y)), log_loss(p_with, bool(y))
            record[0] = decay * record[0] + loss_without
            record[1] = decay * record[1] + loss_with
            record[2] = decay * record[2] + (loss_without - loss_with) ** 2
            record[3] += 1.0
            self.estimator.learn_one(x, bool(y))
            interactions.learn(keys, p_with - float(bool(y)))
        # River's step may have moved this weight too: the record sets it (never a scale,
        # which would be a second way to move the same logit and could flip their sign).
        weights[INTERACTIONS] = 1.0 if self.interactions_count else 0.0
        self.n_learned += 1

    @property
    def interactions_count(self) -> bool:
        """Do the interaction weights count in predictions now (their record is clearly the
        better, :func:`record_is_better`)?"""
        return self.interactions is not None and record_is_better(self.record)

    def state(self) -> dict[str, Any]:
        """What learning changed, for a snapshot: River's weights (in River's own order, which
        its sums follow), intercept and optimizer state, the count of events learned, the
        interaction weights and their record.

        Raises TypeError for an optimizer whose state this does not know (only plain SGD and
        FlooredAdaGrad are snapshotted: anything else would come back silently different).
        """
        estimator = self.estimator
        optimizer = estimator.optimizer
        if isinstance(optimizer, FlooredAdaGrad):
            optimizer_state = {"kind": "FlooredAdaGrad", **optimizer.state()}
        elif type(optimizer) is optim.SGD:
            optimizer_state = {"kind": "SGD", "n_iterations": optimizer.n_iterations}
        else:
            raise TypeError(f"cannot snapshot the state of optimizer {type(optimizer).__name__}")
        weights = estimator._weights
        interactions = self.interactions
        return {
            "names": [str(name) for name in weights],
            "weights": [float(weights[name]) for name in weights],
            "intercept": float(estimator.intercept),
            "optimizer": optimizer_state,
            "n_learned": self.n_learned,
            "interactions": None if interactions is None else interactions.state(),
            "record": list(self.record),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` taken from a model of the same configuration."""
        estimator = self.estimator
        optimizer = estimator.optimizer
        optimizer_state = state["optimizer"]
        kind = "FlooredAdaGrad" if isinstance(optimizer, FlooredAdaGrad) else "SGD"
        if optimizer_state["kind"] != kind:
            raise ValueError(f"optimizer {optimizer_state['kind']} in the state, {kind} here")
        names, values = list(state["names"]), [float(v) for v in state["weights"]]
        if len(names) != len(values):
            raise ValueError("weight names and values differ in length")
        interactions = self.interactions
        if (state.get("interactions") is None) != (interactions is None):
            raise ValueError("interaction weights in only one of the state and the model")
        if interactions is not None:
            interactions.load_state(state["interactions"])
        if isinstance(optimizer, FlooredAdaGrad):
            optimizer.load_state(optimizer_state)
        else:
            optimizer.n_iterations = int(optimizer_state["n_iterations"])
        estimator._weights = utils.VectorDict(dict(zip(names, values, strict=True)))
        estimator.intercept = float(state["intercept"])
        self.n_learned = int(state["n_learned"])
        record = [float(v) for v in state["record"]]
        if len(record) != 4:
            raise ValueError(f"an interactions record of {len(record)} numbers, 4 expected")
        self.record = record

    def config_key(self) -> str:
        """The settings that shape what this model learns from the same events (equal keys:
        a snapshot of one may be loaded into the other)."""
        estimator = self.estimator
        optimizer = estimator.optimizer
        extra = (optimizer.floor, optimizer.eps) if isinstance(optimizer, FlooredAdaGrad) else ()
        return repr(
            (
                type(optimizer).__name__,
                repr(optimizer.lr),
                extra,
                repr(estimator.intercept_lr),
                estimator.l2,
                estimator.clip_gradient,
                sorted(self.prior_weights.items()),
                self.prior_intercept,
                interaction_config_key(
                    None if self.interactions is None else self.interactions.config
                ),
                ("record", RECORD_DECAY, RECORD_Z, RECORD_MIN_EVENTS),
            )
        )

    def interactions_digest(self) -> str:
        """A short hash of the learned interaction weights ("" without any)."""
        return "" if self.interactions is None else self.interactions.digest()

    def coefficients(self) -> tuple[npt.NDArray[np.float64], float]:
        """Weights in FEATURES order (a read-only array) and the intercept, for vectorised
        scoring.

        Every ranking asks for them and learning is rarer, so the array is kept until the
        model learns or its weights are replaced (a loaded state).
        """
        weights = self.estimator._weights
        intercept = float(self.estimator.intercept)
        cached = self._coefficients
        if (
            cached is not None
            and cached[0] == self.n_learned
            and cached[1] is weights
            and cached[3] == intercept
        ):
            return cached[2], intercept
        array = np.array([weights.get(name, 0.0) for name in FEATURES], dtype=np.float64)
        array.setflags(write=False)
        self._coefficients = (self.n_learned, weights, array, intercept)
        return array, intercept

    def logit_one(self, x: dict[str, float]) -> float:
        """The linear part River computes, before its sigmoid."""
        weights = self.estimator._weights
        return float(self.estimator.intercept) + sum(weights.get(k, 0.0) * v for k, v in x.items())

    def predict_proba_matrix(
        self,
        features: npt.NDArray[np.float64],
        offsets: npt.NDArray[np.float64] | None = None,
    ) -> npt.NDArray[np.float64]:
        """P(accept) for each row of a (n, len(FEATURES)) matrix.

        ``offsets`` are added to the logits (the learned item, pair and brand effects of
        :mod:`online_learning.effects`); without them this is River's ``predict_proba_one``.
        """
        weights, intercept = self.coefficients()
        logits = features @ weights + intercept
        if offsets is not None:
            logits = logits + offsets
        # logistic.sigmoid over an array: clipped at the same +-30
        # (minimum/maximum: np.clip's numbers with less overhead on short arrays)
        return 1.0 / (1.0 + np.exp(-np.minimum(np.maximum(logits, -30.0), 30.0)))


def log_loss(p: float, y: bool) -> float:
    """Binary log loss of one prediction, clipped like River's.

    >>> round(log_loss(0.9, True), 4)
    0.1054
    """
    p = min(max(p, 1e-15), 1 - 1e-15)
    return -math.log(p if y else 1.0 - p)


def record_is_better(record: list[float]) -> bool:
    """Has the prediction with the interactions had the lower log loss, clearly?

    ``record``: decayed sums (by :data:`RECORD_DECAY`) of the losses without and with them
    and of the squared per-event differences, and the count of events. The mean difference
    must be :data:`RECORD_Z` standard errors above 0, the decayed sums' weights giving the
    effective number of events (a z-test that forgets as the record does).

    >>> record_is_better([10.0, 9.0, 0.01, 10.0])  # too few events to say
    False
    >>> d = 0.05  # 200 events, each 0.05 better with them, give or take 0.02
    >>> record_is_better([200 * 0.6, 200 * (0.6 - d), 200 * (d * d + 0.02**2), 200.0])
    True
    >>> record_is_better([200 * 0.6, 200 * (0.6 - d), 200 * (d * d + 0.5**2), 200.0])  # noisy
    False
    """
    without, with_, squares, n = record
    gain = without - with_  # the decayed sum of the per-event differences
    if n < RECORD_MIN_EVENTS or gain <= 0.0:
        return False
    decay = RECORD_DECAY
    weight = (1.0 - decay**n) / (1.0 - decay)  # the decayed sums' weight of all n events
    weight2 = (1.0 - decay ** (2.0 * n)) / (1.0 - decay * decay)  # and of their squares
    mean = gain / weight
    variance = max(squares / weight - mean * mean, 0.0)
    # z = mean / sqrt(variance / n_eff), n_eff = weight**2 / weight2
    return mean * mean * weight * weight > RECORD_Z * RECORD_Z * variance * weight2
