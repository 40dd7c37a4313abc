"""Accepted / offered counts from feedback: the learned part of the pair features.

The features ``item_history`` and ``pair_history`` (:mod:`online_learning.features`) are the
smoothed log-odds that a candidate is accepted when offered for anything, and for this exact
requested item: an item's appeal and a pair's fit, which no name or price shows. They are 0
for every pair before any feedback. Everything else in the features depends on the catalog
only; this is what changes with every feedback event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AcceptanceHistory"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


class AcceptanceHistory:
    """Accepted / offered counts per candidate and per (requested, candidate) pair.

    >>> h = AcceptanceHistory()
    >>> h.update("milk", "oat", True); h.update("milk", "oat", True)
    >>> round(h.item_log_odds("oat"), 3), h.item_log_odds("never-offered")
    (1.099, 0.0)
    """

    def __init__(self) -> None:
        self.items: dict[str, list[int]] = {}
        self.pairs: dict[tuple[str, str], list[int]] = {}
        self._by_requested: dict[str, dict[str, list[int]]] = {}  # the same counts, by request
        # Every item a candidate block or an update has named gets a dense code, and the
        # item log-odds live in an array by code (0.0 without history), so a ranking reads
        # its whole item_history column with one gather instead of a Python loop per row.
        self._codes: dict[str, int] = {}
        self._item_log_odds = np.zeros(1024, dtype=np.float64)

    def update(self, requested_id: str, candidate_id: str, accepted: bool) -> None:
        pair = self.pairs.get((requested_id, candidate_id))
        if pair is None:
            pair = self.pairs[requested_id, candidate_id] = [0, 0]
            self._by_requested.setdefault(requested_id, {})[candidate_id] = pair
        item = self.items.setdefault(candidate_id, [0, 0])
        for counts in (item, pair):
            counts[0] += accepted
            counts[1] += 1
        # The code first: assigning a new one may grow (replace) the array, and in
        # ``array[code(...)] = v`` Python would fetch the old array before the code.
        code = self._code(candidate_id)
        self._item_log_odds[code] = self._log_odds(item)

    def state(self) -> dict[str, Any]:
        """The accepted / offered counts per candidate and per pair, for a snapshot."""

        def counts(values: Iterable[list[int]], n: int) -> npt.NDArray[np.int64]:
            flat = np.fromiter(chain.from_iterable(values), dtype=np.int64, count=2 * n)
            return flat.reshape(n, 2)

        return {
            "items": list(self.items),
            "item_counts": counts(self.items.values(), len(self.items)),
            "requested": [r for r, _ in self.pairs],
            "candidates": [c for _, c in self.pairs],
            "pair_counts": counts(self.pairs.values(), len(self.pairs)),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` in place (replacing these counts): the item codes that
        candidate blocks already hold stay valid."""
        items, item_counts = state["items"], state["item_counts"]
        requested, candidates = state["requested"], state["candidates"]
        pair_counts = state["pair_counts"]
        if item_counts.shape != (len(items), 2):
            raise ValueError(f"{len(items)} items, counts of shape {item_counts.shape}")
        if len(candidates) != len(requested) or pair_counts.shape != (len(requested), 2):
            raise ValueError(f"{len(requested)} pairs, counts of shape {pair_counts.shape}")
        self.items = dict(zip(items, item_counts.tolist(), strict=True))
        counts = pair_counts.tolist()
        self.pairs = dict(zip(zip(requested, candidates, strict=True), counts, strict=True))
        self._by_requested = {}
        for r, c, pair in zip(requested, candidates, counts, strict=True):
            self._by_requested.setdefault(r, {})[c] = pair  # the same lists as in pairs
        self._item_log_odds[:] = 0.0
        for item_id, counts in self.items.items():
            code = self._code(item_id)  # first: a new code may replace the array
            self._item_log_odds[code] = self._log_odds(counts)

    def _code(self, item_id: str) -> int:
        code = self._codes.get(item_id)
        if code is None:
            code = self._codes[item_id] = len(self._codes)
            if code >= len(self._item_log_odds):
                grown = np.zeros(2 * len(self._item_log_odds), dtype=np.float64)
                grown[:code] = self._item_log_odds[:code]
                self._item_log_odds = grown
        return code

    def codes(self, item_ids: Sequence[str]) -> IndexArray:
        """Dense codes of ``item_ids`` (new ones assigned), for :meth:`fill_codes`."""
        code = self._code
        return np.fromiter((code(i) for i in item_ids), dtype=np.intp, count=len(item_ids))

    @staticmethod
    def _log_odds(counts: list[int] | None) -> float:
        if counts is None:
            return 0.0
        accepted, offered = counts
        return max(-3.0, min(3.0, math.log((accepted + 1.0) / (offered - accepted + 1.0))))

    def item_log_odds(self, candidate_id: str) -> float:
        return self._log_odds(self.items.get(candidate_id))

    def pair_log_odds(self, requested_id: str, candidate_id: str) -> float:
        return self._log_odds(self.pairs.get((requested_id, candidate_id)))

    def fill(
        self,
        requested_id: str,
        positions: Mapping[str, int],
        item_column: FloatArray,
        pair_column: FloatArray,
    ) -> None:
        """Write the item and pair log-odds of every row; ``positions`` maps item id -> row.

        Walks whichever is smaller, the items with history or the rows, so a large pool with
        little feedback (or the reverse) stays cheap. Rows without history keep their values
        (zeros in a fresh feature matrix, whose two history columns are passed as views).
        """
        log_odds = self._log_odds
        if len(self.items) < len(positions):
            for item_id, counts in self.items.items():
                row = positions.get(item_id)
                if row is not None:
                    item_column[row] = log_odds(counts)
        else:
            get = self.items.get
            for item_id, row in positions.items():
                found = get(item_id)
                if found is not None:
                    item_column[row] = log_odds(found)
        self._fill_pairs(requested_id, positions, pair_column)

    def fill_codes(
        self,
        requested_id: str,
        codes: IndexArray,
        positions: Mapping[str, int],
        item_column: FloatArray,
        pair_column: FloatArray,
    ) -> None:
        """:meth:`fill` for rows whose item codes are known (``codes[row]``, from :meth:`codes`).

        The same numbers as :meth:`fill`; the item column is one gather, so its cost does
        not grow with the share of a pool that has feedback.
        """
        item_column[:] = self._item_log_odds[codes]
        self._fill_pairs(requested_id, positions, pair_column)

    def _fill_pairs(
        self, requested_id: str, positions: Mapping[str, int], pair_column: FloatArray
    ) -> None:
        log_odds = self._log_odds
        for item_id, counts in self._by_requested.get(requested_id, {}).items():
            row = positions.get(item_id)
            if row is not None:
                pair_column[row] = log_odds(counts)
