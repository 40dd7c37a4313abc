"""Features of a (requested item, candidate) pair, computed for a whole aisle at once.

Everything that depends on one item only (tokens, brand, size in base units, log price, tags)
is computed once per item into an :class:`AisleMatrix`; the pair features for one requested
item against every candidate of an aisle are then a handful of NumPy operations.
The learner sees the same numbers as dicts (:func:`pair_features`), so River's model and the
vectorised scorer agree by construction.

Feature meanings (all roughly in [-3, 3], so SGD needs no scaler):

- ``name_jaccard``: Jaccard overlap of the name tokens.
- ``brand_match`` / ``brand_differs``: both brands known and equal / both known and different.
- ``size_log_ratio``: |log(candidate size / requested size)| in base units, 0 when unknown.
- ``size_unknown``: 1 when the two sizes cannot be compared.
- ``price_log_ratio``: log(candidate price / requested price), clipped to [-2, 2].
- ``tag_jaccard``: overlap of tags (1 when neither has any).
- ``tags_lost``: how many of the requested item's tags the candidate lacks (clipped to 3).
- ``popularity``: how much the candidate is in demand, in [0, 1]: the demand the stream shows,
  fading over days, seeded by the grocer's own figure (:mod:`online_learning.popularity`).
- ``item_history``: smoothed log-odds that the candidate is accepted when offered for anything
  (0 with no feedback yet): an item's appeal, which no name or price shows.
- ``pair_history``: the same for this exact (requested, candidate) pair.
- ``kind_jaccard``: Jaccard overlap of what the products *are*: the name's tokens without the
  brand, the size and joining words ("Whole Milk" vs "Skim Milk").
- ``fat_distance`` / ``fat_unknown``: steps between fat levels (whole, reduced, low, free)
  when the requested item states one; whether the candidate states none.
- ``price_up``: how much dearer the candidate is (price ratio - 1, 0 when cheaper): customers
  mind paying more far more than they enjoy paying less.
- ``interactions``: the summed learned weight of the pair's hashed interaction keys (words,
  brands, tags and binned features of the two items, per aisle:
  :mod:`online_learning.interactions`); 0 before any feedback, and its model weight is 1.

The two history features come from feedback (:mod:`online_learning.acceptance_history`), so
they are the learned part of the features; they are 0 for every pair before any feedback.
Popularity is learned too, from the shared learning log, and so are the interaction weights
(the model's). These four columns change while the catalog stands still, so they are never
cached: a ranking reads them live (by item code; the interactions through the pair's hashed
keys, which are cached with the candidates), and what was learned reaches the next ranking
and the next feedback event at once.
Everything else here is one pipeline from products to feature rows: an item's columns
(:func:`item_row`), a pool's matrix (:class:`AisleMatrix`), a requested item's features against
its pool with the rule-passing candidates marked (:class:`CandidateBlock`) and the cache of both
(:class:`FeatureStore`).
The pieces live in modules of their own, re-exported here so that this module stays the one
entry point: :mod:`online_learning.feature_names` (names, column positions, array types),
:mod:`online_learning.item_rows` (one item's precomputed part),
:mod:`online_learning.aisle_matrix` (a pool's columns and the vectorised pair features) and
:mod:`online_learning.candidate_block` (a requested item's candidates); this module keeps the
cache (:class:`FeatureStore`) and :func:`pair_features`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Protocol

import numpy as np

from online_learning.acceptance_history import AcceptanceHistory
from online_learning.aisle_matrix import AisleMatrix, TokenSets
from online_learning.candidate_block import CandidateBlock
from online_learning.contract import Product
from online_learning.feature_names import (
    _INTERACTIONS,
    _ITEM_HISTORY,
    _PAIR_HISTORY,
    _POPULARITY,
    FEATURES,
    N_FEATURES,
    BoolArray,
    FloatArray,
    IndexArray,
)
from online_learning.interaction_keys import KeyIndex
from online_learning.interactions import InteractionWeights
from online_learning.item_rows import ItemRow, TagVocabulary, fat_level, item_row
from online_learning.popularity import Popularity
from online_learning.rules import HardRules

__all__ = [
    "FEATURES",
    "N_FEATURES",
    "AcceptanceHistory",
    "AisleMatrix",
    "BoolArray",
    "CandidateBlock",
    "CatalogLike",
    "FeatureStore",
    "FloatArray",
    "IndexArray",
    "ItemRow",
    "TagVocabulary",
    "TokenSets",
    "fat_level",
    "item_row",
    "pair_features",
]


class CatalogLike(Protocol):
    """What :class:`FeatureStore` needs of a catalog (see online_learning.catalog.Catalog)."""

    def get(self, item_id: str) -> Product | None: ...

    def pool_items(self, key: str, scope: str) -> tuple[str, ...]: ...

    def pool_version(self, key: str, scope: str) -> int: ...

    def pool_keys(self, scope: str) -> list[str]: ...


class FeatureStore:
    """Caches one :class:`AisleMatrix` per candidate pool, rebuilt when the catalog changes it."""

    def __init__(
        self,
        catalog: CatalogLike,
        rules: HardRules,
        popularity: Popularity | Mapping[str, float] | None = None,
        max_blocks: int = 2048,
    ) -> None:
        """``popularity``: the engine's live one, or seed figures per item id (a fresh
        :class:`~online_learning.popularity.Popularity` seeded with them; none: all 0)."""
        if max_blocks < 1:
            raise ValueError(f"max_blocks must be >= 1, got {max_blocks}")
        self.catalog = catalog
        self.rules = rules
        self.popularity = (
            popularity if isinstance(popularity, Popularity) else Popularity(seeds=popularity)
        )
        self.tags = TagVocabulary(sorted(rules.preserve_tags | rules.match_tags))
        self.history = AcceptanceHistory()
        # The model's learned interaction weights (the engine hands them over; None: none):
        # read live, like the history, for the ``interactions`` column.
        self.interactions: InteractionWeights | None = None
        self._matrices: OrderedDict[str, tuple[int, AisleMatrix]] = OrderedDict()
        self._max_pools = 256
        # item id -> (the product it was computed from, its row); parsing names is the costly
        # part of a pool, and an aisle is rebuilt whenever one of its items changes
        self._rows: dict[str, tuple[Product, ItemRow]] = {}
        # requested item id -> (pool version, requested product, its candidates)
        # (about 70 kB each, a pool's rows, on the Instacart catalog: docs/performance.md)
        self._blocks: OrderedDict[str, tuple[int, Product, CandidateBlock]] = OrderedDict()
        self._max_blocks = max_blocks
        # the last block built for a pass that does not cache (see candidates(keep=False))
        self._scanned: tuple[int, Product, CandidateBlock] | None = None

    def pool_key(self, product: Product) -> str:
        return product.department if self.rules.scope == "department" else product.aisle

    def matrix(self, product: Product) -> AisleMatrix:
        """The candidate pool of ``product`` (its aisle, or department if the rules say so)."""
        key = self.pool_key(product)
        version = self.catalog.pool_version(key, self.rules.scope)
        cached = self._matrices.get(key)
        if cached is not None and cached[0] == version:
            self._matrices.move_to_end(key)
            return cached[1]
        members = [
            p for i in self.catalog.pool_items(key, self.rules.scope) if (p := self.catalog.get(i))
        ]
        matrix = AisleMatrix(
            members,
            self.popularity,
            self.tags,
            self.rules,
            self.history,
            rows=[self.row(p) for p in members],
        )
        self._matrices[key] = (version, matrix)
        while len(self._matrices) > self._max_pools:
            self._matrices.popitem(last=False)
        return matrix

    def row(self, product: Product) -> ItemRow:
        """The item's precomputed part, cached while the catalog holds the same product."""
        cached = self._rows.get(product.item_id)
        if cached is not None and cached[0] is product:
            return cached[1]
        row = item_row(product, self.tags)
        if self.catalog.get(product.item_id) is product:
            self._rows[product.item_id] = (product, row)
        return row

    def candidates(self, requested: Product, keep: bool = True) -> CandidateBlock:
        """The candidates of ``requested`` with their content features (cached): every row of
        its pool, with the rows that pass the hard rules marked (:class:`CandidateBlock`).

        ``keep=False`` is for a pass over many items (the model-update refresh): a block it
        finds cached is used, one it has to build is not cached, only remembered until the
        next item, so the pass does not evict the blocks the stock-out path keeps reusing.
        """
        key = self.pool_key(requested)
        version = self.catalog.pool_version(key, self.rules.scope)
        cached = self._blocks.get(requested.item_id)
        if cached is not None and cached[0] == version and cached[1] is requested:
            self._blocks.move_to_end(requested.item_id)
            return cached[2]
        scanned = self._scanned
        if scanned is not None and scanned[0] == version and scanned[1] is requested:
            if keep:
                self._insert(requested, version, scanned[2])
            return scanned[2]
        # Over the whole pool, with the rules as a mask: the pool's columns are used as they
        # are (no gather per column) and its ids and id-to-row map are shared, which costs
        # about half of building the rule-passing rows' own (docs/performance.md).
        matrix = self.matrix(requested)
        codes = matrix.codes
        assert codes is not None  # matrix() builds every pool with this store's history
        req = self.row(requested)
        content = matrix.pair_matrix(req, None, with_history=False)
        interactions = self.interactions
        block = CandidateBlock(
            ids=matrix.ids,
            positions=matrix.index,
            allowed=matrix.rule_mask(requested, self.rules),
            content=content,
            brand_codes=matrix.brand,
            brand_names=matrix.brand_names,
            codes=codes,
            coded_by=self.history,
            popularity_codes=matrix.popularity_codes,
            popularity=matrix.popularity_source,
            brand_index=matrix.brand_index,
            keys_of=None
            if interactions is None
            else partial(matrix.pair_keys, req, content, interactions.config.bits),
            interactions=interactions,
        )
        if keep:
            self._insert(requested, version, block)
        else:
            self._scanned = (version, requested, block)
        return block

    def _insert(self, requested: Product, version: int, block: CandidateBlock) -> None:
        self._blocks[requested.item_id] = (version, requested, block)
        while len(self._blocks) > self._max_blocks:
            self._blocks.popitem(last=False)

    def forget(self, item_id: str) -> None:
        """Drop a removed item's cached row."""
        self._rows.pop(item_id, None)

    def warm(self) -> int:
        """Build every pool now; returns how many."""
        return sum(key is not None for key in self.warm_pools())

    def warm_pools(self, step_rows: int = 200) -> Iterator[str | None]:
        """Build every pool, in small steps: yields None after each ``step_rows`` items'
        names parsed (the costly part) and a pool's key once its columns are built, so a
        caller on an event loop can let other work in between (a large pool costs tens of
        milliseconds and more; a catalog's worth, seconds)."""
        for key in self.catalog.pool_keys(self.rules.scope):
            members = [
                p
                for i in self.catalog.pool_items(key, self.rules.scope)
                if (p := self.catalog.get(i)) is not None
            ]
            if not members:
                continue
            for start in range(0, len(members), step_rows):
                for product in members[start : start + step_rows]:
                    self.row(product)
                yield None
            matrix = self.matrix(members[0])
            if self.interactions is not None:
                matrix.build_keys()  # every member's key parts: a few ms a pool
            yield key

    def pair_vector(self, requested: Product, candidate: Product) -> FloatArray:
        """Pair features of one pair, through the same code path as the ranking.

        A candidate stored in the requested item's pool uses that pool's cached columns;
        any other (another aisle, or a product not in the catalog) gets a one-row matrix.
        """
        return self.pair_row(requested, candidate)[0]

    def pair_row(
        self, requested: Product, candidate: Product
    ) -> tuple[FloatArray, KeyIndex | None]:
        """:meth:`pair_vector` and the pair's hashed interaction keys (None without
        interaction weights): what learning from the pair needs."""
        found = self._block_row(requested, candidate)
        if found is not None:
            return self._block_vector(requested, candidate, *found)
        matrix, row = self._pool_row(requested, candidate)
        req, rows = self.row(requested), np.array([row])
        vector = matrix.pair_matrix(req, rows)[0]
        interactions = self.interactions
        if interactions is None:
            return vector, None
        keys = matrix.key_index(req, rows, vector[None, :], interactions.config.bits)[0]
        vector[_INTERACTIONS] = interactions.score(keys)
        return vector, keys

    def content_vector(self, requested: Product, candidate: Product) -> FloatArray:
        """One pair's content features (name, brand, size, price, tags, kind, fat) as
        :meth:`pair_vector` gives them: what a pair *is*, for counting a rejection by theme
        (online_learning/themes.py). The columns learned from the stream are not current:
        the acceptance history and the interactions are 0, the popularity may be older. It
        skips the pair's interaction keys and history, most of a one-pair
        :meth:`pair_vector`'s cost."""
        found = self._block_row(requested, candidate)
        if found is not None:
            block, at = found
            return block.content[at].copy()
        matrix, row = self._pool_row(requested, candidate)
        return matrix.pair_matrix(self.row(requested), np.array([row]), with_history=False)[0]

    def _block_row(
        self, requested: Product, candidate: Product
    ) -> tuple[CandidateBlock, int] | None:
        """The requested item's cached candidate block and the candidate's row in it, if
        both are there (and the candidate is the catalog's)."""
        block = self._cached_block(requested)
        if block is not None:
            at = block.positions.get(candidate.item_id)
            if at is not None and self.catalog.get(candidate.item_id) == candidate:
                return block, at
        return None

    def _pool_row(self, requested: Product, candidate: Product) -> tuple[AisleMatrix, int]:
        """The requested item's pool and the candidate's row in it if its columns are built
        and hold the catalog's candidate; else a one-row matrix of the candidate, row 0.

        The pool is never built for one pair: learning a worker's start-up tail would
        otherwise build every pool it touches (tens of ms each) before the worker is ready.
        A one-row matrix gives the same numbers to the bit."""
        matrix = self._built_matrix(requested)
        row = None if matrix is None else matrix.index.get(candidate.item_id)
        if matrix is None or row is None or self.catalog.get(candidate.item_id) != candidate:
            one = AisleMatrix(
                [candidate],
                self.popularity,
                self.tags,
                self.rules,
                self.history,
                rows=[self.row(candidate)],
            )
            return one, 0
        return matrix, row

    def _built_matrix(self, requested: Product) -> AisleMatrix | None:
        """The pool of ``requested`` if its columns are built and current (none is built)."""
        key = self.pool_key(requested)
        cached = self._matrices.get(key)
        if cached is None or cached[0] != self.catalog.pool_version(key, self.rules.scope):
            return None
        return cached[1]

    def _cached_block(self, requested: Product) -> CandidateBlock | None:
        """The requested item's candidate block if one is cached and current (none is built,
        and the cache's order is left as it was)."""
        cached = self._blocks.get(requested.item_id)
        if cached is None:
            scanned = self._scanned
            if scanned is None or scanned[1] is not requested:
                return None
            cached = scanned
        if cached[1] is not requested:
            return None
        if cached[0] != self.catalog.pool_version(self.pool_key(requested), self.rules.scope):
            return None
        return cached[2]

    def _block_vector(
        self, requested: Product, candidate: Product, block: CandidateBlock, at: int
    ) -> tuple[FloatArray, KeyIndex | None]:
        """One pair's features from the row of a cached candidate block.

        Learning mostly hears about candidates a ranking offered, whose content features the
        block already holds: copying that row and filling the three learned columns costs a
        fraction of a one-row :meth:`AisleMatrix.pair_matrix` and gives the same numbers
        (the block's columns come from the same element-wise code; a test holds them equal).
        """
        vector = block.content[at].copy()
        if block.popularity is not None and block.popularity_codes is not None:
            vector[_POPULARITY] = block.popularity.column(block.popularity_codes[at : at + 1])[0]
        history = self.history
        vector[_ITEM_HISTORY] = history.item_log_odds(candidate.item_id)
        vector[_PAIR_HISTORY] = history.pair_log_odds(requested.item_id, candidate.item_id)
        interactions = self.interactions
        if interactions is None:
            return vector, None
        built = block.built_keys
        if built is not None and block.interactions is interactions:
            keys = built.row(at)
        else:  # keys not built for the block (one row is cheaper), or built before the weights
            matrix, row = self._pool_row(requested, candidate)  # pair_row's one pair
            keys = matrix.key_index(
                self.row(requested), np.array([row]), vector[None, :], interactions.config.bits
            )[0]
        vector[_INTERACTIONS] = interactions.score(keys)
        return vector, keys


def pair_features(vector: FloatArray) -> dict[str, float]:
    """A feature row as the dict River's ``learn_one`` takes."""
    return {name: float(value) for name, value in zip(FEATURES, vector, strict=True)}
