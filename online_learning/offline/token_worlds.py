"""A second family of simulated customers: tastes read off the words of the product names.

The hand-written populations (:mod:`~online_learning.offline.populations`, scored by
:mod:`~online_learning.offline.acceptance_truth`) were written beside the engine's features,
so a learner built on those features looks good on them. The worlds here are specified from
the names alone, with their own tokenizer and vocabularies, and deliberately never call the
engine's feature code: what drives acceptance is what a grocery customer reads on a label.

- **Words of the name.** A name's first word that is not a descriptor (its *head*, often the
  brand or the maker's line: "Pepperidge", "Roast"), its last word (the *noun*, what the thing
  is: "Cookies", "Yogurt"), its flavour words ("strawberry", "plain", "barbecue"), its pack
  words ("family size", "12 pack", "mini") and its dietary words ("gluten free", "vegan",
  "organic").
- **Requested × candidate interactions** no single-item attribute shows: a requested flavour
  against a *different* flavour on the candidate is refused much more than a candidate with
  no flavour word; each (requested noun, candidate noun) and (requested flavour, candidate
  flavour) switch has its own hidden affinity ("strawberry" to "raspberry" may be fine,
  "plain" to "chocolate" not); a head's hidden tier (value, national, premium) matters as a
  pair (a premium head replaced by a value one is a step down); price counts per unit of size
  when both names state one ("12 oz"), else as the price ratio.
- **Tastes that differ by aisle.** Each aisle has its own hidden weights on a few of those
  attributes (in one aisle a different noun is what is refused, in another a different pack),
  and in a share of the aisles "organic" requested makes a non-organic offer a near refusal,
  elsewhere a mild step down.
- **A mix of customer segments**: each customer leans one way (flavour-faithful, bargain,
  premium, clean-label, pack-size), with the world's mix.
- **Word appeal**: every word has a small hidden appeal of its own (customers like
  "homestyle" and not "lite"), and every item a small latent appeal of its own
  (:meth:`TokenTruth.hidden_effects`).

Every hidden quantity is a keyed draw (:class:`~online_learning.offline.keyed_random.KeyedRandom`)
of the seed and the words, aisle, item or customer it belongs to, so a world is a pure function
of its seed and the catalog. A :class:`TokenWorld` names one member of the family;
:class:`TokenTruth` is its acceptance probability, with the interface the simulator reads from
:class:`~online_learning.offline.acceptance_truth.AcceptanceTruth`. These worlds have no
preference shift (``SimConfig.shift_at`` does not change them). They are for evaluation only:
nothing of the engine is tuned against them.

>>> sorted(TOKEN_WORLDS)
['tokens-aisle', 'tokens-flavour', 'tokens-mixed']
>>> read_name("Chobani Strawberry Greek Yogurt 4 Pack").flavours
frozenset({'strawberry'})
>>> item = read_name("Organic Gluten Free Family Size Honey Barbecue Chips")
>>> item.head, item.noun, item.pack, sorted(item.diets)
('chips', 'chips', 'multi', ['gluten_free', 'organic'])
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from online_learning.contract import Product
from online_learning.logistic import sigmoid
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.product_text import DIETARY_TAGS

if TYPE_CHECKING:  # sim_config imports the population registry, which imports this module
    from online_learning.offline.sim_config import SimConfig

__all__ = [
    "TOKEN_SEGMENTS",
    "TOKEN_WORLDS",
    "NameReading",
    "TokenTruth",
    "TokenWorld",
    "read_name",
]

P_MIN = 0.01  # the same bounds as the hand-written truth's, so the two families compare
P_MAX = 0.99

# The order of TokenWorld.segment_mix: which way a customer mainly leans.
TOKEN_SEGMENTS = ("faithful", "bargain", "premium", "clean", "pack")

# The attributes an aisle weighs its own way (AISLE_ATTRIBUTES order in _AisleTaste.weights).
AISLE_ATTRIBUTES = ("noun", "flavour", "head", "pack", "price", "diet")


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


# This module's own vocabularies, written from the catalog's names, not from the engine's.
_JOINERS = _vocabulary("and with of the in a an for to n or style")
_FLAVOURS = _vocabulary(
    """chocolate vanilla strawberry banana apple cinnamon honey lemon lime orange cherry
    blueberry raspberry blackberry peach mango coconut caramel mint peppermint peanut almond
    hazelnut mocha maple garlic onion cheddar ranch barbecue bbq bacon jalapeno chipotle spicy
    hot sweet salted sour tomato basil pesto buffalo teriyaki ginger pumpkin cranberry grape
    watermelon pineapple berry pomegranate lavender rosemary herb sesame smoked plain original
    unsweetened dark toffee butterscotch cookie fudge pecan walnut pistachio matcha chai
    espresso cucumber dill pepper jalapeño habanero sriracha curry lemonade passion guava
    kiwi apricot plum fig tangerine grapefruit"""
)
# Words that say how it is sold, not what it is.
_MULTI_WORDS = _vocabulary(
    "pack pk packs ct count variety family party value bulk club multipack case box"
)
_SINGLE_WORDS = _vocabulary("single singles mini minis individual travel snack")
_UNIT_WORDS = _vocabulary("oz fl lb lbs g kg ml l ct count ply pk")
# Descriptors: never a head.
_DESCRIPTORS = _vocabulary(
    """organic original natural classic fresh premium pure simply all gluten free low fat
    reduced light lite non no sugar whole real homestyle old fashioned extra large small mini
    baby family size new traditional authentic select signature gourmet vegan dairy lactose
    sodium grain kosher keto gmo unsweetened"""
)
# (label, the words of the name that say it)
_DIET_PHRASES = (
    ("organic", ("organic",)),
    ("gluten_free", ("gluten free",)),
    ("vegan", ("vegan", "plant based")),
    ("sugar_free", ("sugar free", "no sugar", "unsweetened")),
    ("dairy_free", ("dairy free", "lactose free", "non dairy")),
    ("lean", ("low fat", "fat free", "nonfat", "non fat", "reduced fat", "light", "lite", "skim")),
    ("whole_grain", ("whole grain", "whole wheat", "multigrain")),
    ("low_sodium", ("low sodium", "no salt", "reduced sodium")),
)
_WORD = re.compile(r"[a-zñé]+|\d+(?:\.\d+)?")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*-?\s*(fl oz|oz|lb|lbs|g|kg|ml|l|ct|count|pack|pk)\b")
_TO_BASE = {
    "fl oz": ("floz", 1.0),
    "oz": ("oz", 1.0),
    "lb": ("oz", 16.0),
    "lbs": ("oz", 16.0),
    "g": ("oz", 1 / 28.35),
    "kg": ("oz", 1000 / 28.35),
    "ml": ("floz", 1 / 29.57),
    "l": ("floz", 1000 / 29.57),
    "ct": ("ct", 1.0),
    "count": ("ct", 1.0),
    "pack": ("ct", 1.0),
    "pk": ("ct", 1.0),
}
_TIERS = (0, 1, 2)  # value, national, premium


@dataclass(frozen=True, slots=True)
class TokenWorld:
    """One member of the token family (all effects on the acceptance logit).

    ``flavour_clash``: how much a different flavour word on the candidate is refused (a
    candidate without any flavour word costs a third of it). ``aisle_scale``: the size of
    each aisle's own weights on :data:`AISLE_ATTRIBUTES`; ``aisle_active``: the share of
    (aisle, attribute) weights that are strong rather than a tenth of that. ``global_scale``:
    the weight every aisle puts on the same attributes besides its own. ``strict_organic``:
    the share of aisles where a non-organic offer for an organic request is nearly refused.
    ``affinity_sd``: the spread of the hidden noun-to-noun and flavour-to-flavour affinities.
    ``word_sd``: the spread of each word's hidden appeal; ``appeal_sd``: of each item's.
    ``segment_mix``: the weights of :data:`TOKEN_SEGMENTS` a customer's main lean is drawn
    with; ``segment_strength``: how much the main lean weighs.
    """

    name: str
    description: str
    flavour_clash: float = 2.0
    aisle_scale: float = 1.0
    aisle_active: float = 0.35
    global_scale: float = 0.6
    strict_organic: float = 0.3
    affinity_sd: float = 0.5
    word_sd: float = 0.3
    appeal_sd: float = 0.2
    segment_mix: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    segment_strength: float = 1.5
    willingness_mean: float = 1.8
    willingness_sd: float = 0.5

    def __post_init__(self) -> None:
        for field in (
            "flavour_clash",
            "aisle_scale",
            "global_scale",
            "affinity_sd",
            "word_sd",
            "appeal_sd",
            "segment_strength",
            "willingness_sd",
        ):
            if getattr(self, field) < 0:
                raise ValueError(f"token world {self.name!r}: {field} must be >= 0")
        for field in ("aisle_active", "strict_organic"):
            if not 0.0 <= getattr(self, field) <= 1.0:
                raise ValueError(f"token world {self.name!r}: {field} must be in [0, 1]")
        if len(self.segment_mix) != len(TOKEN_SEGMENTS) or min(self.segment_mix) < 0:
            raise ValueError(
                f"token world {self.name!r}: segment_mix needs {len(TOKEN_SEGMENTS)} weights >= 0"
            )


TOKEN_WORLDS: dict[str, TokenWorld] = {
    w.name: w
    for w in (
        TokenWorld(
            "tokens-flavour",
            "flavour-faithful: a different flavour word on the offer is refused, a"
            " different noun or pack less so; most customers lean on flavour",
            flavour_clash=3.0,
            aisle_scale=0.6,
            segment_mix=(3.0, 1.0, 0.5, 0.5, 1.0),
        ),
        TokenWorld(
            "tokens-aisle",
            "every aisle weighs its own few of noun, flavour, first word, pack, price and"
            " dietary words; organic is strict in 40% of the aisles",
            flavour_clash=1.0,
            aisle_scale=2.2,
            aisle_active=0.4,
            global_scale=0.2,
            strict_organic=0.4,
        ),
        TokenWorld(
            "tokens-mixed",
            "all of it at once: flavour clashes, aisle tastes, brand tiers, price per size,"
            " word appeal, and five customer segments in equal shares",
            flavour_clash=2.0,
            aisle_scale=1.4,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class NameReading:
    """What a customer of this family reads off one product's name."""

    words: frozenset[str]
    head: str | None
    noun: str | None
    flavours: frozenset[str]
    pack: str  # "multi", "single" or "regular"
    diets: frozenset[str]
    size: tuple[float, str] | None  # (amount in base units, base unit) stated in the name


