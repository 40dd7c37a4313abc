"""The structural themes of a (requested item, substitute) pair, read from the catalog.

The pair's features are computed as the worker computes them (the engine's
:class:`~online_learning.features.FeatureStore`), and :func:`themes` names the known weak spots
they show (:func:`online_learning.themes.themes`, the classifier the worker's counter and
``fillrate evaluate --horror`` share): a size jump, another brand, a dearer item, a different
kind of product, a fat level change, a lost tag, an offer near a hard-rule limit. Each theme
comes with a short hint: the rule or feature change it points to.

>>> from online_learning.contract import Product
>>> pairs = PairThemes([
...     Product("1", "Gluten Free White Bread", "bread", "bakery", price=4.0),
...     Product("2", "White Bread", "bread", "bakery", price=3.0),
... ])
>>> look = pairs.of("1", "2")
>>> "tags" in look.themes, look.lost_tags
(True, ('gluten_free',))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from online_learning.catalog import Catalog
from online_learning.contract import Product
from online_learning.features import FeatureStore, pair_features
from online_learning.rules import HardRules
from online_learning.themes import NO_THEME, THEMES, themes

__all__ = ["NO_THEME", "THEME_HINTS", "THEME_TITLES", "PairLook", "PairThemes"]

# What a reader sees for each theme.
THEME_TITLES: dict[str, str] = {
    "tags": "lost tag",
    "kind": "different kind of product",
    "brand": "brand switch",
    "price": "price jump",
    "size": "size jump",
    "fat": "fat level change",
    "rule_edge": "near a hard-rule limit",
    "customer": "customer who turns most substitutes down",
    NO_THEME: "no known weak spot",
}

THEME_HINTS: dict[str, str] = {
    "tags": "a dietary promise lost: add the lost tag to [preserve_tags] in the rules file;"
    " for other tags, weigh tags_lost more",
    "kind": "another kind of product: narrow the candidates ([candidates] scope = aisle) or"
    " weigh kind_jaccard more",
    "brand": "a brand switch: ask brand-loyal customers for their own picks"
    " (customers.preferences, choice specific)",
    "price": "a dearer item: lower [price] max_ratio in the rules file, or weigh price_up more",
    "size": "a size jump: lower [size] max_ratio in the rules file, or weigh size_log_ratio more",
    "fat": "a fat level change: weigh fat_distance more, or keep fat levels as tags",
    "rule_edge": "offers close to a hard-rule limit: tighten that limit in the rules file",
    "customer": "customers who turn most substitutes down: offer them no_substitute"
    " (customers.preferences)",
    NO_THEME: "no feature explains these: read the comments, a feature is missing",
}

# every theme the classifier names, the customer theme the report adds, and "none"
assert set(THEMES) | {"customer", NO_THEME} == set(THEME_TITLES) == set(THEME_HINTS)


@dataclass(frozen=True, slots=True)
class PairLook:
    """What one (requested, substitute) pair shows."""

    themes: tuple[str, ...]  # empty: no known weak spot
    lost_tags: tuple[str, ...]  # the requested item's tags the substitute lacks
    aisle: str


class PairThemes:
    """The catalog's products and the structural themes of their pairs (cached per pair).

    ``rules``: the deployment's rules file, for the near-a-limit theme; themes do not depend
    on what the rules let through, so a lost tag the rules allowed still shows.
    """

    def __init__(self, products: Iterable[Product], rules: HardRules | None = None) -> None:
        self.rules = rules or HardRules()
        self.catalog = Catalog(products, None, self.rules.tags_by_taxonomy())
        self.features = FeatureStore(self.catalog, self.rules)
        self._cache: dict[tuple[str, str], PairLook | None] = {}

    def name(self, item_id: str) -> str:
        """The item's name, or its id when the catalog does not know it."""
        product = self.catalog.get(item_id)
        return item_id if product is None else product.name

    def of(self, requested_id: str, substitute_id: str) -> PairLook | None:
        """The pair's themes, or None when the catalog lacks either item."""
        key = (requested_id, substitute_id)
        if key not in self._cache:
            self._cache[key] = self._look(requested_id, substitute_id)
        return self._cache[key]

    def _look(self, requested_id: str, substitute_id: str) -> PairLook | None:
        requested = self.catalog.get(requested_id)
        substitute = self.catalog.get(substitute_id)
        if requested is None or substitute is None:
            return None
        x = pair_features(self.features.content_vector(requested, substitute))
        return PairLook(
            themes=themes(x, self.rules),
            lost_tags=tuple(sorted(requested.tags - substitute.tags)),
            aisle=requested.aisle,
        )
