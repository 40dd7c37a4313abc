"""P(available) for each (store, item), from stock signals, decaying back to a prior as they age.

Only pairs that were observed are stored, so memory follows the stream, not stores x items.
Each entry is the probability right after the last signal, its event time, and whether it is
held (an ``out_of_stock`` holds the item near zero until ``in_stock`` or ``found``). Between
signals the probability relaxes exponentially toward the prior with a configurable half-life:
evidence about a shelf goes stale.

Signals are applied in event time: one older than the entry it would update is ignored, so a
reordered or replayed stream does not undo newer evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt

__all__ = ["AvailabilityConfig", "AvailabilityState"]


@dataclass(frozen=True, slots=True)
class AvailabilityConfig:
    """How signals move P(available); defaults suit a grocery store on a busy day."""

    prior: float = 0.9
    half_life_s: float = 4 * 3600.0
    found: float = 0.97
    in_stock: float = 0.98
    out_of_stock: float = 0.02
    not_found_factor: float = 0.3  # a shopper's miss is strong evidence, not proof

    def __post_init__(self) -> None:
        for name in ("prior", "found", "in_stock", "out_of_stock", "not_found_factor"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"availability {name} must be in [0, 1], got {value}")
        if not self.half_life_s > 0:
            raise ValueError(f"availability half_life_s must be > 0, got {self.half_life_s}")


class _Met:
    """What :meth:`AvailabilityState.p_many` found of one store's items in one pool."""

    __slots__ = ("counted", "found", "positions")

    def __init__(self, positions: Mapping[str, int], counted: int, found: list[str]) -> None:
        self.positions = positions  # the pool's id -> row map it was found in
        self.counted = counted  # how many items the store had met then
        self.found = found  # those of them the pool holds


