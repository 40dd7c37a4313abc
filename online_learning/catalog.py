"""The product catalog as the worker knows it.

The catalog owns items and the aisle index that candidate generation walks. Items from the
stream often carry only a name, so :func:`enrich` fills size, unit, brand and tags from the
name when the producer gave none, and adds the tags the rules file maps the item's department
or aisle to. Which first words of a name are descriptors rather than brands is learned from
the names the catalog holds (:class:`~online_learning.product_text.BrandVocabulary`), and
relearned as items come and go: an item whose brand guess depends on a word whose standing
changed is guessed again.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping

from online_learning.contract import Product
from online_learning.product_text import (
    CANONICAL_UNITS,
    CONTRADICTING_TAGS,
    GENERIC_FIRST_WORDS,
    BrandVocabulary,
    brand_guess_words,
    derive_tags,
    guess_brand,
    implied_tags,
    label_key,
    normalize_tag,
    parse_size,
)

__all__ = ["Catalog", "enrich"]

TaxonomyTags = Mapping[str, frozenset[str]]
"""Department or aisle name (as :func:`~online_learning.product_text.label_key` spells it)
-> the tags every item filed there gets (the rules file's ``[taxonomy_tags]``)."""


def enrich(
    product: Product,
    brand_words: Container[str] = GENERIC_FIRST_WORDS,
    taxonomy_tags: TaxonomyTags | None = None,
) -> Product:
    """Fill size, unit, brand and tags from the product name where the producer left them out.

    Tags the producer sent are spelt as the rules spell them ("Gluten-Free" -> gluten_free)
    and win: a tag derived from the name or the taxonomy that contradicts one of them
    (``alcohol`` for a producer's ``non_alcoholic``) is dropped, and one from the taxonomy
    that contradicts the name is dropped too. ``brand_words``: first words that are not
    brands (the catalog's :class:`~online_learning.product_text.BrandVocabulary`).

    >>> p = enrich(Product("1", "Organic Gluten Free Oat Milk 64 fl oz", "milk", "dairy eggs"))
    >>> (p.size, p.unit, sorted(p.tags)[:2])
    (64.0, 'fl_oz', ['gluten_free', 'organic'])
    >>> beer = Product("b", "Lager 0.0", "Bières", "Cave", tags=frozenset({"Non-Alcoholic"}))
    >>> sorted(enrich(beer, taxonomy_tags={"cave": frozenset({"alcohol"})}).tags)
    ['non_alcoholic']
    >>> wine = enrich(Product("w", "Côtes du Rhône", "Vins", "Cave", size=75, unit="cl"))
    >>> wine.size, wine.unit
    (750.0, 'ml')
    """
    changes: dict[str, object] = {}
    if product.size is None or product.unit is None:
        parsed = parse_size(product.name)
        if parsed is not None:
            changes["size"], changes["unit"] = parsed
    elif product.unit not in CANONICAL_UNITS:
        # The producer's own spelling ("L", "cl", "Grams", "each") read as a name's would be,
        # so the size rule can compare it; a unit no name could spell stays as sent (unknown).
        parsed = parse_size(f"{format(product.size, 'f').rstrip('0').rstrip('.')} {product.unit}")
        if parsed is not None:
            changes["size"], changes["unit"] = parsed
    if product.brand is None:
        brand = guess_brand(product.name, brand_words)
        if brand is not None:
            changes["brand"] = brand
    sent = frozenset(t for t in map(normalize_tag, product.tags) if t)
    derived = derive_tags(product.name, product.aisle, product.department)
    if taxonomy_tags:
        placed = taxonomy_tags.get(label_key(product.aisle), frozenset()) | taxonomy_tags.get(
            label_key(product.department), frozenset()
        )
        derived |= _without_contradictions(placed, derived)
    tags = implied_tags(sent | _without_contradictions(derived, sent))
    if tags != product.tags:
        changes["tags"] = tags
    return dataclasses.replace(product, **changes) if changes else product  # type: ignore[arg-type]


def _without_contradictions(tags: frozenset[str], stronger: frozenset[str]) -> frozenset[str]:
    """``tags`` less those contradicting a tag of ``stronger``, the more explicit source."""
    against = {CONTRADICTING_TAGS[t] for t in stronger if t in CONTRADICTING_TAGS}
    return tags - against if against else tags


class Catalog:
    """Items by id, with an aisle index; every change bumps the aisle's version.

    The version lets feature caches (one matrix per aisle) know when to rebuild.
    ``generic_words``: a fixed set of first words that are not brands; None (the default):
    learned from the catalog's own names as it fills (see the module docstring).

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
        self,
        products: Iterable[Product] = (),
        generic_words: frozenset[str] | None = None,
        taxonomy_tags: TaxonomyTags | None = None,
    ) -> None:
        self.vocabulary = BrandVocabulary() if generic_words is None else None
        # first words that are not brands (see enrich): learned, or fixed by the caller
        self.brand_words: Container[str] = (
            self.vocabulary if self.vocabulary is not None else generic_words or frozenset()
        )
        self.taxonomy_tags = {label_key(k): v for k, v in (taxonomy_tags or {}).items()}
        self._items: dict[str, Product] = {}
        # scope ("aisle" or "department") -> pool name -> ordered item ids
        self._pools: dict[str, dict[str, dict[str, None]]] = {"aisle": {}, "department": {}}
        self._versions: Counter[tuple[str, str]] = Counter()
        # Items whose brand was guessed (the producer sent none), by the words the guess reads:
        # when one of those words turns descriptor or brand, the guess is made again.
        self._guessed_by_word: dict[str, set[str]] = {}
        self.brands_reguessed = 0  # brand guesses made again after the vocabulary changed
        self.load(products)

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
        changed: set[str] = set()
        if self.vocabulary is not None:
            old = self._items.get(product.item_id)
            if old is not None:
                changed |= self.vocabulary.remove(old.name, old.aisle)
            changed |= self.vocabulary.add(product.name, product.aisle)
        stored = self._store(product)
        if changed:
            self._reguess(changed)
        return stored

    def load(self, products: Iterable[Product]) -> None:
        """Add or replace many items at once (the last of each id wins): the vocabulary
        learns from all their names first, so each brand is guessed once, with all of it."""
        latest = {p.item_id: p for p in products}
        if not latest:
            return
        if self.vocabulary is not None:
            changed: set[str] = set()
            for old in filter(None, map(self._items.get, latest)):
                changed |= self.vocabulary.remove(old.name, old.aisle)
            changed |= self.vocabulary.extend((p.name, p.aisle) for p in latest.values())
            if changed:  # items held before this load; those loaded now see the new vocabulary
                self._reguess(changed)
        for product in latest.values():
            self._store(product)

    def remove(self, item_id: str) -> bool:
        """Remove an item (a tombstone); False if it was not there."""
        old = self._items.pop(item_id, None)
        if old is None:
            return False
        self._drop_from_pools(old)
        self._unindex(old)
        if self.vocabulary is not None:
            changed = self.vocabulary.remove(old.name, old.aisle)
            if changed:
                self._reguess(changed)
        return True

    def _store(self, product: Product) -> Product:
        old = self._items.get(product.item_id)
        if old is not None:
            self._drop_from_pools(old)
            self._unindex(old)
        guessed = product.brand is None
        product = enrich(product, self.brand_words, self.taxonomy_tags)
        self._put(product)
        if guessed and self.vocabulary is not None:
            for word in brand_guess_words(product.name):
                self._guessed_by_word.setdefault(word, set()).add(product.item_id)
        return product

    def _put(self, product: Product) -> None:
        self._items[product.item_id] = product
        for scope, key in (("aisle", product.aisle), ("department", product.department)):
            self._pools[scope].setdefault(key, {})[product.item_id] = None
            self._versions[scope, key] += 1

    def _unindex(self, product: Product) -> None:
        for word in brand_guess_words(product.name):
            ids = self._guessed_by_word.get(word)
            if ids is not None:
                ids.discard(product.item_id)
                if not ids:
                    del self._guessed_by_word[word]

    def _reguess(self, words: set[str]) -> None:
        """Guess again the brands that read one of ``words``, whose standing changed."""
        ids = set().union(*(self._guessed_by_word.get(w, ()) for w in words))
        for item_id in ids:
            product = self._items[item_id]
            self.brands_reguessed += 1
            brand = guess_brand(product.name, self.brand_words)
            if brand != product.brand:
                # Same pools, new object: the feature caches see the change by identity and
                # the pools' versions.
                self._put(dataclasses.replace(product, brand=brand))

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
