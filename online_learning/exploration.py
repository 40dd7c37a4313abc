"""A small, controlled amount of exploration, which makes off-policy estimates possible.

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
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["explore", "first_propensity"]

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
