"""A requested item's candidates: its pool's rows, which of them pass the hard rules, and
their content pair features.

A :class:`CandidateBlock` is what the store keeps per requested item between rankings: the
rule mask and the content columns that depend on the catalog only, over every row of the pool,
and the codes to fill the learned columns (history, popularity, interactions) live at each
ranking. It is apart from the pool's columns (:mod:`online_learning.aisle_matrix`) because it
outlives a ranking and is read by every ranking of the item, while the pool's columns are only
its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from online_learning.acceptance_history import AcceptanceHistory
from online_learning.feature_names import (
    _INTERACTIONS,
    _ITEM_HISTORY,
    _PAIR_HISTORY,
    _POPULARITY,
    BoolArray,
    FloatArray,
    IndexArray,
)
from online_learning.interaction_keys import PairKeys
from online_learning.interactions import InteractionWeights
from online_learning.popularity import Popularity

__all__ = ["CandidateBlock"]


@dataclass(slots=True)
class CandidateBlock:
    """A requested item's candidates and their content pair features.

    Everything here depends on the catalog only, so it is computed once per requested item
    and reused by every ranking of it (other stores, candidate stock-outs, model updates);
    availability and the learned columns (history, popularity) change and are applied per
    ranking.

    The rows are the whole pool's, in the pool's order, and ``allowed`` says which of them may
    replace the requested item (the hard rules; never the item itself). The ids, the id-to-row
    map and the per-row codes are the pool's own arrays, shared by every block of the pool, so
    a block costs its rule mask and its content columns, nothing per row in Python.
    """

    ids: tuple[str, ...]  # the item id of each row (the pool's)
    positions: Mapping[str, int]  # item id -> row (the pool's)
    allowed: BoolArray  # per row: passes the hard rules against the requested item
    content: FloatArray  # history columns are zero here; popularity as it was when built
    brand_codes: npt.NDArray[np.int64]  # per row, an index into brand_names; -1 unknown
    brand_names: tuple[str, ...]
    codes: IndexArray | None = None  # per row, the item's code in ``coded_by`` (fast fill)
    coded_by: AcceptanceHistory | None = None
    popularity_codes: IndexArray | None = None  # per row, the item's code in ``popularity``
    popularity: Popularity | None = None
    brand_index: Mapping[str, int] | None = None  # brand -> its code (brand_names inverted)
    # builds every row's hashed interaction keys, factored (:attr:`keys`), on first use
    keys_of: Callable[[], PairKeys] | None = None
    interactions: InteractionWeights | None = None  # the learned weights ``keys`` index
    # (interactions.n_learned, each row's interaction score then): every store's ranking of
    # an item between two feedback events reads the same scores (a refresh pass, above all)
    scored: tuple[int, FloatArray] | None = None
    n_allowed: int = field(init=False)  # how many rows are allowed
    _keys: PairKeys | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.n_allowed = int(np.count_nonzero(self.allowed))

    @property
    def keys(self) -> PairKeys | None:
        """Every row's hashed interaction keys, factored (None without interaction weights).

        Built on first use, not with the block: a ranking reads them only while the
        interaction weights count in predictions, and most blocks are built for one ranking.
        """
        if self._keys is None and self.keys_of is not None:
            self._keys, self.keys_of = self.keys_of(), None
        return self._keys

    @property
    def built_keys(self) -> PairKeys | None:
        """:attr:`keys` if they are built (reading a row of them costs nothing more), else
        None, without building them."""
        return self._keys

    @property
    def candidate_ids(self) -> tuple[str, ...]:
        """The ids of the rows that pass the hard rules, in row order."""
        ids = self.ids
        return tuple(ids[row] for row in np.flatnonzero(self.allowed).tolist())

    def with_history(
        self,
        requested_id: str,
        history: AcceptanceHistory,
        rows: IndexArray | None = None,
        interactions_count: bool = True,
    ) -> FloatArray:
        """The pair features of every row (or of ``rows``, in that order) as they are now:
        the content, the acceptance history of ``history``, the current popularity and the
        learned interactions. A ranking asks for the rows it may offer, so only those are
        copied and filled.

        ``interactions_count`` False: the interactions column stays 0, without building the
        keys or scoring them, for a model that weighs that column 0 (its interaction weights
        do not count yet, ``AcceptanceModel.interactions_count``): its predictions are the
        same, as 0 times a score is 0."""
        pair = self.content.copy() if rows is None else self.content[rows]
        interactions = self.interactions
        if interactions_count and interactions is not None and self.keys is not None:
            scored = self.scored
            if scored is None or scored[0] != interactions.n_learned:
                scored = self.scored = (
                    interactions.n_learned,
                    self.keys.scores(interactions.weights),
                )
            pair[:, _INTERACTIONS] = scored[1] if rows is None else scored[1][rows]
        if self.popularity is not None and self.popularity_codes is not None:
            codes = self.popularity_codes if rows is None else self.popularity_codes[rows]
            pair[:, _POPULARITY] = self.popularity.column(codes)
        # The pair history is written by item id, through ``positions`` (the pool's rows): for
        # a subset of rows, into a column of the whole pool, then gathered.
        pair_column = pair[:, _PAIR_HISTORY] if rows is None else np.zeros(len(self.ids))
        if self.codes is not None and history is self.coded_by:
            history.fill_codes(
                requested_id,
                self.codes if rows is None else self.codes[rows],
                self.positions,
                pair[:, _ITEM_HISTORY],
                pair_column,
            )
        elif rows is None:
            history.fill(requested_id, self.positions, pair[:, _ITEM_HISTORY], pair_column)
        else:
            item_column = np.zeros(len(self.ids))
            history.fill(requested_id, self.positions, item_column, pair_column)
            pair[:, _ITEM_HISTORY] = item_column[rows]
        if rows is not None:
            pair[:, _PAIR_HISTORY] = pair_column[rows]
        return pair
