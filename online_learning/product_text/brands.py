"""The brand a product name starts with, and which first words are not brands.

:func:`guess_brand` is a heuristic on the leading words; most Instacart names carry no brand.
Its stoplist is :data:`GENERIC_FIRST_WORDS`, best extended with the descriptors a catalog uses
(:func:`brand_vocabulary`).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from online_learning.product_text.tokens import APOSTROPHES, fold

__all__ = ["GENERIC_FIRST_WORDS", "brand_vocabulary", "guess_brand"]

# First words that describe a product rather than name its maker. brand_vocabulary() adds the
# catalog's own descriptors to these.
_GENERIC_FIRST_WORDS_TEXT = """
    a an the all and with in of for by to no non not new old big mini
    organic organics natural naturals naturally fresh original originals classic classics
    large small medium extra super ultra mega jumbo giant petite tiny family value party
    whole lowfat low reduced light lite sweet sweetened unsweetened sugar fat free gluten
    dairy vegan kosher diet zero less lean plain regular simple pure real raw true
    premium select choice fancy finest gourmet artisan artisanal deluxe signature special
    traditional authentic homestyle homemade home style old-fashioned country farm garden
    wild sea mountain spring fresh-cut frozen dried canned instant sliced shredded diced chopped
    ground grated crumbled whipped roasted toasted grilled smoked baked fried cooked uncured
    boneless skinless hot mild spicy creamy crunchy crispy chunky smooth thin thick soft hard
    dark double triple single mixed assorted variety multi multigrain plus complete advanced
    maximum max strength daily everyday sensitive unscented scented gentle clean cool
    white black red green blue yellow orange pink purple brown golden gold silver
    one two three four five six seven eight nine ten twelve dozen half quarter
    first second third
    baby babies babys kids kid childrens children mens womens men women adult adults
    italian french greek mexican thai american english swiss spanish indian japanese chinese
    korean german irish hawaiian californian california asian mediterranean european
    vitamin protein honey chocolate vanilla strawberry lemon apple chicken beef cheese milk
    filipino philippine vietnamese peruvian brazilian colombian cuban jamaican caribbean
    moroccan turkish lebanese israeli persian russian polish dutch belgian danish norwegian
    icelandic scottish british australian canadian southern northern western eastern tuscan
    sicilian bavarian hungarian portuguese
    my our your every even get go just good better best great
    am pm day night daytime nighttime morning easter christmas holiday halloween summer winter
    bottled jarred boxed packaged genuine superior designer security eco brut riserva reserve
    cage canine feline puppy kitten dog cat pet caffe cafe unsweet decaf cavity sweeper
    chlorine parchment salisbury biotin arnica lactase pill pills tablets capsules
