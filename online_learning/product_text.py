"""What a product name says about the product: tokens, package size, dietary tags and brand.

The Instacart catalog (and many producers on ``catalog.items``) carries names only, so the
substitution rules and features read size, brand and tags out of text such as
``"Organic 2% Reduced Fat Milk"`` or ``"Kenwood Cabernet Sauvignon Sonoma Valley 750 Ml"``.
Everything here is a pure function of strings (stdlib only) and cheap enough to run once per
catalog item at start-up: sizes, tags and brands of the 50k Instacart names take about a
second together.

Choices worth knowing before relying on the output:

- :func:`parse_size` returns *one* size per name: the largest mass or volume written with a
  number, else the largest count, else a bare unit word ("Half Gallon" -> 0.5 gal). Pack maths
  is not done ("12 x 12 oz" -> 12 oz). Ranges ("16-28 lb") and limits ("up to 10 lbs") are not
  sizes. Capacities read like contents ("30 Gallon Trash Bags" -> 30 gal).
- :func:`derive_tags` favours precision for the tags the hard rules keep (``gluten_free``,
  ``vegan``, ``kosher``, ``dairy_free``, ``alcohol``): a tag is set only on an explicit claim,
  with a few documented inferences (``vegan`` implies ``dairy_free``; the ``kosher foods`` aisle
  implies ``kosher``; the alcohol department implies ``alcohol``). "Kosher Dill" and "Kosher
  Salt" are styles, not certifications, and "Lactose Free" is not dairy free.
- ``alcohol`` means an alcoholic *drink*: flavours and cooking ingredients ("Vodka Sauce", "Red
  Wine Vinegar", "Cooking Wine", "Beer Battered Fish") are not, nor are "Root Beer",
  "Ginger Ale" or anything marked non-alcoholic.
- :func:`guess_brand` is a heuristic on the leading words; most Instacart names carry no brand.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable

__all__ = [
    "CANONICAL_UNITS",
    "GENERIC_FIRST_WORDS",
    "brand_vocabulary",
    "derive_tags",
    "flavor_tokens",
    "guess_brand",
    "parse_size",
    "to_base_units",
    "tokenize",
]

# --------------------------------------------------------------------------------------------
# Normalisation and tokens
# --------------------------------------------------------------------------------------------

# Vulgar fractions would decompose to "1⁄2" glued to a preceding digit ("1½" -> "11⁄2").
_VULGAR = str.maketrans({"½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3"})
_APOSTROPHES = re.compile(r"['’‘`´]")
_TOKEN = re.compile(r"\d+(?:[./]\d+)+%?|[^\W_]+%?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def _fold(text: str) -> str:
    """Lower-case, accents and compatibility forms removed ("Crème" -> "creme", "ﬁ" -> "fi")."""
    if "&" in text and ";" in text:  # HTML entities in scraped names: "L&#39;Oreal"
        text = html.unescape(text)
    if text.isascii():
        return text.lower()
    text = text.translate(_VULGAR)
    # casefold can create new decomposable characters, so decompose on both sides of it.
    text = unicodedata.normalize("NFKD", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def tokenize(name: str) -> list[str]:
    """Lower-case word tokens of a product name.

    Punctuation goes, ``&`` becomes ``and``, apostrophes are dropped inside words
    ("Jerry's" -> ``jerrys``), accents are folded, and numbers keep their decimal point,
    fraction slash and percent sign, because "2%" and "1/2" carry meaning in grocery names.

    >>> tokenize("Ben & Jerry's Half-Baked Ice Cream 16 oz")
    ['ben', 'and', 'jerrys', 'half', 'baked', 'ice', 'cream', '16', 'oz']
    >>> tokenize("Organic 2% Reduced Fat Milk, 1/2 Gallon")
    ['organic', '2%', 'reduced', 'fat', 'milk', '1/2', 'gallon']
    >>> tokenize("Crème Fraîche 1,000 g")
    ['creme', 'fraiche', '1000', 'g']
    """
    text = _APOSTROPHES.sub("", _fold(name)).replace("&", " and ")
    return _TOKEN.findall(_THOUSANDS.sub("", text))


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------

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
_NUMBER = r"\d+\s+\d+/\d+|\d+/\d+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+"
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
    """The value of a _NUMBER match: "12", "1.5", "1,000", "1/2" or "1 1/2" (x/0 is inf)."""
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
    folded = _fold(name)
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


# --------------------------------------------------------------------------------------------
# Tags
# --------------------------------------------------------------------------------------------


def _alternatives(alternatives: str) -> str:
    """Regex body for "|"-separated alternatives; a space in one may also be absent."""
    return "|".join(" ".join(a.split()).replace(" ", " ?") for a in alternatives.split("|"))


def _words(alternatives: str) -> re.Pattern[str]:
    """A pattern for "|"-separated alternatives matched as whole words of tag text.

    >>> bool(_words("gluten free | no gluten").search("organic glutenfree oats"))
    True
    """
    return re.compile(rf"(?<![a-z0-9])(?:{_alternatives(alternatives)})(?![a-z0-9])")


_TAG_SEPARATORS = re.compile(r"[^a-z0-9%.]+")


def _tag_text(text: str) -> str:
    """Folded text with apostrophes dropped and every other separator a single space."""
    text = _APOSTROPHES.sub("", _fold(text))
    return " ".join(_TAG_SEPARATORS.sub(" ", text).split())


# Claims that set a tag wherever they appear; the tag text has hyphens turned into spaces.
_CLAIMS: dict[str, str] = {
    "organic": "organic | organics",
    "gluten_free": "gluten free | no gluten | without gluten",
    "vegan": "vegan",
    "dairy_free": "dairy free | non dairy | no dairy | milk free",
    "lactose_free": "lactose free | lactaid | no lactose",
    "sugar_free": r"sugar free | sugarless | zero sugar | no sugar(?! added) | 0 g sugars?",
    "no_sugar_added": "no sugar added | no added sugars? | without added sugars?",
    "unsweetened": "unsweetened | unsweet",
    "caffeine_free": """decaf | decaffeinated | caffeine free | no caffeine | zero caffeine
        | non caffeinated""",
    "low_sodium": """low sodium | reduced sodium | less sodium | lower sodium | sodium free
        | no salt added | no salt | no added salt | salt free | low salt | unsalted""",
    # Part-skim cheese has less fat, not none; matching it first keeps "skim" below from firing.
    "low_fat": "part skim | low fat | lowafat",
    "reduced_fat": "reduced fat | less fat",
    "fat_free": "non fat | fat free | zero fat | skim | skimmed",
    "whole": r"whole milk | milk whole | whole fat | vitamin d(?= (?:organic )?milk)",
    "non_alcoholic": r"""non alcoholic | alcohol free | de alcoholized | de alcoholised
        | zero alcohol | no alcohol | 0\.0 ?%""",
}
# Clues that derive_tags weighs before setting a tag.
_CLUES: dict[str, str] = {
    # On pickles and salt "kosher" names a style (garlic-dill brine, coarse flakes), not a
    # certification, hence _KOSHER_STYLE.
    "kosher": "kosher | glatt | pareve | parve",
    "plant_milk": """(?:almond|oat|soy|soya|coconut|cashew|rice|hemp|pea|flax|macadamia|hazelnut
        |pistachio|quinoa) (?:milks?|beverage|creamer|yogurt|yoghurt|drink)(?! chocolate)
        | plant based""",
}
# One pass finds every claim and clue: they never share words, so non-overlapping matches do.
_CLAIM_SCAN = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(f"(?P<tag_{tag}>{_alternatives(alts)})" for tag, alts in _CLAIMS.items())
    + "|"
    + "|".join(f"(?P<clue_{clue}>{_alternatives(alts)})" for clue, alts in _CLUES.items())
    + r")(?![a-z0-9])"
)
# Milk-fat percentages only mean a fat level on dairy ("1% Hydrocortisone Cream" is not).
_DAIRY = _words(
    """milk | milkfat | yogurt | yoghurt | cheese | kefir | cottage | skyr | buttermilk | ricotta
    | mozzarella | cheddar | singles | lowfat | low fat | greek | dairy"""
)
_PERCENT_FAT: dict[str, re.Pattern[str]] = {
    "fat_free": re.compile(r"(?<![\d.])0 ?%(?! ?(?:sugar|alcohol))"),
    "low_fat": re.compile(r"(?<![\d.])1 ?%"),
    "reduced_fat": re.compile(r"(?<![\d.])2 ?%"),
}
# The Instacart "kosher foods" aisle holds certified goods.
_KOSHER_STYLE = _words("dills? | pickles? | relish | salt | kosher style")
_KOSHER_AISLES = frozenset({"kosher foods"})

_NOT_FOOD = _words(
    "soap | wash | shampoo | conditioner | lotion | creme | balm | mist | scrub | cleanser"
)
_NOT_FOOD_DEPARTMENTS = frozenset({"personal care", "household", "pets"})

_ALCOHOL_DEPARTMENTS = frozenset({"alcohol"})
_ALCOHOL_AISLES = frozenset(
    {"beers coolers", "red wines", "white wines", "spirits", "specialty wines champagnes"}
)
# Drinks that are only ever alcoholic, whatever else the name says ("Hard Seltzer Black Cherry").
_ALCOHOLIC_ANYWAY = _words(
    "(?:hard|spiked) (?:cider|seltzer|lemonade|kombucha|iced tea|tea|root beer|soda|cola)"
)
# Words naming an alcoholic drink. Several are also flavours, hence _ALCOHOL_NOT_A_DRINK.
_ALCOHOL_WORDS = _words(
    """beers? | wines? | vodka | whiske?y | whiskies | bourbon | scotch whiske?y | rum | gin
    | tequila | mezcal | brandy | cognac | liqueurs? | schnapps | vermouth | absinthe | soju
    | sake | sherry | lagers? | ales? | ipa | stout | porter | pilsner | pils | hefeweizen
    | cabernet | chardonnay | merlot | pinot | sauvignon | zinfandel | riesling | moscato
    | malbec | syrah | shiraz | sangiovese | tempranillo | chianti | prosecco | champagne
    | cava | sangria | margarita"""
)
# Phrases whose alcohol word does not make the product alcoholic; blanked before the search.
_ALCOHOL_LOOKALIKES = _words(
    """root beer | ginger beer | birch beer | ginger ales? | gin gins | cooking wine
    | cooking sake | bourbon vanilla | madagascar bourbon | rum raisin | butter rum"""
)
# A name with one of these is a food, a mixer, a soft drink or a thing flavoured with alcohol.
_ALCOHOL_NOT_A_DRINK = _words(
    """vinegar | vineger | vinaigrette | dressing | sauces? | marinade | marinara | mustard
    | glaze | bbq | batter | battered | brats? | bratwurst | sausages? | salami | salame
    | sopressata | chicken | beef | steak | shrimp | fish | fillets? | cod | herring | salmon
    | wings | wyngz | pork | ham | pate | cheese(?:s|balls?)? | chips | fries | onion rings
    | pretzels? | cand(?:y|ies) | chews | chocolate | caramel | ice cream | sorbet | sorbetto
    | gelato | cakes? | cookies? | cupcakes? | icing | extract | seasoning | spices? | mulling
    | salsa | pickles? | olives | onions | beans | jelly | jam | mousse | pasta | tortelloni
    | pies? | couscous | bread | coffee | tea | vanilla | protein | grapes | tomatoes
    | seltzer | soda | kombucha | mix | mixer | syrup | salt | mirin | cooking | truffles?
    | candles? | glass(?:es)? | flutes? | balls | lip | shimmer | polish | sponges? | tape
    | shampoo | conditioner | soap | texturizer"""
)


def _alcohol(text: str, aisle: str, department: str) -> bool:
    if department in _ALCOHOL_DEPARTMENTS or aisle in _ALCOHOL_AISLES:
        return True
    if _ALCOHOLIC_ANYWAY.search(text):
        return True
    if not _ALCOHOL_WORDS.search(text) or _ALCOHOL_NOT_A_DRINK.search(text):
        return False
    return _ALCOHOL_WORDS.search(_ALCOHOL_LOOKALIKES.sub(" ", text)) is not None


def derive_tags(name: str, aisle: str = "", department: str = "") -> frozenset[str]:
    """Dietary, quality and alcohol tags stated by a product name (and its aisle/department).

    Tags: ``organic``, ``gluten_free``, ``vegan``, ``kosher``, ``dairy_free``,
    ``lactose_free``, ``sugar_free``, ``no_sugar_added``, ``unsweetened``, ``caffeine_free``,
    ``low_sodium``, milk-fat levels as US labels use them (``whole``; ``reduced_fat`` = 2% or
    "reduced fat"; ``low_fat`` = 1%, "lowfat" or part-skim; ``fat_free`` = skim, nonfat, 0%),
    ``plant_based`` (plant milks, yogurts and creamers), ``alcohol`` and ``non_alcoholic``.
    ``vegan`` implies ``dairy_free``; ``alcohol`` and ``non_alcoholic`` never come together.
    Matching ignores case, accents and hyphenation.

    >>> sorted(derive_tags("Organic Gluten-Free Vegan Cheddar Style Shreds"))
    ['dairy_free', 'gluten_free', 'organic', 'vegan']
    >>> sorted(derive_tags("Lactose Free 2% Reduced Fat Milk"))
    ['lactose_free', 'reduced_fat']
    >>> sorted(derive_tags("1% Lowfat Chocolate Milk")), sorted(derive_tags("Organic Whole Milk"))
    (['low_fat'], ['organic', 'whole'])
    >>> sorted(derive_tags("Cabernet Sauvignon")), sorted(derive_tags("Lager", "beers coolers"))
    (['alcohol'], ['alcohol'])
    >>> derive_tags("Vodka Pasta Sauce"), derive_tags("Root Beer"), derive_tags("Kosher Dills")
    (frozenset(), frozenset(), frozenset())
    >>> sorted(derive_tags("Non Alcoholic Beer", "beers coolers", "alcohol"))
    ['non_alcoholic']
    """
    text = _tag_text(name)
    aisle = " ".join(_fold(aisle).split())
    department = " ".join(_fold(department).split())
    found = {m.lastgroup or "" for m in _CLAIM_SCAN.finditer(text)}
    tags = {group.removeprefix("tag_") for group in found if group.startswith("tag_")}
    if "%" in text and _DAIRY.search(text):
        tags.update(tag for tag, pattern in _PERCENT_FAT.items() if pattern.search(text))
    if aisle in _KOSHER_AISLES or ("clue_kosher" in found and not _KOSHER_STYLE.search(text)):
        tags.add("kosher")
    if (
        department not in _NOT_FOOD_DEPARTMENTS
        and "clue_plant_milk" in found
        and not _NOT_FOOD.search(text)
    ):
        tags.add("plant_based")
    if "vegan" in tags:
        tags.add("dairy_free")
    if "non_alcoholic" not in tags and _alcohol(text, aisle, department):
        tags.add("alcohol")
    return frozenset(tags)


# --------------------------------------------------------------------------------------------
# Brands
# --------------------------------------------------------------------------------------------

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
    return _APOSTROPHES.sub("", _fold(word.rstrip("®™"))).strip(".-")


def _brand_keys(name: str) -> list[str]:
    """_brand_key of every word of a name, folding the name once."""
    text = _APOSTROPHES.sub("", _fold(name.replace("®", " ").replace("™", " ")))
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
    return len(word) > 2 and _APOSTROPHES.sub("'", word).lower().endswith("'s")


def _join_brand(words: list[str]) -> str | None:
    parts = []
    for word in words:
        word = _APOSTROPHES.sub("'", _fold(word.rstrip("®™"))).strip("'.-")
        parts.append("&" if word in {"and", "+"} else word)
    brand = " ".join(p for p in parts if p)
    return brand or None


def flavor_tokens(name: str, brand: str | None, size_span_removed: bool = True) -> list[str]:
    """Tokens of what the product *is*: the name without its leading brand and its size.

    >>> flavor_tokens("Ben & Jerry's Half Baked Ice Cream 16 oz", "ben & jerry's")
    ['half', 'baked', 'ice', 'cream']
    >>> flavor_tokens("Ultra Downy® April Fresh Fabric Softener 51 fl oz", "downy")
    ['ultra', 'april', 'fresh', 'fabric', 'softener']
    >>> flavor_tokens("Lager Beer 12 ct", None, size_span_removed=False)
    ['lager', 'beer', '12', 'ct']
    """
    folded = _fold(name)
    if size_span_removed and _DIGIT.search(folded):
        for m, _, _ in reversed(list(_size_matches(folded))):
            folded = folded[: m.start()] + " " + folded[m.end() :]
    tokens = tokenize(folded)
    if brand:
        # The brand leads the name, or follows a descriptor or two ("Ultra Downy® ...").
        drop = tokenize(brand)
        for start in range(min(4, len(tokens))):
            if drop and tokens[start : start + len(drop)] == drop:
                return tokens[:start] + tokens[start + len(drop) :]
    return tokens