def read_name(name: str) -> NameReading:
    """The words, head, noun, flavours, pack, dietary words and stated size of a name."""
    text = name.lower().replace("®", " ").replace("™", " ")
    tokens = _WORD.findall(text)
    words = [t for t in tokens if t.isalpha() and t not in _JOINERS]
    flat = " " + " ".join(tokens) + " "
    head = next((w for w in words if w not in _DESCRIPTORS and w not in _FLAVOURS), None)
    nouns = [w for w in words if not (w in _MULTI_WORDS or w in _SINGLE_WORDS or w in _UNIT_WORDS)]
    diets = frozenset(
        label
        for label, phrases in _DIET_PHRASES
        if any(f" {phrase} " in flat for phrase in phrases)
    )
    word_set = frozenset(words)
    if word_set & _MULTI_WORDS or " family size " in flat or " party size " in flat:
        pack = "multi"
    elif word_set & _SINGLE_WORDS:
        pack = "single"
    else:
        pack = "regular"
    size = None
    match = _SIZE.search(text)
    if match is not None:
        unit, factor = _TO_BASE[match.group(2)]
        amount = float(match.group(1)) * factor
        if amount > 0:
            size = (amount, unit)
    return NameReading(
        words=word_set,
        head=head,
        noun=nouns[-1] if nouns else None,
        flavours=word_set & _FLAVOURS,
        pack=pack,
        diets=diets,
        size=size,
    )