"""
GENERIC_FIRST_WORDS: frozenset[str] = frozenset(_GENERIC_FIRST_WORDS_TEXT.split())

_POSSESSIVE_GENERIC = frozenset({"childrens", "mens", "womens", "kids", "babys", "todays"})
_BRAND_WORD = re.compile(r"[^\W_][\w'’.\-]*[®™]?|&|\+")


def _brand_key(word: str) -> str:
    """A word as brand_vocabulary and guess_brand compare it: "Jerry's®" -> "jerrys"."""
    return APOSTROPHES.sub("", fold(word.rstrip("®™"))).strip(".-")


def _brand_keys(name: str) -> list[str]:
    """_brand_key of every word of a name, folding the name once."""
    text = APOSTROPHES.sub("", fold(name.replace("®", " ").replace("™", " ")))
    return [word.strip(".-") for word in _BRAND_WORD.findall(text)]


def brand_vocabulary(
    names: Iterable[str],
    aisles: Iterable[str] | None = None,
    *,
    min_aisle_share: float = 0.02,
    min_later_uses: int = 8,
) -> frozenset[str]:
    """First words that are generic descriptors, learned from a catalog's own names.

    A word counts as generic when it is in :data:`GENERIC_FIRST_WORDS`, or when the catalog
    also uses it *inside* names: at least as often as it leads one (and 3 times or more), or
    broadly, i.e. as a non-first word in at least ``min_aisle_share`` of the aisles when
    ``aisles`` (one per name) are given, else at least ``min_later_uses`` times. Descriptors
    ("chocolate", "decaf", "ibuprofen") turn up mid-name across several aisles; a maker's
    name mostly leads its own products. Pass the result to :func:`guess_brand`.

    >>> names = ["Oikos Lemon Yogurt", "Oikos Plain Yogurt", "Lemon Cake", "Greek Lemon Bar"]
    >>> generic = brand_vocabulary(names, ["yogurt", "yogurt", "cakes", "bars"])
    >>> "lemon" in generic, "oikos" in generic
    (True, False)
    """
    first_uses: Counter[str] = Counter()
    later_uses: Counter[str] = Counter()
    later_aisles: defaultdict[str, set[str]] = defaultdict(set)
    aisle_list = list(aisles) if aisles is not None else None
    for i, name in enumerate(names):
        words = _brand_keys(name)
        if not words:
            continue
        first_uses[words[0]] += 1
        aisle = aisle_list[i] if aisle_list is not None else ""
        for word in set(words[1:]):
            later_uses[word] += 1
            later_aisles[word].add(aisle)
    learned = {w for w, n in later_uses.items() if n >= max(3, first_uses[w])}
    if aisle_list is not None:
        need = max(2, math.ceil(min_aisle_share * len(set(aisle_list))))
        learned.update(w for w, seen in later_aisles.items() if len(seen) >= need)
    else:
        learned.update(w for w, n in later_uses.items() if n >= min_later_uses)
    return GENERIC_FIRST_WORDS | learned


def guess_brand(name: str, common_first_words: frozenset[str] = GENERIC_FIRST_WORDS) -> str | None:
    """The brand a product name starts with, lower-cased, or None.

    The first word is taken as a brand unless it is generic (``common_first_words``, best
    learned with :func:`brand_vocabulary`), a number, a single letter, directly followed by a
    comma ("Jerky, Chicken") or the whole name. A word marked ® within the first four moves
    the start to the first non-generic word before it ("Ultra Downy® ..." -> "downy"). A
    possessive second word joins ("trader joe's"), as does "& X's" ("ben & jerry's"); "and"
    between brand words is written "&".

    >>> guess_brand("Ben & Jerry's Half Baked Ice Cream")
    "ben & jerry's"
    >>> guess_brand("Annie's Homegrown Shells & White Cheddar")
    "annie's"
    >>> guess_brand("Pepperidge Farm® Goldfish"), guess_brand("Pepperidge Farm Goldfish")
    ('pepperidge', 'pepperidge')
    >>> guess_brand("Ultra Downy® Mountain Spring™ Liquid Fabric Conditioner")
    'downy'
    >>> guess_brand("Organic Whole Milk"), guess_brand("2nd Foods Bananas"), guess_brand("Lager")
    (None, None, None)
    """
    words = _BRAND_WORD.findall(name[:160])
    start, marked = 0, False
    for end, word in enumerate(words[:4]):
        if word.endswith("®"):
            while start < end and _brand_key(words[start]) in common_first_words:
                start += 1
            marked = start == end  # the marked word is the brand even if used as a word
            break
    words = words[start:]
    if len(words) < 2:
        return None
    first = words[0]
    key = _brand_key(first)
    if (
        len(key) < 2
        or not key[0].isalpha()
        or (key in common_first_words and not marked)
        or key in _POSSESSIVE_GENERIC
        or (start == 0 and _followed_by_comma(name, first))
    ):
        return None
    brand = [first]
    if not _is_possessive(first) and len(words) >= 3:
        second = _brand_key(words[1])
        if second in {"&", "and", "+"}:
            if _is_possessive(words[2]) and len(words) >= 4:
                brand += ["&", words[2]]
        elif (
            _is_possessive(words[1])
            and second not in common_first_words
            and second not in _POSSESSIVE_GENERIC
        ):
            brand.append(words[1])
    return _join_brand(brand)


def _followed_by_comma(name: str, word: str) -> bool:
    """Whether the first occurrence of ``word`` in ``name`` is directly followed by a comma."""
    at = name.find(word)
    return at >= 0 and name[at + len(word) :].lstrip().startswith(",")


def _is_possessive(word: str) -> bool:
    return len(word) > 2 and APOSTROPHES.sub("'", word).lower().endswith("'s")


def _join_brand(words: list[str]) -> str | None:
    parts = []
    for word in words:
        word = APOSTROPHES.sub("'", fold(word.rstrip("®™"))).strip("'.-")
        parts.append("&" if word in {"and", "+"} else word)
    brand = " ".join(p for p in parts if p)
    return brand or None
