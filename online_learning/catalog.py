"""The product catalog as the worker knows it.

The catalog owns items and the aisle index that candidate generation walks. Items from the
stream often carry only a name (the Instacart catalog has names only), so :func:`enrich` fills
size, unit, brand and tags from the name when the producer gave none.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Iterator

from online_learning.contract import Product
from online_learning.product_text import (
    GENERIC_FIRST_WORDS,
    derive_tags,
    guess_brand,
    parse_size,
)

__all__ = ["Catalog", "enrich"]


def enrich(product: Product, generic_words: frozenset[str] = GENERIC_FIRST_WORDS) -> Product:
    """Fill size, unit, brand and tags from the product name where the producer left them out.

    >>> p = enrich(Product("1", "Organic Gluten Free Oat Milk 64 fl oz", "milk", "dairy eggs"))
    >>> (p.size, p.unit, sorted(p.tags)[:2])
    (64.0, 'fl_oz', ['gluten_free', 'organic'])
    """
    changes: dict[str, object] = {}
    if product.size is None or product.unit is None:
        parsed = parse_size(product.name)
        if parsed is not None:
            changes["size"], changes["unit"] = parsed
    if product.brand is None:
        brand = guess_brand(product.name, generic_words)
        if brand is not None:
            changes["brand"] = brand
    derived = derive_tags(product.name, product.aisle, product.department)
    if not derived <= product.tags:
        changes["tags"] = product.tags | derived
    return dataclasses.replace(product, **changes) if changes else product  # type: ignore[arg-type]


class Catalog:
    """Items by id, with an aisle index; every change bumps the aisle's version.

    The version lets feature caches (one matrix per aisle) know when to rebuild.

    >>> c = Catalog()
    >>> _ = c.upsert(Product("1", "Whole Milk", "milk", "dairy eggs"))
    >>> _ = c.upsert(Product("2", "Skim Milk", "milk", "dairy eggs"))
    >>> c.aisle_items("milk")
    ('1', '2')
    >>> c.remove("1")
    True
    >>> c.aisle_items("milk")
    ('2',)
    """

    def __init__(
        self, products: Iterable[Product] = (), generic_words: frozenset[str] = GENERIC_FIRST_WORDS
    ) -> None:
        self.generic_words = generic_words  # first words that are not brands (see enrich)
        self._items: dict[str, Product] = {}
        # scope ("aisle" or "department") -> pool name -> ordered item ids
        self._pools: dict[str, dict[str, dict[str, None]]] = {"aisle": {}, "department": {}}
        self._versions: Counter[tuple[str, str]] = Counter()
        for product in products:
            self.upsert(product)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __iter__(self) -> Iterator[Product]:
        return iter(self._items.values())

    def get(self, item_id: str) -> Product | None:
        return self._items.get(item_id)

    def upsert(self, product: Product) -> Product:
        """Add or replace an item (enriched from its name); returns what was stored."""
        product = enrich(product, self.generic_words)
        old = self._items.get(product.item_id)
        if old is not None:
            self._drop_from_pools(old)
        self._items[product.item_id] = product
        for scope, key in (("aisle", product.aisle), ("department", product.department)):
            self._pools[scope].setdefault(key, {})[product.item_id] = None
            self._versions[scope, key] += 1
        return product

    def remove(self, item_id: str) -> bool:
        """Remove an item (a tombstone); False if it was not there."""
        old = self._items.pop(item_id, None)
        if old is None:
            return False
        self._drop_from_pools(old)
        return True

    def _drop_from_pools(self, product: Product) -> None:
        for scope, key in (("aisle", product.aisle), ("department", product.department)):
            members = self._pools[scope].get(key)
            if members is not None:
                members.pop(product.item_id, None)
                if not members:
                    del self._pools[scope][key]
            self._versions[scope, key] += 1

    def pool_items(self, key: str, scope: str = "aisle") -> tuple[str, ...]:
        """Item ids of an aisle (or department), in insertion order."""
        return tuple(self._pools[scope].get(key, ()))

    def pool_version(self, key: str, scope: str = "aisle") -> int:
        """Bumped on every change to the pool, so caches know when to rebuild."""
        return self._versions[scope, key]

    def pool_keys(self, scope: str = "aisle") -> list[str]:
        """Names of the non-empty aisles (or departments)."""
        return list(self._pools[scope])

    def aisle_items(self, aisle: str) -> tuple[str, ...]:
        return self.pool_items(aisle, "aisle")

    def aisles(self) -> list[str]:
        return list(self._pools["aisle"])