class AvailabilityState:
    """Per-store maps of item -> (p after last signal, its ts, held).

    >>> a = AvailabilityState(AvailabilityConfig(prior=0.9, half_life_s=3600))
    >>> a.p("s1", "milk", now=0.0)
    0.9
    >>> a.observe("s1", "milk", "not_found", ts=0.0)
    (0.9, 0.27)
    >>> round(a.p("s1", "milk", now=3600.0), 3)  # halfway back to the prior after a half-life
    0.585
    >>> a.observe("s1", "milk", "out_of_stock", ts=10.0)[1]
    0.02
    >>> a.p("s1", "milk", now=1e9)  # held until restocked
    0.02
    >>> a.observe("s1", "milk", "in_stock", ts=5.0) is None  # older than the state: ignored
    True
    """

    __slots__ = ("_met", "_stores", "config")

    def __init__(self, config: AvailabilityConfig | None = None) -> None:
        self.config = config or AvailabilityConfig()
        # store -> item -> (p, ts, held); tuples of floats keep entries small. An item's entry
        # is never removed on its own (only a whole store's), so a store's dict holds its
        # items in the order first met, and the items met after the first k are its last ones.
        self._stores: dict[str, dict[str, tuple[float, float, bool]]] = {}
        # store -> pool -> what p_many found of the store's items in that pool
        self._met: dict[str, dict[str, _Met]] = {}

    def __len__(self) -> int:
        return sum(len(items) for items in self._stores.values())

    def store_count(self) -> int:
        return len(self._stores)

    def p(self, store_id: str, item_id: str, now: float) -> float:
        """P(available) at event time ``now``; the prior for an unseen pair."""
        items = self._stores.get(store_id)
        entry = items.get(item_id) if items is not None else None
        if entry is None:
            return self.config.prior
        return self._decayed(entry, now)

    def p_many(
        self,
        store_id: str,
        item_ids: Sequence[str],
        now: float,
        positions: Mapping[str, int] | None = None,
        pool: str | None = None,
    ) -> npt.NDArray[np.float64]:
        """P(available) for many items of one store, as :meth:`p` gives them one by one.

        A ranking asks for a whole candidate pool, of which a store has observed only a few.
        ``positions`` (each distinct id of ``item_ids`` -> its index, as a candidate block
        keeps it) lets the store's observed items and the pool meet in one C-level set
        intersection over the smaller of the two; without it, membership is one C-level pass
        over ``item_ids``. Either way Python touches only the observed items.

        ``pool``: a name for ``positions`` (a candidate pool's id-to-row map, the same object
        for as long as the pool is unchanged). The store's items found in it are remembered,
        so the next call for this store and pool looks only at the items the store met since:
        the intersection, which grows with the pool (hundreds to a few thousand ids), is
        done once per store and pool, not once per ranking.

        >>> state = AvailabilityState()
        >>> _ = state.observe("s1", "oat", "out_of_stock", ts=0.0)
        >>> ids = ("oat", "soy")
        >>> state.p_many("s1", ids, 0.0, {"oat": 0, "soy": 1}).tolist()
        [0.02, 0.9]
        """
        n = len(item_ids)
        out = np.full(n, self.config.prior, dtype=np.float64)
        items = self._stores.get(store_id)
        if not items or n == 0:
            return out
        decayed = self._decayed
        if positions is not None:
            found = (
                items.keys() & positions.keys()
                if pool is None
                else self._found(store_id, items, pool, positions)
            )
            for item_id in found:
                out[positions[item_id]] = decayed(items[item_id], now)
            return out
        observed = np.fromiter(map(items.__contains__, item_ids), dtype=bool, count=n)
        for row in np.flatnonzero(observed).tolist():
            out[row] = decayed(items[item_ids[row]], now)
        return out

    def _found(
        self,
        store_id: str,
        items: dict[str, tuple[float, float, bool]],
        pool: str,
        positions: Mapping[str, int],
    ) -> list[str]:
        """The store's items that ``positions`` holds, remembered under ``pool``."""
        by_pool = self._met.setdefault(store_id, {})
        met = by_pool.get(pool)
        if met is None or met.positions is not positions:  # first time, or a rebuilt pool
            met = by_pool[pool] = _Met(positions, len(items), list(items.keys() & positions.keys()))
            return met.found
        new = len(items) - met.counted
        if new:  # the store's newest ``new`` items are the ones met since (a C-level scan)
            met.found.extend(filter(positions.__contains__, islice(reversed(items), new)))
            met.counted = len(items)
        return met.found

    def _decayed(self, entry: tuple[float, float, bool], now: float) -> float:
        p0, t0, held = entry
        if held or now <= t0:
            return p0
        prior = self.config.prior
        return prior + (p0 - prior) * 0.5 ** ((now - t0) / self.config.half_life_s)

    def last_ts(self, store_id: str, item_id: str) -> float | None:
        entry = self._stores.get(store_id, {}).get(item_id)
        return None if entry is None else entry[1]

    def observe(
        self, store_id: str, item_id: str, signal: str, ts: float
    ) -> tuple[float, float] | None:
        """Apply a signal; returns (p before, p after) at ``ts``, or None if it was stale."""
        items = self._stores.setdefault(store_id, {})
        entry = items.get(item_id)
        if entry is not None and ts < entry[1]:
            return None
        before = self.config.prior if entry is None else self._decayed(entry, ts)
        cfg = self.config
        if signal == "found":
            after, held = cfg.found, False
        elif signal == "in_stock":
            after, held = cfg.in_stock, False
        elif signal == "out_of_stock":
            after, held = cfg.out_of_stock, True
        elif signal == "not_found":
            # A miss is more evidence of absence: it must not release an out_of_stock hold.
            held = entry is not None and entry[2]
            after = round(before * cfg.not_found_factor, 12)
        else:
            raise ValueError(f"unknown signal {signal!r}")
        items[item_id] = (after, ts, held)
        return before, after

    def snapshot(self) -> dict[str, dict[str, tuple[float, float, bool]]]:
        """A copy of the raw entries (for checkpoints and tests)."""
        return {store: dict(items) for store, items in self._stores.items()}

    # -- durable state (the worker's changelog writes and restores these) ----------------------
    def entry(self, store_id: str, item_id: str) -> tuple[float, float, bool] | None:
        """The raw (p, ts, held) of one pair, or None if it was never observed."""
        items = self._stores.get(store_id)
        return None if items is None else items.get(item_id)

    def restore(self, store_id: str, item_id: str, p: float, ts: float, held: bool) -> None:
        """Put back an entry exactly as :meth:`entry` returned it (no decay, no staleness check).

        >>> a = AvailabilityState()
        >>> a.restore("s1", "milk", 0.27, 10.0, False)
        >>> a.entry("s1", "milk"), len(a)
        ((0.27, 10.0, False), 1)
        """
        self._stores.setdefault(store_id, {})[item_id] = (p, ts, held)

    def forget_stores(self, store_ids: set[str] | frozenset[str]) -> int:
        """Drop every entry of these stores (their partition moved to another worker).

        Returns how many entries were dropped.
        """
        dropped = 0
        for store_id in store_ids:
            self._met.pop(store_id, None)  # a store met again starts a new dict
            items = self._stores.pop(store_id, None)
            if items is not None:
                dropped += len(items)
        return dropped
