"""The simulated customers' hidden tastes, and the acceptance probability they imply.

This is the truth a learner is scored against and never sees:

- **Customers** are mixtures of segments (brand loyal, price sensitive, organic, size
  sensitive, flavour/variant sensitive) plus a small share who refuse every substitute. Each
  customer's weights are drawn once from the population's segment mix, seeded by the id.
- **Items and brands** carry latent effects (an item's appeal, an (aisle, brand) affinity, a
  brand-to-brand switch affinity and a small per-pair effect) that no content feature shows, so
  only feedback history can learn them. Their sizes are the population's.
- **A preference shift** at ``shift_at`` doubles price sensitivity and, in a share of the
  aisles, turns brand loyalty into brand fatigue (the requested brand becomes the one to avoid)
  and redraws every hidden item, brand and pair effect ("epoch" 1).

Everything is drawn lazily from keyed randomness, so the answer for a pair never depends on
which pairs were asked about before.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from online_learning.contract import Product
from online_learning.logistic import sigmoid
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.populations import SEGMENTS, Population
from online_learning.offline.sim_config import SimConfig
from online_learning.product_text import (
    DIETARY_TAGS,
    FAT_LEVELS,
    JOINING_WORDS,
    base_size,
    flavor_tokens,
)

__all__ = ["P_MAX", "P_MIN", "AcceptanceTruth"]

P_MIN = 0.01
P_MAX = 0.99
# Words that say nothing about what a product *is* to these customers: "organic" has its own
# term in the formula. Deliberately not the features' stop words (item_rows.py): the hidden
# world is written apart from the model's view of it.
_KIND_STOPWORDS = JOINING_WORDS | {"organic", "natural"}


@dataclass(frozen=True, slots=True)
class _Customer:
    """Hidden tastes of one customer; the weights are penalties on the acceptance logit."""

    willingness: float
    refuses_all: bool
    organic_only: bool
    w_brand: float
    w_price: float
    w_cheap: float
    w_organic: float
    w_size: float
    w_kind: float
    w_fat: float


@dataclass(frozen=True, slots=True)
class _ItemTaste:
    """What the customer model reads off an item, computed once per item on first use."""

    kind: frozenset[str]
    base_size: tuple[float, str] | None
    fat_level: int | None


class AcceptanceTruth:
    """P(accept) of every (customer, requested, candidate) at any sim time, and its latent terms.

    ``popularity_score`` (item id -> [0, 1]) ties part of an item's appeal to how often it is
    ordered, as much as the population says.
    """

    def __init__(
        self,
        config: SimConfig,
        population: Population,
        draws: KeyedRandom,
        popularity_score: Callable[[str], float],
    ) -> None:
        self._config = config
        self.population = population
        self._draws = draws
        self._popularity_score = popularity_score
        self._shift_ts = None if config.shift_at is None else config.start_ts + config.shift_at
        self._customers: dict[str, _Customer] = {}
        self._tastes: dict[str, _ItemTaste] = {}
        self._appeals: dict[tuple[str, int], float] = {}
        self._brand_appeal: dict[tuple[str, str, int], float] = {}
        self._switch: dict[tuple[str, str, str, int], float] = {}
        self._aisle_shifts: dict[str, bool] = {}

    def accept_prob(
        self, customer_id: str, requested: Product, candidate: Product, ts: float
    ) -> float:
        """P(the customer accepts ``candidate`` for ``requested``) at sim time ``ts``.

        In [0.01, 0.99]; 0.01 for a customer who refuses substitutes, a lost dietary promise,
        an alcohol mismatch or a non-organic offer to an organic-only customer asking for
        organic.
        """
        shifted = self._shift_ts is not None and ts >= self._shift_ts
        customer = self._customer(customer_id)
        req_tags, cand_tags = requested.tags, candidate.tags
        if customer.refuses_all or (req_tags & DIETARY_TAGS) - cand_tags:
            return P_MIN
        if ("alcohol" in req_tags) != ("alcohol" in cand_tags):
            return P_MIN
        req_organic, cand_organic = "organic" in req_tags, "organic" in cand_tags
        if req_organic and not cand_organic and customer.organic_only:
            return P_MIN
        req, cand = self._taste(requested), self._taste(candidate)
        # In a flipped aisle every hidden effect is redrawn: what history taught goes stale.
        flipped = self._flipped(requested.aisle, ts)
        epoch = 1 if flipped else 0
        z = customer.willingness + self._appeal(candidate.item_id, epoch)
        z += self.population.pair_sd * self._draws.normal(
            f"pair|{requested.item_id}|{candidate.item_id}|{epoch}"
        )
        if candidate.aisle != requested.aisle:
            z -= 1.5 if candidate.department == requested.department else 3.0
        z += self._brand_effect(candidate.aisle, candidate.brand or "", epoch)
        if requested.brand is not None:
            # After the shift, loyalty in a flipped aisle turns into fatigue with the brand.
            if (candidate.brand == requested.brand) == flipped:
                z -= customer.w_brand
            if candidate.brand != requested.brand:
                z += self._switch_effect(
                    requested.aisle, requested.brand, candidate.brand or "", epoch
                )
        if requested.price and candidate.price:
            ratio = candidate.price / requested.price
            w_price = customer.w_price * (self._config.shift_price_factor if shifted else 1.0)
            z -= w_price * max(0.0, ratio - 1.0)
            z += customer.w_cheap * max(0.0, 1.0 - ratio)
        if req.base_size is not None and cand.base_size is not None:
            if req.base_size[1] == cand.base_size[1]:
                z -= customer.w_size * abs(math.log(cand.base_size[0] / req.base_size[0]))
            else:
                z -= customer.w_size * 2.0  # a count for a weight: not the same thing at all
        z -= customer.w_kind * (1.0 - _jaccard(req.kind, cand.kind))
        if req.fat_level is not None:
            if cand.fat_level is None:
                z -= 0.5 * customer.w_fat
            else:
                z -= customer.w_fat * abs(req.fat_level - cand.fat_level)
        if req_organic and not cand_organic:
            z -= customer.w_organic
        elif cand_organic:
            z += 0.3 * customer.w_organic
        return min(P_MAX, max(P_MIN, sigmoid(z)))

    def hidden_effects(self, requested: Product, candidate: Product, ts: float) -> dict[str, float]:
        """The latent terms of the acceptance logit for this pair at ``ts``, keyed by the effect.

        A key names its level first (``appeal``, ``pair``, ``brand``, ``switch``, whose prior
        sds are the population's ``appeal_sd``, ``pair_sd``, ``brand_sd`` and ``switch_sd``)
        and then what shares it: two pairs with the same key share that effect. Their sum is
        what :meth:`accept_prob` adds to the logit for every customer (before clipping). The
        part of an item's appeal that follows its order count (``popularity_appeal``) is left
        out: the order counts show it.
        """
        epoch = 1 if self._flipped(requested.aisle, ts) else 0
        people = self.population
        item, brand = candidate.item_id, candidate.brand or ""
        appeal = self._appeal(item, epoch) - people.popularity_appeal * (
            self._popularity_score(item) - 0.5
        )
        effects = {
            f"appeal|{item}|{epoch}": appeal,
            f"pair|{requested.item_id}|{item}|{epoch}": people.pair_sd
            * self._draws.normal(f"pair|{requested.item_id}|{item}|{epoch}"),
            f"brand|{candidate.aisle}|{brand}|{epoch}": self._brand_effect(
                candidate.aisle, brand, epoch
            ),
        }
        if requested.brand is not None and candidate.brand != requested.brand:
            key = f"switch|{requested.aisle}|{requested.brand}|{brand}|{epoch}"
            effects[key] = self._switch_effect(requested.aisle, requested.brand, brand, epoch)
        return effects

    def _customer(self, customer_id: str) -> _Customer:
        customer = self._customers.get(customer_id)
        if customer is None:
            rng = random.Random(f"{self._config.seed}|customer|{customer_id}")
            # Segment memberships: a peaked Dirichlet, so most customers lean one or two ways.
            mix = self.population.segment_weights
            raw = [rng.gammavariate(0.4 * mix[i], 1.0) for i in range(len(SEGMENTS))]
            total = sum(raw) or 1.0
            brand, price, organic, size, kind = (r / total for r in raw)
            customer = _Customer(
                willingness=rng.gauss(
                    self.population.willingness_mean, self.population.willingness_sd
                ),
                refuses_all=rng.random() < self._config.no_substitution_share,
                organic_only=organic > 0.5,
                w_brand=0.4 + 3.0 * brand,
                w_price=0.5 + 4.0 * price,
                w_cheap=0.1 + 0.6 * price,
                w_organic=0.2 + 2.0 * organic,
                w_size=0.5 + 3.0 * size,
                w_kind=1.5 + 3.0 * kind,
                w_fat=1.0 + 2.5 * kind,
            )
            self._customers[customer_id] = customer
        return customer

    def _taste(self, product: Product) -> _ItemTaste:
        taste = self._tastes.get(product.item_id)
        if taste is None:
            kind = frozenset(flavor_tokens(product.name, product.brand)) - _KIND_STOPWORDS
            # A name with two fat levels reads as the leaner one here; the features call it
            # unknown (features.fat_level), the model's view and not the world's.
            levels = [FAT_LEVELS[t] for t in product.tags if t in FAT_LEVELS]
            taste = _ItemTaste(
                kind=kind,
                base_size=base_size(product.size, product.unit),
                fat_level=max(levels) if levels else None,
            )
            self._tastes[product.item_id] = taste
        return taste

    def _appeal(self, item_id: str, epoch: int) -> float:
        key = (item_id, epoch)
        value = self._appeals.get(key)
        if value is None:
            people = self.population
            value = people.appeal_sd * self._draws.normal(f"appeal|{item_id}|{epoch}")
            value += people.popularity_appeal * (self._popularity_score(item_id) - 0.5)
            self._appeals[key] = value
        return value

    def _brand_effect(self, aisle: str, brand: str, epoch: int) -> float:
        key = (aisle, brand, epoch)
        value = self._brand_appeal.get(key)
        if value is None:
            value = self.population.brand_sd * self._draws.normal(f"brand|{aisle}|{brand}|{epoch}")
            self._brand_appeal[key] = value
        return value

    def _switch_effect(self, aisle: str, from_brand: str, to_brand: str, epoch: int) -> float:
        key = (aisle, from_brand, to_brand, epoch)
        value = self._switch.get(key)
        if value is None:
            value = self.population.switch_sd * self._draws.normal(
                f"switch|{aisle}|{from_brand}|{to_brand}|{epoch}"
            )
            self._switch[key] = value
        return value

    def _flipped(self, aisle: str, ts: float) -> bool:
        """Whether the shift has redrawn this aisle's hidden effects by ``ts``."""
        return self._shift_ts is not None and ts >= self._shift_ts and self._aisle_shifted(aisle)

    def _aisle_shifted(self, aisle: str) -> bool:
        shifted = self._aisle_shifts.get(aisle)
        if shifted is None:
            shifted = self._draws.uniform(f"shift|{aisle}") < self._config.shift_aisle_share
            self._aisle_shifts[aisle] = shifted
        return shifted


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
