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
(:func:`item_row`), a pool's matrix (:class:`AisleMatrix`), a requested item's rule-passing
candidates (:class:`CandidateBlock`) and the cache of both (:class:`FeatureStore`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from online_learning.acceptance_history import AcceptanceHistory
from online_learning.contract import Product
from online_learning.interactions import (
    AISLE_FEATURE_BINS,
    InteractionWeights,
    ItemKeys,
    KeyIndex,
    PoolKeys,
    item_keys,
    pair_index,
)
from online_learning.popularity import Popularity
from online_learning.product_text import (
    FAT_LEVELS,
    JOINING_WORDS,
    base_size,
    flavor_tokens,
    tokenize,
)
from online_learning.rules import HardRules

__all__ = ["FEATURES", "AcceptanceHistory", "AisleMatrix", "FeatureStore", "pair_features"]

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
_DIMS = {"g": 0, "ml": 1, "ct": 2}

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class TagVocabulary:
    """Assigns each tag a bit; the first 64 distinct tags fit, later ones are not features."""

    def __init__(self, first: Sequence[str] = ()) -> None:
        self._bits: dict[str, int] = {}
        for tag in first:
            self.bit(tag)

    def bit(self, tag: str) -> int:
        index = self._bits.get(tag)
        if index is None:
            index = len(self._bits)
            self._bits[tag] = index
        return index

    def mask(self, tags: frozenset[str]) -> int:
        value = 0
        for tag in tags:
            index = self.bit(tag)
            if index < 64:
                value |= 1 << index
        return value


@dataclass(slots=True)
class ItemRow:
    """One item's precomputed part, for a requested item outside the matrix."""

    item_id: str
    tokens: frozenset[str]
    kind: frozenset[str]
    brand: str | None
    size: float
    dim: int
    log_price: float
    tags: int
    fat: int
    product: Product
    _keys: ItemKeys | None = None

    @property
    def keys(self) -> ItemKeys:
        """The item's hashed interaction key parts, computed when first asked for: only the
        opt-in interactions read them, and a catalog's worth costs seconds to compute."""
        if self._keys is None:
            self._keys = item_keys(self.product, self.kind)
        return self._keys


# Words that say nothing about what a product is, for kind_jaccard: "Cheddar Style Shreds" are
# not cheddar. The simulated customers judge kind with other stop words (acceptance_truth.py):
# the features are the model's own guess at what customers weigh, not a copy of the hidden
# formula, or the evaluation would measure how well the model copies the simulator.
_KIND_STOPWORDS = JOINING_WORDS | {"style"}


def fat_level(tags: frozenset[str]) -> int:
    """0 whole .. 3 fat free, -1 when the name says nothing (or contradicts itself)."""
    levels = {FAT_LEVELS[t] for t in tags if t in FAT_LEVELS}
    return levels.pop() if len(levels) == 1 else -1


def item_row(product: Product, tags: TagVocabulary) -> ItemRow:
    base = base_size(product.size, product.unit)
    kind = frozenset(flavor_tokens(product.name, product.brand)) - _KIND_STOPWORDS
    return ItemRow(
        item_id=product.item_id,
        tokens=frozenset(tokenize(product.name)),
        kind=kind,
        brand=product.brand,
        size=base[0] if base else math.nan,
        dim=_DIMS.get(base[1], -1) if base else -1,
        log_price=math.log(product.price) if product.price and product.price > 0 else math.nan,
        tags=tags.mask(product.tags),
        fat=fat_level(product.tags),
        product=product,
    )


class TokenSets:
    """Token sets of a pool's items with an inverted index: Jaccard against one set, vectorised.

    Each token maps to the rows that hold it, so the overlap with a requested item's handful
    of tokens is a few indexed increments, whatever the pool size.

    >>> sets = TokenSets([frozenset({"whole", "milk"}), frozenset({"oat", "milk"}), frozenset()])
    >>> sets.jaccard(frozenset({"whole", "milk"})).round(3).tolist()
    [1.0, 0.333, 0.0]
    """

    def __init__(self, sets: Sequence[frozenset[str]]) -> None:
        self._sets = sets
        self.sets = sets  # row -> its token set
        postings: dict[str, list[int]] = {}
        for row, tokens in enumerate(sets):
            for token in tokens:
                postings.setdefault(token, []).append(row)
        self._postings = {t: np.array(rows, dtype=np.intp) for t, rows in postings.items()}
        self._count = np.array([len(tokens) for tokens in sets], dtype=np.float64)

    def jaccard(self, tokens: frozenset[str], rows: IndexArray | None = None) -> FloatArray:
        """Jaccard of ``tokens`` with every set (or the sets at ``rows``)."""
        if rows is not None and len(rows) <= 16:  # a few rows: plain sets are quicker
            return np.array(
                [len(tokens & self._sets[i]) / (len(tokens | self._sets[i]) or 1) for i in rows],
                dtype=np.float64,
            )
        inter = np.zeros(len(self._count))
        for token in tokens:
            posting = self._postings.get(token)
            if posting is not None:
                inter[posting] += 1.0  # a token occurs once per set: no repeated rows
        count = self._count
        if rows is not None:
            inter, count = inter[rows], count[rows]
        union = count + len(tokens) - inter
        return np.divide(inter, union, out=np.zeros(len(count)), where=union > 0)


class AisleMatrix:
    """The per-item columns of one candidate pool (an aisle), ready for vectorised pair features.

    ``popularity``: the live :class:`~online_learning.popularity.Popularity`, read at each
    call, or fixed feature values per item id (a mapping; absent items 0).
    """

    def __init__(
        self,
        products: Sequence[Product],
        popularity: Popularity | Mapping[str, float],
        tags: TagVocabulary,
        rules: HardRules,
        history: AcceptanceHistory | None = None,
        rows: Sequence[ItemRow] | None = None,
    ) -> None:
        self.history = history
        self.ids: tuple[str, ...] = tuple(p.item_id for p in products)
        self.index: dict[str, int] = {item_id: i for i, item_id in enumerate(self.ids)}
        # The same ids as an array, and their history codes, so a candidate block of any size
        # is a few gathers rather than Python loops over its rows.
        self.id_array: npt.NDArray[np.object_] = np.array(self.ids, dtype=object)
        self.codes: IndexArray | None = None if history is None else history.codes(self.ids)
        if rows is None:
            rows = [item_row(p, tags) for p in products]
        self.names = TokenSets([r.tokens for r in rows])
        self.kinds = TokenSets([r.kind for r in rows])
        self.fat = np.array([r.fat for r in rows], dtype=np.int64)
        brands: dict[str, int] = {}
        self.brand = np.array(
            [-1 if r.brand is None else brands.setdefault(r.brand, len(brands)) for r in rows],
            dtype=np.int64,
        )
        self._brands = brands
        self.brand_names: tuple[str, ...] = tuple(brands)  # code -> brand (insertion order)
        self.brand_index: Mapping[str, int] = brands  # brand -> code
        self.size = np.array([r.size for r in rows], dtype=np.float64)
        self.dim = np.array([r.dim for r in rows], dtype=np.int64)
        self.log_price = np.array([r.log_price for r in rows], dtype=np.float64)
        # The price rule divides raw prices, as HardRules.violation does: exp(log(price)) is off
        # by an ulp often enough to flip exact-limit cases such as 10.00 for 6.25 at 1.6.
        self.price = np.array(
            [p.price if p.price and p.price > 0 else math.nan for p in products], dtype=np.float64
        )
        self.tags = np.array([r.tags for r in rows], dtype=np.uint64)
        self._products = products
        self._keys: PoolKeys | None = None
        self.popularity_source = popularity if isinstance(popularity, Popularity) else None
        self.popularity_codes: IndexArray | None = None
        self.popularity: FloatArray | None = None  # fixed values, without a live source
        if isinstance(popularity, Popularity):
            self.popularity_codes = popularity.codes(self.ids)
        else:
            self.popularity = np.array([popularity.get(i, 0.0) for i in self.ids], np.float64)
        # Hard-rule columns: one boolean per tag the rules look at.
        self.rule_tags = {
            tag: np.array([tag in p.tags for p in products], dtype=bool)
            for tag in rules.preserve_tags | rules.match_tags | rules.never_tags
        }

    @property
    def keys(self) -> PoolKeys:
        """The pool's hashed interaction keys, built when first asked for (only the opt-in
        interactions read them)."""
        if self._keys is None:
            kinds = self.kinds.sets
            self._keys = PoolKeys(
                [item_keys(p, kind) for p, kind in zip(self._products, kinds, strict=True)]
            )
        return self._keys

    def __len__(self) -> int:
        return len(self.ids)

    def pair_matrix(
        self,
        req: ItemRow,
        rows: IndexArray | None = None,
        with_history: bool = True,
        interactions: InteractionWeights | None = None,
    ) -> FloatArray:
        """Pair features of ``req`` against every row (or only ``rows``, in that order).

        Shape (number of rows, len(FEATURES)); ranking asks only for the rows that passed
        the rules and availability, learning for one row. ``interactions``: the learned
        weights the ``interactions`` column sums (with the history; None: it stays 0).
        """

        def take(column: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return column if rows is None else column[rows]

        n = len(self.ids) if rows is None else len(rows)
        out = np.zeros((n, N_FEATURES), dtype=np.float64)
        if n == 0:
            return out
        out[:, 0] = self.names.jaccard(req.tokens, rows)
        brand = take(self.brand)
        if req.brand is not None:
            req_brand = self._brands.get(req.brand, -2)
            out[:, 1] = brand == req_brand
            out[:, 2] = (brand >= 0) & (brand != req_brand)
        size, dim = take(self.size), take(self.dim)
        comparable = (dim == req.dim) & (req.dim >= 0) & (size > 0)
        if req.dim >= 0 and req.size > 0:
            ratio = np.abs(np.log(np.where(comparable, size, req.size) / req.size))
            out[:, 3] = np.where(comparable, np.minimum(ratio, 3.0), 0.0)
        out[:, 4] = ~comparable
        if not math.isnan(req.log_price):
            diff = np.clip(take(self.log_price) - req.log_price, -2.0, 2.0)
            # An unknown price (NaN) counts as no difference; fmax drops NaN for the other
            # argument. Both give nan_to_num's numbers for a fraction of its overhead.
            out[:, 5] = np.where(np.isnan(diff), 0.0, diff)
            out[:, _PRICE_UP] = np.fmax(np.exp(diff) - 1.0, 0.0)
        tags, req_tags = take(self.tags), np.uint64(req.tags)
        both = np.bitwise_count(tags & req_tags).astype(np.float64)
        either = np.bitwise_count(tags | req_tags).astype(np.float64)
        out[:, 6] = np.divide(both, either, out=np.ones(n), where=either > 0)
        lost = np.bitwise_count(req_tags & ~tags).astype(np.float64)
        out[:, 7] = np.minimum(lost, 3.0)
        out[:, _POPULARITY] = self.popularity_column(rows)
        out[:, _KIND] = self.kinds.jaccard(req.kind, rows)
        if req.fat >= 0:
            fat = take(self.fat)
            known = fat >= 0
            out[:, _FAT_DISTANCE] = np.where(known, np.abs(fat - req.fat), 0.0)
            out[:, _FAT_UNKNOWN] = ~known
        if self.history is not None and with_history:
            positions = (
                self.index
                if rows is None
                else dict(zip(self.id_array[rows].tolist(), range(n), strict=True))
            )
            self.history.fill(req.item_id, positions, out[:, _ITEM_HISTORY], out[:, _PAIR_HISTORY])
        if interactions is not None and with_history:
            out[:, _INTERACTIONS] = interactions.scores(
                self.key_index(req, rows, out, interactions.config.bits)
            )
        return out

    def key_index(
        self, req: ItemRow, rows: IndexArray | None, content: FloatArray, bits: int
    ) -> KeyIndex:
        """The hashed interaction keys of ``req`` against every row (or ``rows``), given
        those rows' content features (:func:`~online_learning.interactions.pair_index`)."""
        return pair_index(req.keys, self.keys, rows, content, _BINNED_COLUMNS, bits)

    def popularity_column(self, rows: IndexArray | None = None) -> FloatArray:
        """The popularity of every row (or of ``rows``), as it is now."""
        if self.popularity_source is not None and self.popularity_codes is not None:
            codes = self.popularity_codes if rows is None else self.popularity_codes[rows]
            return self.popularity_source.column(codes)
        assert self.popularity is not None
        return self.popularity if rows is None else self.popularity[rows]

    def rule_mask(self, requested: Product, rules: HardRules) -> BoolArray:
        """True where a row may replace ``requested`` under the hard rules.

        Same answers as :meth:`HardRules.violation` pair by pair (a property test holds them).
        """
        n = len(self.ids)
        ok = np.ones(n, dtype=bool)
        own = self.index.get(requested.item_id)
        if own is not None:
            ok[own] = False
        for tag in rules.preserve_tags & requested.tags:
            ok &= self.rule_tags[tag]
        for tag in rules.match_tags:
            ok &= self.rule_tags[tag] == (tag in requested.tags)
        for tag in rules.never_tags:
            ok &= ~self.rule_tags[tag]
        base = base_size(requested.size, requested.unit)
        if base is not None:
            dim = _DIMS.get(base[1], -1)
            same = (self.dim == dim) & (self.size > 0)
            ratio = np.where(same, self.size, base[0]) / base[0]
            too_far = (ratio > rules.max_size_ratio) | (ratio * rules.max_size_ratio < 1.0)
            ok &= ~(same & too_far)
        if requested.price and requested.price > 0:
            ratio = self.price / requested.price
            ok &= ~(ratio > rules.max_price_ratio)  # an unknown price (NaN) compares False
        return ok


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
        # (about 72 kB each on the Instacart catalog: docs/performance.md, "Ingest throughput")
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
        """The rule-passing candidates of ``requested`` with their content features (cached).

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
        matrix = self.matrix(requested)
        rows = np.flatnonzero(matrix.rule_mask(requested, self.rules))
        ids = tuple(matrix.id_array[rows].tolist())
        codes = matrix.codes
        assert codes is not None  # matrix() builds every pool with this store's history
        req = self.row(requested)
        content = matrix.pair_matrix(req, rows, with_history=False)
        interactions = self.interactions
        block = CandidateBlock(
            ids=ids,
            positions=dict(zip(ids, range(len(ids)), strict=True)),
            content=content,
            brand_codes=matrix.brand[rows],
            brand_names=matrix.brand_names,
            codes=codes[rows],
            coded_by=self.history,
            popularity_codes=None
            if matrix.popularity_codes is None
            else matrix.popularity_codes[rows],
            popularity=matrix.popularity_source,
            brand_index=matrix.brand_index,
            keys=None
            if interactions is None
            else matrix.key_index(req, rows, content, interactions.config.bits),
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
            self.matrix(members[0])
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
        block = self._cached_block(requested)
        if block is not None:
            at = block.positions.get(candidate.item_id)
            if at is not None and self.catalog.get(candidate.item_id) == candidate:
                return self._block_vector(requested, candidate, block, at)
        # The pool's columns if they are built; never built for one pair: learning a worker's
        # start-up tail would otherwise build every pool it touches (tens of ms each) before
        # the worker is ready. A one-row matrix gives the same numbers to the bit.
        matrix = self._built_matrix(requested)
        row = None if matrix is None else matrix.index.get(candidate.item_id)
        if matrix is None or row is None or self.catalog.get(candidate.item_id) != candidate:
            matrix = AisleMatrix(
                [candidate],
                self.popularity,
                self.tags,
                self.rules,
                self.history,
                rows=[self.row(candidate)],
            )
            row = 0
        req, rows = self.row(requested), np.array([row])
        vector = matrix.pair_matrix(req, rows)[0]
        interactions = self.interactions
        if interactions is None:
            return vector, None
        keys = matrix.key_index(req, rows, vector[None, :], interactions.config.bits)[0]
        vector[_INTERACTIONS] = interactions.score(keys)
        return vector, keys

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
        if block.keys is not None and block.interactions is interactions:
            keys = block.keys[at]
        else:  # a block built before the weights were handed over
            keys = self.matrix(requested).key_index(
                self.row(requested),
                np.array([self.matrix(requested).index[candidate.item_id]]),
                vector[None, :],
                interactions.config.bits,
            )[0]
        vector[_INTERACTIONS] = interactions.score(keys)
        return vector, keys


def pair_features(vector: FloatArray) -> dict[str, float]:
    """A feature row as the dict River's ``learn_one`` takes."""
    return {name: float(value) for name, value in zip(FEATURES, vector, strict=True)}