@dataclass(frozen=True, slots=True)
class _Customer:
    willingness: float
    refuses_all: bool
    lean: tuple[float, float, float, float, float]  # weight per TOKEN_SEGMENTS


@dataclass(frozen=True, slots=True)
class _Item:
    reading: NameReading
    tier: int  # of its head: 0 value, 1 national, 2 premium
    appeal: float  # latent, of this item
    word_appeal: float  # the mean hidden appeal of its words


class TokenTruth:
    """P(accept) of every (customer, requested, candidate) in a token world.

    The same calls as :class:`~online_learning.offline.acceptance_truth.AcceptanceTruth`:
    :meth:`accept_prob` and :meth:`hidden_effects` (no token world ties appeal to order
    counts, so it needs no popularity).
    """

    def __init__(self, config: SimConfig, population: TokenWorld, draws: KeyedRandom) -> None:
        self._config = config
        self.population = population
        self._draws = draws
        self._customers: dict[str, _Customer] = {}
        self._items: dict[str, _Item] = {}
        self._aisles: dict[str, tuple[tuple[float, ...], bool]] = {}
        self._switches: dict[str, float] = {}
        self._word_appeal: dict[str, float] = {}

    def accept_prob(
        self, customer_id: str, requested: Product, candidate: Product, ts: float
    ) -> float:
        """P(the customer accepts ``candidate`` for ``requested``), in [0.01, 0.99].

        0.01 for a customer who refuses substitutes, a lost dietary tag of the catalog's or
        an alcohol mismatch (what the hard rules stop anyway); ``ts`` is not used (no shift).
        """
        del ts
        customer = self._customer(customer_id)
        if customer.refuses_all or (requested.tags & DIETARY_TAGS) - candidate.tags:
            return P_MIN
        if ("alcohol" in requested.tags) != ("alcohol" in candidate.tags):
            return P_MIN
        world = self.population
        req, cand = self._item(requested), self._item(candidate)
        r, c = req.reading, cand.reading
        aisle_weights, strict_organic = self._aisle(requested.aisle)
        weights = [world.global_scale + w for w in aisle_weights]
        faithful, bargain, premium, clean, pack_lean = customer.lean

        # what differs between the two names, each in [0, 1] or a log ratio
        noun_differs = float(r.noun != c.noun)
        head_differs = float(r.head != c.head)
        clash = missing_flavour = 0.0
        if r.flavours:
            if not c.flavours:
                missing_flavour = 1.0
            elif not r.flavours & c.flavours:
                clash = 1.0
        pack_differs = float(r.pack != c.pack)
        diets_lost = len(r.diets - c.diets - {"organic"})
        price_up, price_down = _price_steps(requested, candidate, r, c)
        tier_down = max(0, req.tier - cand.tier)

        z = customer.willingness + cand.appeal + cand.word_appeal
        if candidate.aisle != requested.aisle:
            z -= 1.5 if candidate.department == requested.department else 3.0
        noun_w, flavour_w, head_w, pack_w, price_w, diet_w = weights
        z -= (noun_w + 0.5 * faithful) * noun_differs
        if noun_differs and r.noun and c.noun:
            z += self._switch("noun", r.noun, c.noun)
        clash_w = world.flavour_clash + flavour_w + faithful
        z -= clash_w * (clash + missing_flavour / 3.0)
        if clash:
            z += self._switch("flavour", min(r.flavours), min(c.flavours))
        z -= head_w * head_differs
        z -= (pack_w + pack_lean) * pack_differs
        z -= (price_w + 2.0 * bargain) * price_up
        z += 0.5 * bargain * price_down - 0.3 * premium * price_down
        z -= (0.3 + premium) * tier_down
        z -= (diet_w + clean) * diets_lost
        if "organic" in r.diets and "organic" not in c.diets:
            z -= 3.0 + clean if strict_organic else 0.2 + clean
        return min(P_MAX, max(P_MIN, sigmoid(z)))

    def hidden_effects(self, requested: Product, candidate: Product, ts: float) -> dict[str, float]:
        """The latent terms of the logit, keyed by level and what shares them: here only the
        candidate's own appeal (``appeal|item|0``, prior sd ``appeal_sd``). Everything else
        a token world holds follows from the words of the two names, their aisle and the
        customer, so no feedback is needed to know it once the world's rules are known."""
        del requested, ts
        return {f"appeal|{candidate.item_id}|0": self._item(candidate).appeal}

    def _customer(self, customer_id: str) -> _Customer:
        customer = self._customers.get(customer_id)
        if customer is None:
            world = self.population
            rng = random.Random(f"{self._config.seed}|token-customer|{customer_id}")
            main = rng.choices(range(len(TOKEN_SEGMENTS)), weights=world.segment_mix)[0]
            lean = tuple(
                (world.segment_strength if i == main else 0.0) + 0.3 * rng.random()
                for i in range(len(TOKEN_SEGMENTS))
            )
            customer = _Customer(
                willingness=rng.gauss(world.willingness_mean, world.willingness_sd),
                refuses_all=rng.random() < self._config.no_substitution_share,
                lean=(lean[0], lean[1], lean[2], lean[3], lean[4]),
            )
            self._customers[customer_id] = customer
        return customer

    def _item(self, product: Product) -> _Item:
        item = self._items.get(product.item_id)
        if item is None:
            reading = read_name(product.name)
            head = reading.head or ""
            u = self._draws.uniform(f"token-tier|{head}")
            tier = 0 if u < 0.3 else (1 if u < 0.8 else 2)
            words = reading.words - _DESCRIPTORS
            word_appeal = (
                sum(self._word(w) for w in words) / math.sqrt(len(words)) if words else 0.0
            )
            item = _Item(
                reading=reading,
                tier=tier,
                appeal=self.population.appeal_sd
                * self._draws.normal(f"token-appeal|{product.item_id}"),
                word_appeal=word_appeal,
            )
            self._items[product.item_id] = item
        return item

    def _word(self, word: str) -> float:
        value = self._word_appeal.get(word)
        if value is None:
            value = self.population.word_sd * self._draws.normal(f"token-word|{word}")
            self._word_appeal[word] = value
        return value

    def _switch(self, kind: str, from_word: str, to_word: str) -> float:
        key = f"token-switch|{kind}|{from_word}|{to_word}"
        value = self._switches.get(key)
        if value is None:
            value = self.population.affinity_sd * self._draws.normal(key)
            self._switches[key] = value
        return value

    def _aisle(self, aisle: str) -> tuple[tuple[float, ...], bool]:
        taste = self._aisles.get(aisle)
        if taste is None:
            world = self.population
            weights = []
            for attribute in AISLE_ATTRIBUTES:
                strong = self._draws.uniform(f"token-aisle-on|{aisle}|{attribute}")
                size = math.exp(0.5 * self._draws.normal(f"token-aisle|{aisle}|{attribute}"))
                scale = 1.0 if strong < world.aisle_active else 0.1
                weights.append(world.aisle_scale * scale * size)
            strict = self._draws.uniform(f"token-organic|{aisle}") < world.strict_organic
            taste = self._aisles[aisle] = (tuple(weights), strict)
        return taste


def _price_steps(
    requested: Product, candidate: Product, r: NameReading, c: NameReading
) -> tuple[float, float]:
    """(how much dearer, how much cheaper) the candidate is, as log ratios >= 0: per unit of
    size when both names state a size in the same unit, else per item."""
    if not requested.price or not candidate.price:
        return 0.0, 0.0
    ratio = candidate.price / requested.price
    if r.size is not None and c.size is not None and r.size[1] == c.size[1]:
        ratio *= r.size[0] / c.size[0]
    step = math.log(ratio)
    return max(0.0, step), max(0.0, -step)
