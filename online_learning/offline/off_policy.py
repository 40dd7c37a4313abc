"""Off-policy estimates from exploring logs: what another ranking policy would have achieved.

Every ranking records the propensity of the item it put first (``online_learning.exploration``).
A log of (first item, propensity, outcome) then estimates another policy without running it:

- IPS: mean of ``outcome * target(first) / propensity`` over the log;
- SNIPS: the same, divided by the mean weight instead of by n (lower variance, slight bias).

>>> ips([Logged(1.0, 0.5, True), Logged(0.0, 0.9, True)]), snips([Logged(1.0, 0.5, True)])
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Logged", "ips", "snips"]


@dataclass(frozen=True, slots=True)
class Logged:
    """One logged decision: its outcome, the logging propensity, the target's probability."""

    reward: float
    propensity: float
    target: float | bool  # P(target policy puts the same item first), or whether it would

    @property
    def weight(self) -> float:
        return float(self.target) / self.propensity


def ips(log: Iterable[Logged]) -> float:
    """Inverse propensity scoring: unbiased when every propensity is right and > 0."""
    total, n = 0.0, 0
    for entry in log:
        total += entry.reward * entry.weight
        n += 1
    return total / n if n else float("nan")


def snips(log: Iterable[Logged]) -> float:
    """Self-normalised IPS: divides by the summed weights, so it stays within the reward range."""
    total, weights = 0.0, 0.0
    for entry in log:
        total += entry.reward * entry.weight
        weights += entry.weight
    return total / weights if weights else float("nan")
