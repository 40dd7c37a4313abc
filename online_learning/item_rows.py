"""One item's precomputed part of the pair features: its :class:`ItemRow`.

Tokens, kind words, brand, size in base units, log price, tag bits and fat level depend on the
item alone, so they are computed once per item (:func:`item_row`) and reused for every pair the
item is in. Parsing names is the costly part of a pool's columns; keeping it apart from the
columns (:mod:`online_learning.aisle_matrix`) lets the store cache rows per item while it
rebuilds an aisle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from online_learning.contract import Product
from online_learning.interaction_keys import ItemKeys, item_keys
from online_learning.product_text import (
    FAT_LEVELS,
    JOINING_WORDS,
    base_size,
    flavor_tokens,
    tokenize,
)

__all__ = ["ItemRow", "TagVocabulary", "fat_level", "item_row"]

_DIMS = {"g": 0, "ml": 1, "ct": 2}


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
        interaction weights read them, and a catalog's worth costs seconds to compute."""
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
