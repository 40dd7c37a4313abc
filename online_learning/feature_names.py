"""The feature names in column order, the column positions and the array types of feature rows.

What each feature means is told in :mod:`online_learning.features`. The names live in a module
of their own so that the modules building the columns (:mod:`online_learning.aisle_matrix`,
:mod:`online_learning.candidate_block`) and the store that caches them
(:mod:`online_learning.features`) share one column order without importing each other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from online_learning.interaction_keys import AISLE_FEATURE_BINS

__all__ = ["FEATURES", "N_FEATURES", "BoolArray", "FloatArray", "IndexArray"]

FEATURES: tuple[str, ...] = (
    "name_jaccard",
    "brand_match",
    "brand_differs",
    "size_log_ratio",
    "size_unknown",
    "price_log_ratio",
    "tag_jaccard",
    "tags_lost",
    "popularity",
    "item_history",
    "pair_history",
    "kind_jaccard",
    "fat_distance",
    "fat_unknown",
    "price_up",
    "interactions",
)
N_FEATURES = len(FEATURES)
_KIND, _FAT_DISTANCE, _FAT_UNKNOWN, _PRICE_UP = (
    FEATURES.index(name) for name in ("kind_jaccard", "fat_distance", "fat_unknown", "price_up")
)
_ITEM_HISTORY, _PAIR_HISTORY = FEATURES.index("item_history"), FEATURES.index("pair_history")
_POPULARITY = FEATURES.index("popularity")
_INTERACTIONS = FEATURES.index("interactions")
# The content columns the interaction keys bin per aisle (never a learned one: those change
# under a cached key).
_BINNED_COLUMNS = [FEATURES.index(name) for name in AISLE_FEATURE_BINS]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
