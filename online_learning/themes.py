"""Structural themes: which known weak spots a (requested item, substitute) pair shows.

A rejected or refunded substitute usually has something plain in common with others like it: a
bigger or smaller pack, another brand, a dearer price, another kind of product, another fat
level, a tag such as ``lactose_free`` lost, or an offer close to a hard-rule limit. This module
names those from the pair's features (:func:`online_learning.features.pair_features`), with one
fixed, short list of names, so that the worker's live counter
(``fillrate_horror_total{theme}``), the error analysis of ``fillrate evaluate --horror`` and the
horror report all say the same thing with the same words. It reads features only: no catalog,
no history, no Kafka.

>>> themes({"price_up": 0.5, "brand_differs": 1.0})
('brand', 'price')
>>> themes({"size_log_ratio": 0.1, "kind_jaccard": 0.9})
()
>>> theme_labels({})
('none',)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from online_learning.rules import HardRules

__all__ = ["NO_THEME", "THEMES", "THEME_LABELS", "theme_labels", "themes"]

THEMES: tuple[str, ...] = ("size", "brand", "price", "kind", "fat", "tags", "rule_edge")
"""Every theme :func:`themes` can name, in the order it names them:

- ``size``: more than about 1.5 times bigger or smaller;
- ``brand``: both brands known and different;
- ``price``: more than 15 % dearer;
- ``kind``: another kind of product (little overlap of what the names say the items are);
- ``fat``: another fat level, or none stated where the requested item states one;
- ``tags``: a tag of the requested item lost (dietary ones such as ``lactose_free`` above all);
- ``rule_edge``: price or size within 80 % of a hard-rule limit (needs the rules).
"""

NO_THEME = "none"
"""The label of a pair that shows none of :data:`THEMES`: no known weak spot, look closer."""

THEME_LABELS: tuple[str, ...] = (*THEMES, NO_THEME)
"""Every value :func:`theme_labels` returns: a metric label's whole, fixed set."""

SIZE_LOG_RATIO_MIN = 0.4  # |log size ratio| above it: ~1.5x bigger or smaller
PRICE_UP_MIN = 0.15  # price ratio - 1 above it
KIND_JACCARD_MAX = 0.34  # overlap of the product kind below it
RULE_EDGE_SHARE = 0.8  # of a hard-rule ratio limit


def themes(x: Mapping[str, float], rules: HardRules | None = None) -> tuple[str, ...]:
    """The themes a pair's features show, in the order of :data:`THEMES`; empty if none.

    ``x`` maps feature names to values as :func:`~online_learning.features.pair_features`
    gives them; a missing feature reads as "no weak spot". ``rules``: the deployment's hard
    rules, for ``rule_edge``; None leaves that theme out.

    >>> from online_learning.rules import HardRules
    >>> themes({"price_up": 0.2}, HardRules())  # 1.2x the price; the default limit is 1.6x
    ('price',)
    >>> themes({"price_up": 0.4, "tags_lost": 1.0}, HardRules())
    ('price', 'tags', 'rule_edge')
    """
    out = []
    if x.get("size_log_ratio", 0.0) > SIZE_LOG_RATIO_MIN:
        out.append("size")
    if x.get("brand_differs", 0.0) > 0:
        out.append("brand")
    if x.get("price_up", 0.0) > PRICE_UP_MIN:
        out.append("price")
    if x.get("kind_jaccard", 1.0) < KIND_JACCARD_MAX:
        out.append("kind")
    if x.get("fat_distance", 0.0) > 0 or x.get("fat_unknown", 0.0) > 0:
        out.append("fat")
    if x.get("tags_lost", 0.0) > 0:
        out.append("tags")
    if rules is not None:
        price_ratio = 1.0 + x.get("price_up", 0.0)
        size_ratio = math.exp(x.get("size_log_ratio", 0.0))
        if (
            price_ratio > RULE_EDGE_SHARE * rules.max_price_ratio
            or size_ratio > RULE_EDGE_SHARE * rules.max_size_ratio
        ):
            out.append("rule_edge")
    return tuple(out)


def theme_labels(x: Mapping[str, float], rules: HardRules | None = None) -> tuple[str, ...]:
    """:func:`themes`, or ``("none",)`` when it names none: what a count by theme counts
    under, so that every rejection is counted at least once.

    >>> theme_labels({"brand_differs": 1.0}), theme_labels({"brand_differs": 0.0})
    (('brand',), ('none',))
    """
    return themes(x, rules) or (NO_THEME,)
