"""What the content prior alone would offer, live: a shadow engine that never learns.

The demo and the simulator compare the worker's rankings with this one on the same requests:
the shadow is fed the same signals (so it believes the same items unavailable and ranks the
same requests) but never any feedback, and it never explores. The difference in the true
acceptance of what a shopper would offer from each is what learning has bought so far, free
of the coin flips of individual outcomes and of which requests happened to come in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from online_learning.contract import InventorySignal, Product
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.offline.instacart import generic_first_words
from online_learning.rules import HardRules, load_rules

__all__ = ["PriorShadow", "prior_config"]


def prior_config(config: EngineConfig | None = None) -> EngineConfig:
    """``config`` as the content prior runs it: it never learns, so it has no learned offsets
    or interaction weights, and exploring would only cost it, so it ranks greedily."""
    return replace(config or EngineConfig(), explore_epsilon=0.0, effects=None, interactions=None)


class PriorShadow:
    """An engine over the same catalog and signals as the worker's, without feedback.

    Its popularity is the catalog's figures (``popularity`` seeds by item id for products
    that carry none): it learns no demand either.
    """

    def __init__(
        self,
        products: Sequence[Product],
        *,
        rules: HardRules | None = None,
        popularity: Mapping[str, float] | None = None,
        config: EngineConfig | None = None,
    ) -> None:
        self.engine = SubstitutionEngine(
            rules=rules or load_rules(),
            popularity=popularity,
            products=products,
            generic_words=generic_first_words(),
            wall_clock=lambda: 0.0,
            config=prior_config(config),
        )
        self._latest: dict[tuple[str, str], tuple[str, ...]] = {}

    def observe(self, signal: InventorySignal) -> None:
        """Apply one signal and keep the rankings it makes due, as the worker would."""
        for ranking in self.engine.on_signal(signal):
            self._latest[(ranking.store_id, ranking.item_id)] = ranking.substitute_ids()

    def ranked_ids(self, store_id: str, item_id: str) -> tuple[str, ...] | None:
        """The prior's latest ranking of ``item_id`` at ``store_id``, best first (None: none)."""
        return self._latest.get((store_id, item_id))
