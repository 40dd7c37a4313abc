"""What simulated customers write when they turn a substitute down, and the buttons they press.

The simulator knows why a customer refused: the pair's gap that its hidden customer model
weighs most (a price jump, another pack size, another brand, a lost dietary promise, another
kind of product) or, for no visible gap and for most refunds, the item itself (quality,
appeal). :func:`hidden_reason` draws that reason, weighted by how large each gap is, and
:class:`CommentWriter` turns it into what a feedback event carries (contract v1 ``comment``
and ``reason``) the way people write: several phrasings per reason, typos, shouting or no
capitals, an emoji, another language now and then, complaints about something else entirely
("driver was late"), and many refusals with no comment at all. A share of the events carry
``reason`` codes, as a shopper app with buttons would send them.

Everything is drawn from keyed randomness (:mod:`~online_learning.offline.keyed_random`), by
event key, so a seed writes the same notes whatever else the run does, and writing them changes
no other draw of the simulation.

>>> from online_learning.contract import Product
>>> beans = Product("1", "Roastery Coffee Beans", "coffee", "pantry", 6.0, 500.0, "g", "roastery")
>>> gold = Product("2", "Roastery Gold Coffee Beans", "coffee", "pantry", 11.0, 500.0, "g",
...                "roastery")
>>> writer = CommentWriter(seed=3)
>>> note = writer.write("r-1", "rejected", beans, gold)
>>> note.hidden, note == writer.write("r-1", "rejected", beans, gold)
('price', True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from online_learning.contract import REASONS, Product
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.product_text import DIETARY_TAGS, FAT_LEVELS, base_size, flavor_tokens

__all__ = [
    "HIDDEN_REASONS",
    "REASON_CODES",
    "CommentWriter",
    "CustomerNote",
    "hidden_reason",
    "reason_gaps",
]

HIDDEN_REASONS = ("price", "size", "brand", "dietary", "kind", "quality")
"""Why a simulated customer refused, as the simulator knows it."""

REASON_CODES = {
    "price": "too_expensive",
    "size": "wrong_size",
    "brand": "different_brand",
    "dietary": "dietary",
    "kind": "wrong_product",
    "quality": "quality",
}
"""The contract's reason code a shopper app's button sends for each hidden reason."""

# The share of events with a comment, by outcome: an unhappy customer writes more often.
COMMENT_SHARE = {"rejected": 0.6, "refunded": 0.75, "accepted": 0.08}
CODES_SHARE = 0.45  # refusals sent with reason codes (the app's buttons)
NOISE_ONLY_SHARE = 0.07  # comments about something else entirely
NOISE_TOO_SHARE = 0.08  # ... or about the reason and something else
FOREIGN_SHARE = 0.12  # comments in German, French, Spanish or Dutch
EMOJI_SHARE = 0.15
TYPO_SHARE = 0.2

_KIND_STOPWORDS = frozenset({"and", "with", "in", "of", "the", "organic", "natural"})

_PHRASES: dict[str, tuple[str, ...]] = {
    "price": (
        "too expensive",
        "way too pricey for what it is",
        "{pct}% more than what I ordered, no thanks",
        "I'm not paying that much more",
        "this costs almost double",
        "Why would I want the expensive one?",
        "price is too high",
        "cheaper option please next time",
        "i ordered the budget one for a reason",
        "not worth the extra money",
        "over budget",
        "that's a rip off",
    ),
    "size": (
        "wrong size",
        "I needed {size}, not this",
        "the size is completely different",
        "wrong pack size",
        "not the quantity I asked for",
    ),
    "brand": (
        "I only buy {brand}",
        "wrong brand",
        "don't like this brand",
        "we always get {brand}, the kids won't eat anything else",
        "not my usual brand",
        "I asked for {brand} specifically",
        "other brands taste different",
        "prefer the original brand",
        "brand matters to me",
        "never liked {other_brand}",
    ),
    "dietary": (
        "I'm lactose intolerant!",
        "needs to be gluten free",
        "this is not {tag}",
        "we're vegan, can't use this",
        "my son has an allergy, please read the label",
        "I ordered {tag} for a reason",
        "not organic",
        "dietary requirement, can't eat this",
        "it has dairy in it",
        "wrong for my diet",
    ),
    "kind": (
        "this is not what I ordered at all",
        "completely different product",
        "I wanted {item}, not {sub}",
        "wrong product",
        "that's not even the same thing",
        "why would this replace {item}??",
        "not a substitute for what I wanted",
        "wrong flavour",
        "I needed it for a recipe, this won't work",
        "totally different item",
    ),
    "quality": (
        "it was bruised",
        "expired",
        "went off the next day",
        "damaged packaging",
        "looked old",
        "poor quality",
        "tasted bad",
        "the box was crushed",
        "best before date was tomorrow",
        "not fresh",
        "leaking when it arrived",
        "didn't like it",
    ),
}

# Size complaints that depend on which way the pack is off, added to the generic ones.
_BIGGER = (
    "way too big, I live alone",
    "too much, it'll go off before we finish it",
    "huge tub, no space in my fridge",
    "I don't need a family pack",
)
_SMALLER = (
    "too small, I needed the big pack",
    "this pack is tiny",
    "that won't last a day",
    "not enough for the recipe",
)

# Another language, a few phrasings per reason: customers write in theirs.
_FOREIGN: dict[str, tuple[str, ...]] = {
    "price": ("zu teuer", "trop cher", "demasiado caro", "veel te duur", "viel zu teuer!"),
    "size": ("falsche Größe", "pas la bonne taille", "tamaño equivocado", "verkeerde maat"),
    "brand": ("falsche Marke", "pas la bonne marque", "marca equivocada", "verkeerd merk"),
    "dietary": (
        "ich vertrage keine Laktose",
        "pas sans gluten",
        "no es vegano",
        "niet glutenvrij",
    ),
    "kind": ("falsches Produkt", "ce n'est pas ce que j'ai commandé", "producto equivocado"),
    "quality": ("war schon abgelaufen", "abîmé", "estaba podrido", "beschadigd", "pas frais"),
}

# About something else: the delivery, the shopper, the app.
_NOISE = (
    "driver was late",
    "the bag was torn",
    "great shopper though",
    "delivery took 2 hours",
    "app kept crashing",
    "thanks anyway",
    "please ring the bell next time",
    "eggs were fine",
    "my order was missing a bag",
)

# What a customer who kept the substitute might say.
_CONTENT = (
    "fine, thanks",
    "good swap!",
    "ok",
    "works for me",
    "even better than the original",
    "thanks for finding something",
)

Draw = Callable[[str], float]  # a uniform in (0, 1) for a named choice of one event

_EMOJI = ("😠", "🙄", "👎", "😞", "💸", "😤", "🤢", "😕", "🙃")
_HAPPY_EMOJI = ("👍", "🙂", "😊", "🙏")


def reason_gaps(requested: Product, substitute: Product) -> dict[str, float]:
    """How large each visible gap of the pair is, on the scale the hidden customers weigh it.

    A lost dietary or organic promise outweighs anything; a price jump counts by how much
    dearer, a size by how far off (a count for a weight is far off), another kind of product
    (or fat level, or aisle) by how little the names share; quality has a floor, since the item
    itself can disappoint whatever the pair shows.

    >>> from online_learning.contract import Product
    >>> milk = Product("1", "Acme Whole Milk", "milk", "dairy", 3.0, brand="acme",
    ...                tags=frozenset({"whole", "lactose_free"}))
    >>> oat = Product("2", "Oatly Oat Drink", "milk", "dairy", 3.0, brand="oatly")
    >>> gaps = reason_gaps(milk, oat)
    >>> max(gaps, key=gaps.__getitem__), gaps["brand"] > 0, gaps["price"]
    ('dietary', True, 0.0)
    """
    lost = (requested.tags & (DIETARY_TAGS | {"organic"})) - substitute.tags
    gaps = dict.fromkeys(HIDDEN_REASONS, 0.0)
    gaps["dietary"] = 4.0 if lost else 0.0
    if requested.price and substitute.price:
        gaps["price"] = 3.0 * max(0.0, substitute.price / requested.price - 1.0)
    want = base_size(requested.size, requested.unit)
    got = base_size(substitute.size, substitute.unit)
    if want is not None and got is not None:
        gaps["size"] = 2.0 * abs(math.log(got[0] / want[0])) if want[1] == got[1] else 3.0
    if requested.brand and substitute.brand and requested.brand != substitute.brand:
        gaps["brand"] = 1.2
    kind_a = frozenset(flavor_tokens(requested.name, requested.brand)) - _KIND_STOPWORDS
    kind_b = frozenset(flavor_tokens(substitute.name, substitute.brand)) - _KIND_STOPWORDS
    union = kind_a | kind_b
    overlap = len(kind_a & kind_b) / len(union) if union else 1.0
    fat_a = [FAT_LEVELS[t] for t in requested.tags if t in FAT_LEVELS]
    fat_b = [FAT_LEVELS[t] for t in substitute.tags if t in FAT_LEVELS]
    fat = 1.0 if fat_a and fat_b and max(fat_a) != max(fat_b) else 0.0
    other_aisle = 1.5 if substitute.aisle != requested.aisle else 0.0
    gaps["kind"] = 2.5 * (1.0 - overlap) + fat + other_aisle
    gaps["quality"] = 0.6
    return gaps


def hidden_reason(
    draws: KeyedRandom, key: str, outcome: str, requested: Product, substitute: Product
) -> str:
    """Why this customer turned the substitute down: a draw weighted by the squared gaps, so
    the largest gap usually wins; a refund (kept, then returned) is mostly about quality."""
    gaps = reason_gaps(requested, substitute)
    if outcome == "refunded":
        gaps["quality"] = max(gaps.values()) + 1.0
    weights = [gaps[r] ** 2 for r in HIDDEN_REASONS]
    u = draws.uniform(f"why|{key}") * sum(weights)
    for reason, weight in zip(HIDDEN_REASONS, weights, strict=True):
        u -= weight
        if u < 0:
            return reason
    return "quality"


@dataclass(frozen=True, slots=True)
class CustomerNote:
    """What one feedback event says about itself, and the truth behind it.

    ``comment`` and ``reason`` go into the event (contract v1); ``hidden`` is the simulator's
    own knowledge (one of :data:`HIDDEN_REASONS`, or None for an accepted substitute) and
    never leaves it.
    """

    comment: str | None
    reason: tuple[str, ...]
    hidden: str | None


class CommentWriter:
    """Writes the comment and the reason codes of simulated feedback, deterministic per seed."""

    def __init__(self, seed: int) -> None:
        self._draws = KeyedRandom(seed)

    def write(
        self, key: str, outcome: str, requested: Product, substitute: Product
    ) -> CustomerNote:
        """The note of the feedback event ``key`` (unique per event, e.g. the request id)."""
        draws = self._draws

        def u(slot: str) -> float:
            return draws.uniform(f"note|{key}|{slot}")

        if outcome == "accepted":
            if u("comment") >= COMMENT_SHARE["accepted"]:
                return CustomerNote(None, (), None)
            text = _pick(_CONTENT, u("phrase"))
            if u("emoji") < EMOJI_SHARE:
                text += " " + _pick(_HAPPY_EMOJI, u("which-emoji"))
            return CustomerNote(_style(text, u), (), None)
        hidden = hidden_reason(draws, key, outcome, requested, substitute)
        codes: tuple[str, ...] = ()
        if u("codes") < CODES_SHARE:
            codes = _codes(hidden, u)
        if u("comment") >= COMMENT_SHARE.get(outcome, 0.6):
            return CustomerNote(None, codes, hidden)
        if u("noise") < NOISE_ONLY_SHARE:
            text = _pick(_NOISE, u("noise-phrase"))
        else:
            if u("foreign") < FOREIGN_SHARE:
                text = _pick(_FOREIGN[hidden], u("phrase"))
            else:
                phrases = _PHRASES[hidden]
                if hidden == "size":
                    phrases += _size_phrases(requested, substitute)
                text = _fill(_pick(phrases, u("phrase")), requested, substitute)
            if u("noise-too") < NOISE_TOO_SHARE:
                text += (". " if u("join") < 0.5 else ", also ") + _pick(_NOISE, u("noise-phrase"))
        text = _style(text, u)
        if u("emoji") < EMOJI_SHARE:
            text += " " + _pick(_EMOJI, u("which-emoji")) * (1 + int(u("emoji-n") * 3))
        return CustomerNote(text, codes, hidden)


def _pick(options: tuple[str, ...], u: float) -> str:
    return options[int(u * len(options))]


def _codes(hidden: str, draw: Draw) -> tuple[str, ...]:
    if draw("code-other") < 0.05:
        return ("other",)
    codes = [REASON_CODES[hidden]]
    if draw("code-extra") < 0.12:  # a second button pressed too
        extra = REASON_CODES[_pick(HIDDEN_REASONS, draw("code-extra-which"))]
        if extra not in codes:
            codes.append(extra)
    return tuple(code for code in REASONS if code in codes)  # as the decoder orders them


def _size_phrases(requested: Product, substitute: Product) -> tuple[str, ...]:
    want = base_size(requested.size, requested.unit)
    got = base_size(substitute.size, substitute.unit)
    if want is None or got is None or want[1] != got[1] or want[0] == got[0]:
        return ()
    return _BIGGER if got[0] > want[0] else _SMALLER


def _fill(template: str, requested: Product, substitute: Product) -> str:
    pct = 0
    if requested.price and substitute.price:
        pct = max(1, round(100 * (substitute.price / requested.price - 1.0)))
    size = "the size I picked"
    if requested.size and requested.unit:
        size = f"{requested.size:g} {requested.unit}"
    lost = sorted((requested.tags & (DIETARY_TAGS | {"organic"})) - substitute.tags)
    return template.format(
        pct=pct,
        size=size,
        brand=requested.brand or "my brand",
        other_brand=substitute.brand or "this one",
        tag=(lost[0] if lost else "what I need").replace("_", " "),
        item=_short(requested.name),
        sub=_short(substitute.name),
    )


def _short(name: str) -> str:
    return " ".join(name.split()[:4]).lower()


def _style(text: str, draw: Draw) -> str:
    """Casing, punctuation and typos as people type on a phone."""
    if draw("typo") < TYPO_SHARE and len(text) > 4:
        text = _typo(text, draw("typo-at"), draw("typo-kind"))
    case = draw("case")
    if case < 0.3:
        text = text.lower()
    elif case < 0.36:
        text = text.upper()
    elif case < 0.8:
        text = text[:1].upper() + text[1:]
    end = draw("end")
    if text[-1:].isalnum():
        if end < 0.3:
            text += "."
        elif end < 0.42:
            text += "!!"
        elif end < 0.5:
            text += "..."
    return text


def _typo(text: str, u_at: float, u_kind: float) -> str:
    at = 1 + int(u_at * (len(text) - 2))
    if u_kind < 0.4:  # two letters swapped
        return text[: at - 1] + text[at] + text[at - 1] + text[at + 1 :]
    if u_kind < 0.7:  # a letter dropped
        return text[:at] + text[at + 1 :]
    return text[:at] + text[at] + text[at:]  # a letter doubled
