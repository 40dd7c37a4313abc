"""Stock on the simulated shelves, and what the store system reports of it.

Each (store, item) pair is a two-state Markov process over sim time (in stock, out) whose
trajectory is a pure function of (seed, store, item, time): the n-th flip's waiting time is a
keyed draw, so which pairs anyone looks at, and in which order, never changes what is on the
shelf. State exists only for pairs touched. An item's long-run out-of-stock share is the
configured rate, scaled up for less popular items (and down for popular ones) so that the
order-line-weighted mean stays at it, times a per-store factor.

Once a shopper has picked a pair the store system watches it: every later flip is reported
as ``in_stock`` or ``out_of_stock``, each with its configured probability.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from dataclasses import dataclass

from online_learning.contract import InventorySignal
from online_learning.offline.baskets import Baskets
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.sim_config import SimConfig

__all__ = ["Shelves"]

_STORE_SYSTEM = "store_system"


@dataclass(frozen=True, slots=True)
class _ItemStock:
    out_probability: float  # long-run share of time out, before the store factor
    restock_rate: float  # per second (1 / mean time to restock)


class _Shelf:
    """One (store, item) pair's stock: current state, next flip time, flips so far."""

    __slots__ = ("flips", "in_stock", "next_flip", "out_rate", "registered", "restock_rate")

    def __init__(self, in_stock: bool, out_rate: float, restock_rate: float) -> None:
        self.in_stock = in_stock
        self.out_rate = out_rate  # in stock -> out, per second
        self.restock_rate = restock_rate  # out -> in stock, per second
        self.next_flip = math.inf
        self.flips = 0
        self.registered = False  # the store system reports its flips (the pair was picked)


class Shelves:
    """Every touched shelf of one simulation; reports go to ``signals`` as they happen.

    ``counts`` holds the watched shelves' ``stock_outs`` and ``restocks``.
    """

    def __init__(
        self,
        config: SimConfig,
        draws: KeyedRandom,
        baskets: Baskets,
        signals: list[InventorySignal],
    ) -> None:
        self._config = config
        self._draws = draws
        self._baskets = baskets
        self._signals = signals
        self.counts: Counter[str] = Counter()
        self._scarcity_norm = self._popularity_normaliser()
        self._stock_cache: dict[str, _ItemStock] = {}
        self._store_factor: dict[str, float] = {}
        self._shelves: dict[tuple[str, str], _Shelf] = {}
        self._flip_queue: list[tuple[float, int, str, str]] = []  # watched shelves' next flips
        self._seq = itertools.count()

    def __len__(self) -> int:
        """How many (store, item) pairs have a shelf (were touched)."""
        return len(self._shelves)

    def pick(self, store_id: str, item_id: str, ts: float) -> bool:
        """A shopper looks at the shelf at ``ts``: whether the item is truly there. From now on
        the store system watches the pair."""
        shelf = self._shelf(store_id, item_id)
        self._roll(store_id, item_id, shelf, ts)
        if not shelf.registered:
            shelf.registered = True
            self._schedule(store_id, item_id, shelf)
        return shelf.in_stock

    def in_stock(self, store_id: str, item_id: str, ts: float) -> bool:
        """Whether the item is on the shelf at ``ts`` (hidden truth; nobody is told)."""
        shelf = self._shelf(store_id, item_id)
        self._roll(store_id, item_id, shelf, ts)
        return shelf.in_stock

    def report_until(self, end: float) -> None:
        """Report every flip of the watched shelves up to ``end``."""
        queue = self._flip_queue
        while queue and queue[0][0] <= end:
            due, _, store_id, item_id = heapq.heappop(queue)
            shelf = self._shelves[(store_id, item_id)]
            if due == shelf.next_flip:  # otherwise stale: a pick rolled it on already
                self._roll(store_id, item_id, shelf, end)

    def _popularity_normaliser(self) -> float:
        """Scale so the order-line-weighted mean out-of-stock probability is the configured one."""
        popularity = self._baskets.popularity
        total = sum(popularity.values())
        if total <= 0:
            return 1.0
        score = self._baskets.popularity_score
        weighted = sum(count * (1.5 - score(item)) for item, count in popularity.items())
        return total / weighted

    def _stock_traits(self, item_id: str) -> _ItemStock:
        traits = self._stock_cache.get(item_id)
        if traits is None:
            cfg = self._config
            scarcity = (1.5 - self._baskets.popularity_score(item_id)) * self._scarcity_norm
            noise = math.exp(0.4 * self._draws.normal(f"oos|{item_id}") - 0.08)  # mean 1
            low, high = cfg.restock_minutes
            minutes = low + (high - low) * self._draws.uniform(f"restock|{item_id}")
            traits = _ItemStock(cfg.out_of_stock_rate * scarcity * noise, 1.0 / (60.0 * minutes))
            self._stock_cache[item_id] = traits
        return traits

    def _shelf(self, store_id: str, item_id: str) -> _Shelf:
        """The pair's shelf, created at sim start from its stationary distribution if new."""
        key = (store_id, item_id)
        shelf = self._shelves.get(key)
        if shelf is None:
            traits = self._stock_traits(item_id)
            factor = self._store_factor.get(store_id)
            if factor is None:
                factor = math.exp(0.3 * self._draws.normal(f"store|{store_id}") - 0.045)
                self._store_factor[store_id] = factor
            p_out = min(0.5, traits.out_probability * factor)
            out_rate = traits.restock_rate * p_out / (1.0 - p_out)
            in_stock = self._draws.uniform(f"shelf|{store_id}|{item_id}|0") >= p_out
            shelf = _Shelf(in_stock, out_rate, traits.restock_rate)
            shelf.next_flip = self._next_flip(store_id, item_id, shelf, self._config.start_ts)
            self._shelves[key] = shelf
        return shelf

    def _next_flip(self, store_id: str, item_id: str, shelf: _Shelf, since: float) -> float:
        rate = shelf.out_rate if shelf.in_stock else shelf.restock_rate
        if rate <= 0:
            return math.inf
        u = self._draws.uniform(f"shelf|{store_id}|{item_id}|{shelf.flips + 1}")
        return since - math.log(u) / rate

    def _roll(self, store_id: str, item_id: str, shelf: _Shelf, until: float) -> None:
        """Apply the shelf's flips up to ``until``; a watched shelf reports them."""
        if shelf.next_flip > until:
            return
        cfg = self._config
        while shelf.next_flip <= until:
            at = shelf.next_flip
            shelf.in_stock = not shelf.in_stock
            shelf.flips += 1
            shelf.next_flip = self._next_flip(store_id, item_id, shelf, at)
            if shelf.registered:
                self.counts["restocks" if shelf.in_stock else "stock_outs"] += 1
                report = self._draws.uniform(f"report|{store_id}|{item_id}|{shelf.flips}")
                if shelf.in_stock and report < cfg.in_stock_signal_rate:
                    self._signals.append(
                        InventorySignal(store_id, item_id, "in_stock", at, None, _STORE_SYSTEM)
                    )
                elif not shelf.in_stock and report < cfg.out_of_stock_signal_rate:
                    self._signals.append(
                        InventorySignal(store_id, item_id, "out_of_stock", at, 0, _STORE_SYSTEM)
                    )
        if shelf.registered:
            self._schedule(store_id, item_id, shelf)

    def _schedule(self, store_id: str, item_id: str, shelf: _Shelf) -> None:
        if shelf.next_flip < math.inf:
            heapq.heappush(self._flip_queue, (shelf.next_flip, next(self._seq), store_id, item_id))
