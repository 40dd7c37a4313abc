"""A requested item's rule-passing candidates and their content pair features.

A :class:`CandidateBlock` is what the store keeps per requested item between rankings: the
candidate ids, the content columns that depend on the catalog only, and the codes to fill the
learned columns (history, popularity, interactions) live at each ranking. It is apart from the
pool's columns (:mod:`online_learning.aisle_matrix`) because it outlives a ranking and is read
by every ranking of the item, while the pool's columns are only its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from online_learning.acceptance_history import AcceptanceHistory
from online_learning.feature_names import (
    _INTERACTIONS,
    _ITEM_HISTORY,
    _PAIR_HISTORY,
    _POPULARITY,
    FloatArray,
    IndexArray,
)
from online_learning.interactions import InteractionWeights, KeyIndex
from online_learning.popularity import Popularity

__all__ = ["CandidateBlock"]


@dataclass(slots=True)
class CandidateBlock:
    """A requested item's rule-passing candidates and their content pair features.

    Everything here depends on the catalog only, so it is computed once per requested item
    and reused by every ranking of it (other stores, candidate stock-outs, model updates);
    availability and the learned columns (history, popularity) change and are applied per
    ranking.
    """

    ids: tuple[str, ...]
    positions: dict[str, int]
    content: FloatArray  # history columns are zero here; popularity as it was when built
    brand_codes: npt.NDArray[np.int64]  # per row, an index into brand_names; -1 unknown
    brand_names: tuple[str, ...]
    codes: IndexArray | None = None  # per row, the item's code in ``coded_by`` (fast fill)
    coded_by: AcceptanceHistory | None = None
    popularity_codes: IndexArray | None = None  # per row, the item's code in ``popularity``
    popularity: Popularity | None = None
    brand_index: Mapping[str, int] | None = None  # brand -> its code (brand_names inverted)
    keys: KeyIndex | None = None  # per row, the pair's hashed interaction keys
    interactions: InteractionWeights | None = None  # the learned weights ``keys`` index
    # (interactions.n_learned, each row's interaction score then): every store's ranking of
    # an item between two feedback events reads the same scores (a refresh pass, above all)
    scored: tuple[int, FloatArray] | None = None

    def with_history(self, requested_id: str, history: AcceptanceHistory) -> FloatArray:
        """The pair features of every row as they are now: the content, the acceptance
        history of ``history``, the current popularity and the learned interactions."""
        pair = self.content.copy()
        interactions = self.interactions
        if self.keys is not None and interactions is not None:
            scored = self.scored
            if scored is None or scored[0] != interactions.n_learned:
                scored = self.scored = (interactions.n_learned, interactions.scores(self.keys))
            pair[:, _INTERACTIONS] = scored[1]
        if self.popularity is not None and self.popularity_codes is not None:
            pair[:, _POPULARITY] = self.popularity.column(self.popularity_codes)
        if self.codes is not None and history is self.coded_by:
            history.fill_codes(
                requested_id,
                self.codes,
                self.positions,
                pair[:, _ITEM_HISTORY],
                pair[:, _PAIR_HISTORY],
            )
        else:
            history.fill(
                requested_id, self.positions, pair[:, _ITEM_HISTORY], pair[:, _PAIR_HISTORY]
            )
        return pair
