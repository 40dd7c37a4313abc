"""AdaGrad with a floor on its step size: fast while a weight is new, never frozen.

AdaGrad scales each weight's step by 1 / sqrt(sum of its squared gradients), so the first
few hundred feedback events move the content prior quickly and later ones only refine it.
Plain AdaGrad's step keeps shrinking for ever, though, and a worker that has learned from a
million events could no longer follow a shift in what customers accept. Here a weight's
learning rate never falls below ``floor``: after the early phase this is SGD at ``floor``.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Mapping
from typing import Any

from river import optim
from river.optim.base import DictLike

__all__ = ["FlooredAdaGrad"]


class FlooredAdaGrad(optim.base.Optimizer):
    """Per-weight step ``max(lr / sqrt(G + eps), floor) * g``, ``G`` the sum of squared gradients.

    >>> opt = FlooredAdaGrad(lr=0.1, floor=0.01)
    >>> w = {"x": 0.0}
    >>> w = opt.step(w, {"x": 2.0})  # first step: lr / |g| * g, a move of lr
    >>> round(w["x"], 6)
    -0.1
    >>> for _ in range(10_000):
    ...     w = opt.step(w, {"x": 1.0})
    >>> before = w["x"]
    >>> w = opt.step(w, {"x": 1.0})  # AdaGrad alone would step 0.001 here; the floor is 0.01
    >>> round(before - w["x"], 6)
    0.01
    """

    def __init__(self, lr: float = 0.1, floor: float = 0.01, eps: float = 1e-8) -> None:
        if not (lr > 0 and floor >= 0 and eps > 0):
            raise ValueError(f"need lr > 0, floor >= 0 and eps > 0, got {lr}, {floor}, {eps}")
        super().__init__(lr)
        self.floor = floor
        self.eps = eps
        self.g2: collections.defaultdict[Hashable, float] = collections.defaultdict(float)

    def _step_with_dict(self, w: DictLike, g: DictLike) -> DictLike:
        lr, floor, eps = self.learning_rate, self.floor, self.eps
        for i, gi in g.items():
            total = self.g2[i] + gi * gi
            self.g2[i] = total
            w[i] -= max(lr / (total + eps) ** 0.5, floor) * gi
        return w

    def state(self) -> dict[str, Any]:
        """What learning changed (steps taken, squared-gradient sums by weight name), for a
        snapshot; the rates are configuration, not state."""
        return {
            "n_iterations": self.n_iterations,
            "names": [str(name) for name in self.g2],
            "g2": [float(total) for total in self.g2.values()],
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` (weight names are strings, as the pair features are)."""
        names, totals = list(state["names"]), [float(t) for t in state["g2"]]
        if len(names) != len(totals):
            raise ValueError("g2 names and totals differ in length")
        g2: collections.defaultdict[Hashable, float] = collections.defaultdict(float)
        g2.update(zip(names, totals, strict=True))
        self.g2 = g2
        self.n_iterations = int(state["n_iterations"])
