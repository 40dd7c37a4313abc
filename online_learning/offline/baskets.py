"""What the simulated orders hold: real Instacart baskets or synthetic ones, and item popularity.

Real baskets are sampled whole (restricted to the catalog); synthetic ones draw items by a
heavy-tailed popularity that is a keyed draw per item, so an item is as popular in any catalog
that holds it. Popularity is not hidden: the engine reads the same order lines.
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Sequence
from functools import lru_cache

from online_learning.offline.instacart import load_order_baskets
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.sim_config import SimConfig

__all__ = ["Baskets"]


class Baskets:
    """The basket sampler of one simulation, and each item's order-line count (or weight).

    ``rng`` is the simulation's stream of order arrivals, shared so that one seed gives one
    sequence of orders; synthetic popularity comes from ``draws``.
    """

    def __init__(
        self,
        config: SimConfig,
        item_ids: Collection[str],
        draws: KeyedRandom,
        rng: random.Random,
        baskets: Sequence[Sequence[str]] | None = None,
    ) -> None:
        self._config = config
        self._rng = rng
        self._baskets: list[list[str]] = []
        self._synthetic_items: list[str] = []
        self._synthetic_cum: list[float] = []
        self.popularity: dict[str, float] = self._choose(item_ids, draws, baskets)
        self._log_max = math.log1p(max(self.popularity.values(), default=0.0))

    def _choose(
        self,
        item_ids: Collection[str],
        draws: KeyedRandom,
        baskets: Sequence[Sequence[str]] | None,
    ) -> dict[str, float]:
        """Fill the sampler; returns order-line counts (or weights) per item."""
        source = self._config.basket_source
        if baskets is None and source != "synthetic":
            baskets = _instacart_baskets()
        if baskets is not None and source != "synthetic":
            total = sum(len(b) for b in baskets)
            kept = [_dedupe([i for i in b if i in item_ids]) for b in baskets]
            kept = [b for b in kept if b]
            covered = sum(len(b) for b in kept)
            if kept and (source == "instacart" or covered >= 0.5 * total):
                self._baskets = kept
                return dict(Counter(item for basket in kept for item in basket))
            if source == "instacart":
                raise ValueError("no basket has an item of the catalog")
        # Synthetic: a heavy-tailed popularity per item, the same for an item in any catalog.
        items = list(item_ids)
        weights = [math.exp(1.5 * draws.normal(f"popularity|{item}")) for item in items]
        self._synthetic_items = items
        self._synthetic_cum = list(itertools.accumulate(weights))
        return dict(zip(items, weights, strict=True))

    def popularity_score(self, item_id: str) -> float:
        """How often the item is ordered, as log count scaled to [0, 1]."""
        if self._log_max <= 0:
            return 0.0
        return math.log1p(self.popularity.get(item_id, 0.0)) / self._log_max

    def sample(self) -> list[str]:
        """The item ids of one new order, without repeats."""
        if self._baskets:
            return self._baskets[self._rng.randrange(len(self._baskets))]
        rng = self._rng
        size = 1 + int(rng.expovariate(1.0 / (self._config.synthetic_basket_mean - 0.5)))
        size = min(size, len(self._synthetic_items))
        top = self._synthetic_cum[-1]
        picks = [
            self._synthetic_items[bisect_right(self._synthetic_cum, rng.random() * top)]
            for _ in range(size)
        ]
        return _dedupe(picks)


@lru_cache(maxsize=1)
def _instacart_baskets() -> list[list[str]]:
    """Real Instacart orders, read once per process (callers copy before changing them)."""
    return load_order_baskets()


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
