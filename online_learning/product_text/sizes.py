"""The package size a product name states: "64 oz", "1/2 Gallon", "12 Pk", "750 Ml".

:func:`parse_size` returns *one* size per name: the largest mass or volume written with a
number, else the largest count, else a bare unit word ("Half Gallon" -> 0.5 gal). Pack maths
is not done ("12 x 12 oz" -> 12 oz). Ranges ("16-28 lb") and limits ("up to 10 lbs") are not
sizes. Capacities read like contents ("30 Gallon Trash Bags" -> 30 gal). Sizes compare in
base units (:func:`to_base_units`, :func:`base_size`): grams, millilitres or a count.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from online_learning.product_text.tokens import fold

__all__ = ["CANONICAL_UNITS", "base_size", "parse_size", "remove_sizes", "to_base_units"]

CANONICAL_UNITS: frozenset[str] = frozenset(
    {"oz", "fl_oz", "lb", "g", "kg", "ml", "l", "gal", "qt", "pt", "ct"}
)

# canonical unit -> (base unit, factor). "oz" is weight; fluid ounces are spelled out as fl_oz.
_BASE: dict[str, tuple[str, float]] = {
    "oz": ("g", 28.3495),
    "lb": ("g", 453.592),
    "g": ("g", 1.0),
    "kg": ("g", 1000.0),
    "fl_oz": ("ml", 29.5735),
    "ml": ("ml", 1.0),
    "l": ("ml", 1000.0),
    "gal": ("ml", 3785.41),
    "qt": ("ml", 946.353),
    "pt": ("ml", 473.176),
    "ct": ("ct", 1.0),
}

# (regex for the spellings, canonical unit, multiplier). Tried in this order, so the longer
# "fl oz" wins over "oz". Every spelling is matched after _fold, i.e. lower-case.
_GLUED_Z = "z"  # point-of-sale shorthand ("11Z"), only taken when glued to the number
_UNIT_SPELLINGS: list[tuple[str, str, float]] = [
    (r"fl\.?\s*oz\.?|fl\.?\s*ounces?|fluid\s+ounces?", "fl_oz", 1.0),
    (r"ozs?\.?|ounces?", "oz", 1.0),
    (_GLUED_Z, "oz", 1.0),
    (r"lbs?\.?|pounds?", "lb", 1.0),
    (r"kgs?\.?|kilos?|kilograms?|kilogrammes?", "kg", 1.0),
    (r"grams?|grammes?|grs?\.?|g\.?", "g", 1.0),
    (r"mls?\.?|milliliters?|millilitres?", "ml", 1.0),
    (r"cl", "ml", 10.0),
    (r"ltrs?|lts?|liters?|litres?|l", "l", 1.0),
    (r"gal\.?|gallons?", "gal", 1.0),
    (r"qts?\.?|quarts?", "qt", 1.0),
    (r"pts?\.?|pints?", "pt", 1.0),
    (r"ct\.?|cts|cnt|count|pks?\.?|packs?|pcs?\.?|pieces?|ea|each", "ct", 1.0),
    (r"dozen", "ct", 12.0),
]
# A comma before exactly three digits groups thousands ("1,000 g"); before one or two it is a
# decimal comma, as most of Europe writes sizes ("1,5 l", "0,75 l").
_NUMBER = r"\d+\s+\d+/\d+|\d+/\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+,\d{1,2}(?!\d)|\d*\.\d+|\d+"
_DECIMAL_COMMA = re.compile(r"\d+,\d{1,2}")
_SIZE = re.compile(
    rf"(?<![\d.,/])(?P<num>{_NUMBER})(?P<sep>\s*[-‐‑–]?\s*)(?:"
    + "|".join(f"(?P<u{i}>{pattern})" for i, (pattern, _, _) in enumerate(_UNIT_SPELLINGS))
    + r")(?![a-z])"
)
_UNIT_OF_GROUP = {f"u{i}": (unit, mult) for i, (_, unit, mult) in enumerate(_UNIT_SPELLINGS)}
_GLUED_ONLY = frozenset(f"u{i}" for i, (p, _, _) in enumerate(_UNIT_SPELLINGS) if p == _GLUED_Z)
# Unit words that mean one of themselves without a number: "Half Gallon", "Pint Mason Jars".
# A bare "pound" is not one of them ("Pound Cake"), only "half/quarter pound".
_BARE_SIZE = re.compile(
    r"(?<![a-z])(?:(?P<frac>half|quarter)[\s-]+)?"
    r"(?P<unit>gallon|quart|pint|liter|litre|dozen|(?<=half )pound|(?<=quarter )pound)s?(?![a-z])"
)
_BARE_UNITS = {
    "gallon": ("gal", 1.0),
    "quart": ("qt", 1.0),
    "pint": ("pt", 1.0),
    "liter": ("l", 1.0),
    "litre": ("l", 1.0),
    "dozen": ("ct", 12.0),
    "pound": ("lb", 1.0),
}
# A number after these is a limit, the end of a range or a size/stage/age label, not a
# package size ("16-28 lb", "up to 10 lbs", "Size 4", "Stage 2").
_NOT_A_SIZE_BEFORE = re.compile(
    r"(?:\d\s*[-‐‑–]|\bto|\bless than|\bunder|\bover|\bper|\bsize|\bstage|\bage)\s*$"
)
_DIGIT = re.compile(r"\d")
_NUTRIENT_AFTER = re.compile(
    r"\s*(?:of\s+)?(?:protein|fiber|fibre|sugars?|fat|carbs?|net\b|sodium|caffeine|whole\s+grain)"
)


def _number(text: str) -> float:
    """The value of a _NUMBER match: "12", "1.5", "1,5", "1,000", "1/2" or "1 1/2" (x/0 is inf)."""
    if _DECIMAL_COMMA.fullmatch(text):
        return float(text.replace(",", "."))
    value = 0.0
    for part in text.replace(",", "").split():
        num, _, den = part.partition("/")
        if not den:
            value += float(num)
        elif float(den):
            value += float(num) / float(den)
        else:
            return math.inf
    return value


def _size_matches(folded: str) -> Iterable[tuple[re.Match[str], float, str]]:
    """Every numeric size mention of a folded name, as (match, quantity, canonical unit)."""
    for m in _SIZE.finditer(folded):
        group = m.lastgroup
        if group is None:  # pragma: no cover - the regex always ends in a unit group
            continue
        unit, mult = _UNIT_OF_GROUP[group]
        glued = not m.group("sep")
        num = m.group("num")
        if group in _GLUED_ONLY and not glued:
            continue
        # "5G Medium Golden Brown" is a hair-colour code, "4g fiber" a nutrient claim.
        if glued and m.group(group) == "g" and num.isdigit() and len(num) == 1:
            continue
        if _NOT_A_SIZE_BEFORE.search(folded, 0, m.start()):
            continue
        if folded.startswith("+", m.end()):  # "35+ lbs"
            continue
        if _BASE[unit][0] == "g" and _NUTRIENT_AFTER.match(folded, m.end()):
            continue
        qty = _number(num) * mult
        if math.isfinite(qty) and qty > 0:
            yield m, qty, unit


def parse_size(name: str) -> tuple[float, str] | None:
    """The package size written in a product name, as (quantity, canonical unit), or None.

    Units come back as one of :data:`CANONICAL_UNITS`; "oz" is a weight ounce and "fl_oz" a
    fluid ounce. When a name states several sizes the largest mass or volume wins, then the
    largest count, then a bare unit word.

    >>> parse_size("Vanilla Almond Breeze Almond Milk 64 oz")
    (64.0, 'oz')
    >>> parse_size("Organic Apple Cider Vinegar 16 Fl Oz")
    (16.0, 'fl_oz')
    >>> parse_size("Kenwood Cabernet Sauvignon Sonoma Valley 750 Ml")
    (750.0, 'ml')
    >>> parse_size("Lager Beer 12 ct"), parse_size("Classic Potato Hotdog Buns 8 Pk")
    ((12.0, 'ct'), (8.0, 'ct'))
    >>> parse_size("Organic Milk 1/2 gallon"), parse_size("Half Gallon Whole Milk")
    ((0.5, 'gal'), (0.5, 'gal'))
    >>> parse_size("Squirt Rub R 12 Floz 12 Pk 144 Floz")
    (144.0, 'fl_oz')
    >>> parse_size("Baby Free & Clear Size 3 16-28 Lbs Diapers") is None
    True
    >>> parse_size("Pound Cake") is None
    True
    """
    folded = fold(name)
    best: tuple[int, float, float, str] | None = None
    matches = _size_matches(folded) if _DIGIT.search(folded) else ()
    for _, qty, unit in matches:
        base, factor = _BASE[unit]
        rank = (1 if base == "ct" else 2, qty * factor, qty, unit)
        if best is None or rank[:2] > best[:2]:
            best = rank
    if best is None:
        if not any(word in folded for word in _BARE_UNITS):
            return None
        for m in _BARE_SIZE.finditer(folded):
            if folded.endswith("per ", 0, m.start()):  # "150 calories per pint"
                continue
            unit, qty = _BARE_UNITS[m.group("unit")]
            frac = m.group("frac")
            qty *= 0.5 if frac == "half" else 0.25 if frac == "quarter" else 1.0
            return qty, unit
        return None
    return best[2], best[3]


def to_base_units(qty: float, unit: str) -> tuple[float, str] | None:
    """A quantity in its dimension's base unit: grams, millilitres or count.

    Returns None for a unit outside :data:`CANONICAL_UNITS` or a quantity that is negative or
    not finite. Sizes in different base units are not comparable.

    >>> to_base_units(16, "oz")
    (453.592, 'g')
    >>> to_base_units(1, "gal")
    (3785.41, 'ml')
    >>> to_base_units(12, "ct"), to_base_units(3, "furlong")
    ((12.0, 'ct'), None)
    """
    conversion = _BASE.get(unit)
    if conversion is None or not math.isfinite(qty) or qty < 0:
        return None
    base, factor = conversion
    return qty * factor, base


def base_size(size: float | None, unit: str | None) -> tuple[float, str] | None:
    """A product's size in base units, or None unless both are known and the size is > 0.

    >>> base_size(2, "lb"), base_size(0, "lb"), base_size(None, "lb"), base_size(2, None)
    ((907.184, 'g'), None, None, None)
    """
    if size is None or unit is None or not size > 0:
        return None
    return to_base_units(size, unit)


def remove_sizes(folded: str) -> str:
    """A folded name with every size mention blanked out ("milk 64 oz" -> "milk  ")."""
    if _DIGIT.search(folded):
        for m, _, _ in reversed(list(_size_matches(folded))):
            folded = folded[: m.start()] + " " + folded[m.end() :]
    return folded
