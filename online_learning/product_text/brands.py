"""The brand a product name starts with, and which first words are not brands.

:func:`guess_brand` is a heuristic on the leading words; many names carry no brand. Its
stoplist is the catalog's own: :class:`BrandVocabulary` learns which first words are
descriptors from the names a catalog holds, and keeps learning as items come and go, on top of
:data:`GENERIC_FIRST_WORDS`, a seed of English descriptors (:func:`brand_vocabulary` is the
same in one go).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Container, Iterable

from online_learning.product_text.tokens import APOSTROPHES, fold

__all__ = [
    "GENERIC_FIRST_WORDS",
    "BrandVocabulary",
    "brand_guess_words",
    "brand_vocabulary",
    "guess_brand",
]

# First words that describe a product rather than name its maker, in English, and the articles
# and prepositions of a few other languages ("Le", "Il", "Sin"): a seed that BrandVocabulary adds
# the catalog's own descriptors to, in whatever language it is written.
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
    le la les l du de des un une au aux et en pour avec sans der die das ein eine und mit
    ohne fur el los las una y con sin para del il lo gli e senza per di het een met zonder
    voor van
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


def brand_guess_words(name: str) -> list[str]:
    """The words whose standing as descriptors :func:`guess_brand` reads for this name: the
    first word, a possessive second word ("Trader Joe's"), and with a brand marked ® the first
    five. When one of them turns descriptor or brand, the guess may change.

    >>> brand_guess_words("Trader Joe's Cheddar"), brand_guess_words("Ben & Jerry's Fudge")
    (['trader', 'joes'], ['ben'])
    >>> brand_guess_words("Ultra Downy® April Fresh Softener")
    ['ultra', 'downy', 'april', 'fresh', 'softener']
    """
    head = name[:160]
    if "®" in head:
        words = _BRAND_WORD.findall(head)[:5]
        if any(word.endswith("®") for word in words[:4]):
            return [_brand_key(word) for word in words]
    words = [m.group() for m in itertools.islice(_BRAND_WORD.finditer(head), 3)]
    keys = [_brand_key(word) for word in words[:1]]
    if len(words) >= 3 and _is_possessive(words[1]) and not _is_possessive(words[0]):
        keys.append(_brand_key(words[1]))
    return keys


class BrandVocabulary:
    """Which first words of a catalog's names are descriptors, not brands, kept up to date as
    names are added and removed. ``word in vocabulary`` asks; pass it to :func:`guess_brand`.

    A word is a descriptor when it is in ``seed`` (:data:`GENERIC_FIRST_WORDS` by default),
    or when the catalog also uses it *inside* names: at least as often as it leads one (and
    3 times or more), or broadly, as a non-first word in at least ``min_aisle_share`` of the
    aisles (and at least 2). Descriptors ("chocolate", "decaf", "ibuprofen") turn up mid-name
    across several aisles; a maker's name mostly leads its own products.

    :meth:`add` and :meth:`remove` cost a few dictionary updates per word of the name and
    return the words whose standing changed, so a catalog can re-guess the brands that depend
    on them; only when the number of aisles moves the breadth threshold are all words looked
    at again.

    >>> vocabulary = BrandVocabulary()
    >>> vocabulary.extend([("Zesty Crackers", "crackers"), ("Zesty Chips", "chips")])
    set()
    >>> "zesty" in vocabulary
    False
    >>> sorted(vocabulary.add("Crunchco Zesty Snack", "snacks"))
    []
    >>> sorted(vocabulary.add("Nutco Zesty Nuts", "nuts"))
    ['zesty']
    >>> "zesty" in vocabulary, "nutco" in vocabulary
    (True, False)
    >>> sorted(vocabulary.remove("Nutco Zesty Nuts", "nuts"))
    ['zesty']
    """

    def __init__(
        self, seed: frozenset[str] = GENERIC_FIRST_WORDS, *, min_aisle_share: float = 0.02
    ) -> None:
        self.seed = seed
        self.min_aisle_share = min_aisle_share
        self._first: Counter[str] = Counter()  # word -> names it leads
        self._later: Counter[str] = Counter()  # word -> names it is in after the first word
        self._later_aisles: dict[str, Counter[str]] = {}  # word -> aisle -> such names
        self._names_per_aisle: Counter[str] = Counter()
        self._learned: set[str] = set()
        self._need = 2  # aisles a word must be used in, mid-name, to count as a descriptor

    def __contains__(self, word: object) -> bool:
        return word in self.seed or word in self._learned

    @property
    def words(self) -> frozenset[str]:
        """Every descriptor now: the seed and what was learned."""
        return self.seed | self._learned

    def add(self, name: str, aisle: str) -> set[str]:
        """Count a name; returns the words that became or stopped being descriptors."""
        return self._restate(self._count(name, aisle, 1))

    def remove(self, name: str, aisle: str) -> set[str]:
        """Forget a name added before; returns the words whose standing changed."""
        return self._restate(self._count(name, aisle, -1))

    def extend(self, names: Iterable[tuple[str, str]]) -> set[str]:
        """:meth:`add` for many (name, aisle) pairs, looking at each word once at the end."""
        touched: set[str] = set()
        for name, aisle in names:
            touched |= self._count(name, aisle, 1)
        return self._restate(touched)

    def _count(self, name: str, aisle: str, step: int) -> set[str]:
        # Counts at zero are dropped (here and in _drop), so memory follows what is held.
        self._names_per_aisle[aisle] += step
        if self._names_per_aisle[aisle] <= 0:
            del self._names_per_aisle[aisle]
        words = _brand_keys(name)
        if not words:
            return set()
        first = words[0]
        self._first[first] += step
        if self._first[first] <= 0:
            del self._first[first]
        later = set(words[1:])
        for word in later:
            self._later[word] += step
            per_aisle = self._later_aisles.get(word)
            if per_aisle is None:
                per_aisle = self._later_aisles[word] = Counter()
            per_aisle[aisle] += step
            if per_aisle[aisle] <= 0:
                del per_aisle[aisle]
                if not per_aisle:
                    del self._later_aisles[word]
            if self._later[word] <= 0:
                del self._later[word]
        later.add(first)
        return later

    def _restate(self, touched: set[str]) -> set[str]:
        need = max(2, math.ceil(self.min_aisle_share * len(self._names_per_aisle)))
        if need != self._need:
            self._need = need
            touched = touched | set(self._later_aisles) | set(self._later) | self._learned
        flipped: set[str] = set()
        for word in touched:
            later = self._later[word]
            generic = later >= max(3, self._first[word]) or (
                later > 0 and len(self._later_aisles.get(word, ())) >= need
            )
            if generic != (word in self._learned):
                if generic:
                    self._learned.add(word)
                else:
                    self._learned.discard(word)
                if word not in self.seed:
                    flipped.add(word)
        return flipped


def brand_vocabulary(
    names: Iterable[str], aisles: Iterable[str], *, min_aisle_share: float = 0.02
) -> frozenset[str]:
    """The descriptors of a whole catalog at once (one name per aisle given): see
    :class:`BrandVocabulary`, whose ``words`` this returns.

    >>> names = ["Oikos Lemon Yogurt", "Oikos Plain Yogurt", "Lemon Cake", "Greek Lemon Bar"]
    >>> generic = brand_vocabulary(names, ["yogurt", "yogurt", "cakes", "bars"])
    >>> "lemon" in generic, "oikos" in generic
    (True, False)
    """
    vocabulary = BrandVocabulary(min_aisle_share=min_aisle_share)
    vocabulary.extend(zip(names, aisles, strict=True))
    return vocabulary.words


def guess_brand(name: str, common_first_words: Container[str] = GENERIC_FIRST_WORDS) -> str | None:
    """The brand a product name starts with, lower-cased, or None.

    The first word is taken as a brand unless it is generic (``common_first_words``, best
    learned from the catalog with :class:`BrandVocabulary`), a number, a single letter,
    directly followed by a comma ("Jerky, Chicken") or the whole name. A word marked ® within
    the first four moves the start to the first non-generic word before it ("Ultra Downy® ..."
    -> "downy"). A possessive second word joins ("trader joe's"), as does "& X's" ("ben &
    jerry's"); "and" between brand words is written "&".

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
