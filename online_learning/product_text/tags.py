"""Dietary, quality and alcohol tags a product name states, and the tag vocabularies.

:func:`derive_tags` favours precision for the tags the hard rules keep (:data:`DIETARY_TAGS`
and ``alcohol``): a tag is set only on an explicit claim, with a few documented inferences
(``vegan`` implies ``dairy_free``; the ``kosher foods`` aisle implies ``kosher``; the alcohol
department implies ``alcohol``). "Kosher Dill" and "Kosher Salt" are styles, not
certifications, and "Lactose Free" is not dairy free. ``alcohol`` means an alcoholic *drink*:
flavours and cooking ingredients ("Vodka Sauce", "Red Wine Vinegar", "Cooking Wine", "Beer
Battered Fish") are not, nor are "Root Beer", "Ginger Ale" or anything marked non-alcoholic.
"""

from __future__ import annotations

import re

from online_learning.product_text.tokens import APOSTROPHES, fold

__all__ = ["DIETARY_TAGS", "FAT_LEVELS", "derive_tags"]

# The dietary promises a substitute must keep: the hard rules' default preserve_tags (and
# online_learning/data/default_rules.toml, which a test holds to this), and what the simulated
# customers never accept losing.
DIETARY_TAGS: frozenset[str] = frozenset({"gluten_free", "vegan", "kosher", "dairy_free"})
# Milk-fat levels as steps apart: skim for whole is three steps, 2% for whole one.
FAT_LEVELS: dict[str, int] = {"whole": 0, "reduced_fat": 1, "low_fat": 2, "fat_free": 3}


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
    text = APOSTROPHES.sub("", fold(text))
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
    aisle = " ".join(fold(aisle).split())
    department = " ".join(fold(department).split())
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
