"""The learned weights of the hashed interaction keys, and their settings.

A pair's interaction score is the sum of its keys' weights (the keys:
:mod:`online_learning.interaction_keys`), added to the logit as the model's ``interactions``
column, weight 1. Weights start at 0 and learn by FTRL-proximal (McMahan et al. 2013) with an
L2 term: a key's weight moves only as far as its own evidence carries it, so a cold start
ranks exactly as the content prior does, and a key seen once or twice stays near 0. The
padding slot ``size`` has weight 0 and never learns.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from online_learning.interaction_keys import KEY_SCHEME, FloatArray, KeyIndex

__all__ = ["InteractionConfig", "InteractionWeights", "interaction_config_key"]


@dataclass(frozen=True, slots=True)
class InteractionConfig:
    """Size and learning rates of the hashed interaction weights.

    ``bits``: 2**bits slots (three float64 arrays of that length). FTRL-proximal's per-key
    rate is ``alpha / (beta + sqrt(sum of squared gradients))``; ``l2`` pulls every weight
    toward 0 in proportion to how little evidence it has (the weight is
    ``-z / ((beta + sqrt(n)) / alpha + l2)``), ``l1`` keeps a weight at exactly 0 until its
    summed evidence passes it.

    ``alpha`` 0.02: every pair moves ~60 weights at once, so each must move little. At 0.05
    the weights learned noise on the ``catalog`` population, whose customers follow the
    content features' own formula (0.027 of the random-to-oracle gap below the linear model
    over 20,000 events, one seed); at 0.02 0.003 to 0.012 (three seeds), while on customers
    the features miss they gain as much and keep rising (docs/evaluation.md). What is left
    of that loss the model's record of them takes away: they count only while they predict
    better (:class:`~online_learning.model.AcceptanceModel`).
    """

    bits: int = 20
    alpha: float = 0.02
    beta: float = 1.0
    l1: float = 0.0
    l2: float = 1.0

    def __post_init__(self) -> None:
        if not 8 <= self.bits <= 30:
            raise ValueError(f"bits must be in [8, 30], got {self.bits}")
        if not (self.alpha > 0 and self.beta >= 0 and self.l1 >= 0 and self.l2 >= 0):
            raise ValueError(f"need alpha > 0 and beta, l1, l2 >= 0, got {self}")


class InteractionWeights:
    """The learned weight of every hashed slot, FTRL-proximal, plus the padding slot at 0.

    >>> w = InteractionWeights(InteractionConfig(bits=8))
    >>> keys = np.array([[3, 7, 256], [7, 256, 256]], dtype=np.int32)
    >>> w.scores(keys).tolist()
    [0.0, 0.0]
    >>> for _ in range(50):
    ...     w.learn(keys[0], gradient=-0.5)  # accepted while predicted at 0.5
    >>> s = w.scores(keys)
    >>> bool(s[0] > s[1] > 0.0), w.touched
    (True, 2)
    """

    def __init__(self, config: InteractionConfig) -> None:
        self.config = config
        self.size = 1 << config.bits
        # weight, FTRL's z and n (summed squared gradients) of every slot, one row each, so
        # a step reads and writes all three with one gather and one scatter; one slot more
        # than hashed: the padding, whose weight stays 0
        self._state = np.zeros((3, self.size + 1), dtype=np.float64)
        self.weights = self._state[0]
        self._z, self._n = self._state[1], self._state[2]
        self._inv_alpha = 1.0 / config.alpha
        self.n_learned = 0

    @property
    def touched(self) -> int:
        """Slots that have learned from at least one event."""
        return int(np.count_nonzero(self._n[: self.size]))

    def scores(self, index: KeyIndex) -> FloatArray:
        """The summed weight of each row of keys."""
        return self.weights[index].sum(axis=1)

    def score(self, keys: KeyIndex) -> float:
        """The summed weight of one pair's keys, exactly rounded (``math.fsum``): the same
        number however many padding slots the row carries and in whatever order its keys
        come (NumPy's pairwise sum groups by length), so every path a learner takes to a
        pair (a cached block's row, a pool's, a pair alone) learns the same bits."""
        return math.fsum(self.weights[keys].tolist())

    def learn(self, keys: KeyIndex, gradient: float) -> None:
        """One FTRL-proximal step for a pair's keys, ``gradient`` the log loss's d/dlogit
        (P(accept) - outcome) as the whole model predicted the pair."""
        if gradient == 0.0 or keys.size == 0:
            return
        state = self._state
        w, z, n = state[:, keys]
        n_new = n + gradient * gradient
        root = np.sqrt(n_new)
        z += gradient - (root - np.sqrt(n)) * self._inv_alpha * w
        # The padding slot learns along (filtering it out costs more) and is zeroed after.
        state[:, keys] = (self._weight(z, root), z, n_new)
        state[:, self.size] = 0.0
        self.n_learned += 1

    def _weight(self, z: FloatArray, root: FloatArray) -> FloatArray:
        cfg = self.config
        shrunk = np.sign(z) * np.maximum(np.abs(z) - cfg.l1, 0.0) if cfg.l1 else z
        return -shrunk / ((cfg.beta + root) * self._inv_alpha + cfg.l2)

    def state(self) -> dict[str, Any]:
        """The touched slots and their FTRL sums (weights follow from them), for a snapshot."""
        slots = np.flatnonzero(self._n[: self.size])
        return {
            "slots": slots.astype(np.int64),
            "z": self._z[slots].copy(),
            "n": self._n[slots].copy(),
            "n_learned": self.n_learned,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` in place (the feature store holds these same arrays)."""
        slots = np.asarray(state["slots"], dtype=np.int64)
        z, n = np.asarray(state["z"], np.float64), np.asarray(state["n"], np.float64)
        if not (slots.shape == z.shape == n.shape) or (slots.size and slots.max() >= self.size):
            raise ValueError("interaction state does not fit this configuration")
        self._state[:] = 0.0
        self._z[slots], self._n[slots] = z, n
        self.weights[slots] = self._weight(z, np.sqrt(n))
        self.n_learned = int(state["n_learned"])

    def digest(self) -> str:
        """A short hash of the learned weights: equal on models that learned alike."""
        slots = np.flatnonzero(self._n[: self.size])
        h = hashlib.blake2b(digest_size=8)
        h.update(slots.astype(np.int64).tobytes())
        h.update(self.weights[slots].tobytes())
        return h.hexdigest()


def interaction_config_key(config: InteractionConfig | None) -> str:
    """What a snapshot must agree on (None: no interactions)."""
    if config is None:
        return "none"
    return repr((KEY_SCHEME, config.bits, config.alpha, config.beta, config.l1, config.l2))
