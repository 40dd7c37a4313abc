"""Accepted / offered counts from feedback: the learned part of the pair features.

The features ``item_history`` and ``pair_history`` (:mod:`online_learning.features`) are the
smoothed log-odds that a candidate is accepted when offered for anything, and for this exact
requested item: an item's appeal and a pair's fit, which no name or price shows. They are 0
for every pair before any feedback. Everything else in the features depends on the catalog
only; this is what changes with every feedback event.

The counts live in columns, not in a dict of lists per pair: every item has a dense code,
every pair a row, and a row's counts sit in typed arrays (:mod:`array`, cheap to append to
and to index one element at a time, and viewed by NumPy without a copy). Millions of pairs
are then a handful of flat arrays, so a snapshot takes them in milliseconds and puts them
back without building a Python object per pair. The index from a requested item to its
pairs' rows is built per requested item, lazily, the first time one is asked for after a
:meth:`AcceptanceHistory.load_state`: a restart pays for the requested items it meets, not
for every pair ever offered.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["AcceptanceHistory"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


def _log_odds(accepted: int, offered: int) -> float:
    return max(-3.0, min(3.0, math.log((accepted + 1.0) / (offered - accepted + 1.0))))


class AcceptanceHistory:
    """Accepted / offered counts per candidate and per (requested, candidate) pair.

    >>> h = AcceptanceHistory()
    >>> h.update("milk", "oat", True); h.update("milk", "oat", True)
    >>> round(h.item_log_odds("oat"), 3), h.item_log_odds("never-offered")
    (1.099, 0.0)
    """

    def __init__(self) -> None:
        # Every item a candidate block or an update has named gets a dense code; the item
        # log-odds also live in a NumPy array by code (0.0 without history), so a ranking
        # reads its whole item_history column with one gather instead of a loop per row.
        self._codes: dict[str, int] = {}
        self._ids: list[str] = []
        self._item_accepted = array("q")
        self._item_offered = array("q")
        self._item_log_odds = np.zeros(1024, dtype=np.float64)
        # one row per pair, in the order pairs were first offered
        self._pair_requested = array("i")
        self._pair_candidate = array("i")
        self._pair_accepted = array("q")
        self._pair_offered = array("q")
        self._pair_log_odds = array("d")
        # requested code -> {candidate code: pair row}, built lazily after a load_state from
        # ``_pending`` (requested code -> its rows, taken from ``_loaded_candidates``)
        self._rows: dict[int, dict[int, int]] = {}
        self._pending: dict[int, npt.NDArray[np.int64]] = {}
        self._loaded_candidates: npt.NDArray[np.int32] | None = None

    def update(self, requested_id: str, candidate_id: str, accepted: bool) -> None:
        requested, candidate = self._code(requested_id), self._code(candidate_id)
        rows = self._index(requested)
        if rows is None:
            rows = self._rows[requested] = {}
        row = rows.get(candidate)
        if row is None:
            row = rows[candidate] = len(self._pair_offered)
            self._pair_requested.append(requested)
            self._pair_candidate.append(candidate)
            self._pair_accepted.append(0)
            self._pair_offered.append(0)
            self._pair_log_odds.append(0.0)
        a = 1 if accepted else 0
        pair_accepted = self._pair_accepted[row] + a
        pair_offered = self._pair_offered[row] + 1
        self._pair_accepted[row], self._pair_offered[row] = pair_accepted, pair_offered
        self._pair_log_odds[row] = _log_odds(pair_accepted, pair_offered)
        item_accepted = self._item_accepted[candidate] + a
        item_offered = self._item_offered[candidate] + 1
        self._item_accepted[candidate], self._item_offered[candidate] = item_accepted, item_offered
        self._item_log_odds[candidate] = _log_odds(item_accepted, item_offered)

    # -- what has history ----------------------------------------------------------------------
    @property
    def items(self) -> dict[str, list[int]]:
        """[accepted, offered] per candidate that was offered: a copy, for inspection."""
        accepted, offered, ids = self._item_accepted, self._item_offered, self._ids
        return {ids[c]: [accepted[c], offered[c]] for c in range(len(ids)) if offered[c]}

    @property
    def pairs(self) -> dict[tuple[str, str], list[int]]:
        """[accepted, offered] per (requested, candidate) pair: a copy, for inspection."""
        ids = self._ids
        return {
            (ids[r], ids[c]): [a, n]
            for r, c, a, n in zip(
                self._pair_requested,
                self._pair_candidate,
                self._pair_accepted,
                self._pair_offered,
                strict=True,
            )
        }

    def __len__(self) -> int:
        """Pairs with history."""
        return len(self._pair_offered)

    # -- snapshots -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The counts per candidate and per pair, by item code, for a snapshot: flat arrays
        copied whole (milliseconds for millions of pairs) and the code table."""

        def counts(accepted: array[int], offered: array[int]) -> npt.NDArray[np.int64]:
            return np.stack(
                [np.frombuffer(accepted, dtype=np.int64), np.frombuffer(offered, dtype=np.int64)],
                axis=1,
            )

        return {
            "items": list(self._ids),
            "item_counts": counts(self._item_accepted, self._item_offered),
            "requested": np.frombuffer(self._pair_requested, dtype=np.int32).copy(),
            "candidates": np.frombuffer(self._pair_candidate, dtype=np.int32).copy(),
            "pair_counts": counts(self._pair_accepted, self._pair_offered),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` in place (replacing these counts): the item codes that
        candidate blocks already hold stay valid (the snapshot's codes are mapped to them)."""
        items, item_counts = list(state["items"]), state["item_counts"]
        requested, candidates = state["requested"], state["candidates"]
        pair_counts = state["pair_counts"]
        n_pairs = len(requested)
        if not all(isinstance(i, str) for i in items) or len(set(items)) != len(items):
            raise ValueError("item ids must be distinct strings")
        if item_counts.shape != (len(items), 2):
            raise ValueError(f"{len(items)} items, counts of shape {item_counts.shape}")
        for name, column in (("requested", requested), ("candidates", candidates)):
            if not isinstance(column, np.ndarray) or column.shape != (n_pairs,):
                raise ValueError(f"{name}: not {n_pairs} item codes")
            if n_pairs and (column.min() < 0 or column.max() >= len(items)):
                raise ValueError(f"{name}: item codes outside the {len(items)} items")
        if pair_counts.shape != (n_pairs, 2):
            raise ValueError(f"{n_pairs} pairs, counts of shape {pair_counts.shape}")
        if (item_counts < 0).any() or (pair_counts < 0).any():
            raise ValueError("negative counts")
        # the snapshot's code -> this history's code (assigning codes to new ids)
        remap = np.array([self._code(i) for i in items], dtype=np.int64)
        size = len(self._ids)
        item_accepted, item_offered = np.zeros(size, np.int64), np.zeros(size, np.int64)
        item_accepted[remap], item_offered[remap] = item_counts[:, 0], item_counts[:, 1]
        self._item_accepted = array("q", item_accepted.tobytes())
        self._item_offered = array("q", item_offered.tobytes())
        # math.log, as update computes them: the same bits as a replay (NumPy's log may
        # round differently in the last place)
        self._item_log_odds[:] = 0.0
        accepted_list, offered_list = item_accepted.tolist(), item_offered.tolist()
        for code in np.flatnonzero(item_offered).tolist():
            self._item_log_odds[code] = _log_odds(accepted_list[code], offered_list[code])
        pair_requested = remap[requested].astype(np.int32)
        pair_candidate = remap[candidates].astype(np.int32)
        accepted, offered_pairs = (
            pair_counts[:, 0].astype(np.int64),
            pair_counts[:, 1].astype(np.int64),
        )
        self._pair_requested = array("i", pair_requested.tobytes())
        self._pair_candidate = array("i", pair_candidate.tobytes())
        self._pair_accepted = array("q", accepted.tobytes())
        self._pair_offered = array("q", offered_pairs.tobytes())
        # filled per requested item as its index is built (_take_pending)
        self._pair_log_odds = array("d", bytes(8 * n_pairs))
        # each requested item's rows, indexed when first asked for
        order = np.argsort(pair_requested, kind="stable")
        keys, starts = np.unique(pair_requested[order], return_index=True)
        ends = np.append(starts[1:], n_pairs)[: len(starts)]
        self._rows = {}
        self._pending = {
            int(k): order[s:e]
            for k, s, e in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True)
        }
        self._loaded_candidates = pair_candidate

    def _take_pending(self, requested: int) -> dict[int, int]:
        """The rows of ``requested`` loaded by :meth:`load_state` and not indexed yet, as its
        index (empty if none)."""
        rows = self._pending.pop(requested, None)
        if rows is None or self._loaded_candidates is None:
            return {}
        row_list = rows.tolist()
        index = dict(zip(self._loaded_candidates[rows].tolist(), row_list, strict=True))
        accepted, offered, log_odds = self._pair_accepted, self._pair_offered, self._pair_log_odds
        for row in row_list:
            log_odds[row] = _log_odds(accepted[row], offered[row])
        if not self._pending:
            self._loaded_candidates = None
        return index

    def _rows_of(self, requested_id: str) -> dict[int, int] | None:
        """The candidate code -> pair row index of ``requested_id``; None without pairs."""
        requested = self._codes.get(requested_id)
        return None if requested is None else self._index(requested)

    def _index(self, requested: int) -> dict[int, int] | None:
        """The candidate code -> pair row index of a requested item's code, built from what
        :meth:`load_state` left pending if this is its first use; None without pairs."""
        rows = self._rows.get(requested)
        if rows is None and requested in self._pending:
            rows = self._rows[requested] = self._take_pending(requested)
        return rows

    # -- codes ---------------------------------------------------------------------------------
    def _code(self, item_id: str) -> int:
        code = self._codes.get(item_id)
        if code is None:
            code = self._codes[item_id] = len(self._ids)
            self._ids.append(item_id)
            self._item_accepted.append(0)
            self._item_offered.append(0)
            if code >= len(self._item_log_odds):
                grown = np.zeros(2 * len(self._item_log_odds), dtype=np.float64)
                grown[:code] = self._item_log_odds[:code]
                self._item_log_odds = grown
        return code

    def codes(self, item_ids: Sequence[str]) -> IndexArray:
        """Dense codes of ``item_ids`` (new ones assigned), for :meth:`fill_codes`."""
        code = self._code
        return np.fromiter((code(i) for i in item_ids), dtype=np.intp, count=len(item_ids))

    # -- reading -------------------------------------------------------------------------------
    def item_log_odds(self, candidate_id: str) -> float:
        code = self._codes.get(candidate_id)
        return 0.0 if code is None else float(self._item_log_odds[code])

    def pair_log_odds(self, requested_id: str, candidate_id: str) -> float:
        rows = self._rows_of(requested_id)
        candidate = self._codes.get(candidate_id)
        if not rows or candidate is None:
            return 0.0
        row = rows.get(candidate)
        return 0.0 if row is None else self._pair_log_odds[row]

    def fill(
        self,
        requested_id: str,
        positions: Mapping[str, int],
        item_column: FloatArray,
        pair_column: FloatArray,
    ) -> None:
        """Write the item and pair log-odds of every row; ``positions`` maps item id -> row.

        Rows without history keep their values (zeros in a fresh feature matrix, whose two
        history columns are passed as views).
        """
        get, offered, log_odds = self._codes.get, self._item_offered, self._item_log_odds
        for item_id, row in positions.items():
            code = get(item_id)
            if code is not None and offered[code]:
                item_column[row] = log_odds[code]
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
        not grow with the share of a pool that has feedback. ``codes`` goes with the rows of
        ``item_column`` and ``positions`` with those of ``pair_column``: a caller may fill the
        item column of a few rows and the pair column of the whole pool.
        """
        item_column[:] = self._item_log_odds[codes]
        self._fill_pairs(requested_id, positions, pair_column)

    def _fill_pairs(
        self, requested_id: str, positions: Mapping[str, int], pair_column: FloatArray
    ) -> None:
        rows = self._rows_of(requested_id)
        if not rows:
            return
        ids, log_odds, get = self._ids, self._pair_log_odds, positions.get
        for candidate, pair_row in rows.items():
            row = get(ids[candidate])
            if row is not None:
                pair_column[row] = log_odds[pair_row]
