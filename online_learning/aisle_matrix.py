"""The per-item columns of one candidate pool (an aisle) and its vectorised pair features.

:class:`AisleMatrix` holds a pool's item rows as NumPy columns (with :class:`TokenSets` for the
name and kind Jaccards), so the pair features of one requested item against every candidate,
and the hard-rule mask over them, are a handful of array operations. It is apart from the
cache that decides when a pool is rebuilt (:class:`~online_learning.features.FeatureStore`),
as the columns' arithmetic is the part a reader checks against the feature meanings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from online_learning.acceptance_history import AcceptanceHistory
from online_learning.contract import Product
from online_learning.feature_names import (
    _BINNED_COLUMNS,
    _FAT_DISTANCE,
    _FAT_UNKNOWN,
    _INTERACTIONS,
    _ITEM_HISTORY,
    _KIND,
    _PAIR_HISTORY,
    _POPULARITY,
    _PRICE_UP,
    N_FEATURES,
    BoolArray,
    FloatArray,
    IndexArray,
)
from online_learning.interaction_keys import KeyIndex, PairKeys, PoolKeys, item_keys, pair_index
from online_learning.interactions import InteractionWeights
from online_learning.item_rows import _DIMS, ItemRow, TagVocabulary, item_row
from online_learning.popularity import Popularity
from online_learning.product_text import base_size
from online_learning.rules import HardRules

__all__ = ["AisleMatrix", "TokenSets"]


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
        """The pool's hashed interaction keys, built when first asked for (only the
        interaction weights read them, and a worker may run without them)."""
        if self._keys is None:
            kinds = self.kinds.sets
            self._keys = PoolKeys(
                [item_keys(p, kind) for p, kind in zip(self._products, kinds, strict=True)]
            )
        return self._keys

    def build_keys(self) -> PoolKeys:
        """:attr:`keys`, built now if they are not yet."""
        return self.keys

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
        those rows' content features (:func:`~online_learning.interaction_keys.pair_index`)."""
        return pair_index(req.keys, self.keys, rows, content, _BINNED_COLUMNS, bits)

    def pair_keys(self, req: ItemRow, content: FloatArray, bits: int) -> PairKeys:
        """The keys of ``req`` against every row, factored for scoring a whole pool at once
        (:class:`~online_learning.interaction_keys.PairKeys`); ``content``: every row's content
        features."""
        return PairKeys(req.keys, self.keys, None, content, _BINNED_COLUMNS, bits)

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
