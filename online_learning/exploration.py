"""A small, controlled amount of exploration, and the off-policy estimates it makes possible.

A greedy ranker only ever learns about the items it already puts first, so an item that is
better than its content suggests is never found out. With probability ``epsilon`` a ranking
instead puts one of the next ``top - 1`` items first (uniformly); the rest of the order is
unchanged. The draw is a hash of a seed the caller chooses (the engine: store, item and hour
of stream time), so a replayed input yields the same ranking.

Every ranking records the propensity of the item it put first: the probability that this
policy would have put that item first. A log of (first item, propensity, outcome) then lets
anyone estimate what *another* ranking policy would have achieved, without running it:

- IPS: mean of ``outcome * target(first) / propensity`` over the log;
- SNIPS: the same, divided by the mean weight instead of by n (lower variance, slight bias).

>>> shown, p, explored = explore(("a", "b", "c", "d"), "some-ranking-id", 0.1, 3)
>>> shown[0] in ("a", "b", "c"), sorted(shown) == ["a", "b", "c", "d"]
(True, True)
>>> round(first_propensity(0, 4, 0.1, 3), 3), round(first_propensity(2, 4, 0.1, 3), 3)
(0.9, 0.05)
>>> ips([Logged(1.0, 0.5, True), Logged(0.0, 0.9, True)]), snips([Logged(1.0, 0.5, True)])
(1.0, 1.0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Logged", "explore", "first_propensity", "ips", "snips"]

T = TypeVar("T")


def _uniforms(seed: str) -> tuple[float, float]:
    digest = hashlib.blake2b(f"explore\x1f{seed}".encode(), digest_size=16).digest()
    scale = float(2**64)
    return int.from_bytes(digest[:8], "big") / scale, int.from_bytes(digest[8:], "big") / scale


def first_propensity(greedy_position: int, n: int, epsilon: float, top: int) -> float:
    """P(the item at ``greedy_position`` of the greedy order is put first)."""
    m = min(top, n)
    if m < 2 or epsilon <= 0.0:
        return 1.0 if greedy_position == 0 else 0.0
    if greedy_position == 0:
        return 1.0 - epsilon
    return epsilon / (m - 1) if greedy_position < m else 0.0


def explore(
    greedy: Sequence[T], seed: str, epsilon: float, top: int
) -> tuple[tuple[T, ...], float, bool]:
    """The order to show, the propensity of its first item, and whether it explored."""
    n = len(greedy)
    m = min(top, n)
    if m < 2 or epsilon <= 0.0:
        return tuple(greedy), 1.0, False
    u_explore, u_pick = _uniforms(seed)
    if u_explore >= epsilon:
        return tuple(greedy), 1.0 - epsilon, False
    j = 1 + min(int(u_pick * (m - 1)), m - 2)
    shown = (greedy[j], *greedy[:j], *greedy[j + 1 :])
    return shown, epsilon / (m - 1), True


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
