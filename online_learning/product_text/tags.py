"""Dietary, quality, alcohol and infant-formula tags a product name states; tag vocabularies.

:func:`derive_tags` favours precision for the tags the hard rules use (:data:`DIETARY_TAGS`,
``alcohol`` and ``infant_formula``): a tag is set only on an explicit claim, with a few
documented inferences (what one tag promises of another, :func:`implied_tags`; an aisle or
department whose name says kosher or halal implies ``kosher`` or ``halal``; one whose name
names alcoholic drinks implies ``alcohol``). "Kosher Dill" and "Kosher Salt" are styles, not
certifications, and "Lactose Free" is not dairy free. An allergen word alone names an
ingredient, never its absence: "Peanut Butter", "Egg Noodles", "Soy Sauce" and "Sugar
Cookies" are not free of anything, and "Almond Milk" is not nut free. ``alcohol`` means an
alcoholic *drink*: flavours and cooking ingredients ("Vodka Sauce", "Red Wine Vinegar",
"Cooking Wine", "Beer Battered Fish") are not, nor are "Root Beer", "Ginger Ale" or anything
marked non-alcoholic.

Names are read in English. The claims the rules depend on most (gluten, lactose, dairy, egg,
soy, peanut, nut and sugar free, vegan, halal, alcohol free, infant formula) are also read in
French, German, Spanish, Italian and Dutch, and so are the alcohol words in department and
aisle names; alcoholic drinks are recognised by name in English only, and so are claims
listed before one "free" ("Gluten, Dairy & Soy Free"). A producer whose names say less sends
``tags``, or maps its own departments and aisles to tags in the rules file
(``[taxonomy_tags]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from online_learning.product_text.tokens import APOSTROPHES, fold

__all__ = [
    "CONTRADICTING_TAGS",
    "DIETARY_TAGS",
    "FAT_LEVELS",
    "derive_tags",
    "implied_tags",
    "normalize_tag",
]

# The dietary promises a substitute must keep: the hard rules' default preserve_tags (and
# online_learning/data/default_rules.toml, which a test holds to this), and what the simulated
# customers never accept losing.
DIETARY_TAGS: frozenset[str] = frozenset(
    {
        "gluten_free",
        "vegan",
        "kosher",
        "halal",
        "dairy_free",
        "lactose_free",
        "sugar_free",
        "nut_free",
        "tree_nut_free",
        "peanut_free",
        "egg_free",
        "soy_free",
    }
)
# Milk-fat levels as steps apart: skim for whole is three steps, 2% for whole one.
FAT_LEVELS: dict[str, int] = {"whole": 0, "reduced_fat": 1, "low_fat": 2, "fat_free": 3}
# Tags that cannot both hold; the more explicit source keeps its own (see derive_tags and
# online_learning.catalog.enrich).
CONTRADICTING_TAGS: dict[str, str] = {"alcohol": "non_alcoholic", "non_alcoholic": "alcohol"}
# A tag that promises others, whoever said it. Each promise holds for every product the tag is
# on, so a substitute carrying the first tag keeps a customer's need for the others:
# - vegan: no animal product, so no milk and no egg (and, through dairy_free, no lactose);
# - dairy_free: no milk, so no milk sugar. Non-dairy creamers with a caseinate are still free
#   of lactose in practice; the reverse does not hold ("Lactose Free Milk" is milk);
# - nut_free: in US and UK grocery a nut-free claim covers tree nuts and peanuts, the two
#   allergens shoppers mean by "nuts". "Tree Nut Free" alone promises nothing about peanuts
#   ("Peanut Butter, Tree Nut Free" exists), hence a tag of its own.
# Nothing implies kosher or halal: both are certifications, not ingredient lists.
_IMPLIES: dict[str, frozenset[str]] = {
    "vegan": frozenset({"dairy_free", "egg_free"}),
    "dairy_free": frozenset({"lactose_free"}),
    "nut_free": frozenset({"tree_nut_free", "peanut_free"}),
}
# Tags that together promise another: free of tree nuts and of peanuts is nut free.
_IMPLIED_BY_ALL: dict[frozenset[str], str] = {
    frozenset({"tree_nut_free", "peanut_free"}): "nut_free",
}
_NOT_TAG_CHARACTERS = re.compile(r"[^a-z0-9%]+")


def normalize_tag(tag: str) -> str:
    """A tag as the rules and features compare it: folded, words joined by ``_``.

    Producers write tags as they like ("Gluten-Free", "gluten free"); the rules file and
    :func:`derive_tags` use the ``gluten_free`` spelling. Empty if nothing is left.

    >>> normalize_tag("Gluten-Free"), normalize_tag(" Non Alcoholic "), normalize_tag("Bio")
    ('gluten_free', 'non_alcoholic', 'bio')
    """
    return _NOT_TAG_CHARACTERS.sub("_", APOSTROPHES.sub("", fold(tag))).strip("_")


def implied_tags(tags: frozenset[str]) -> frozenset[str]:
    """``tags`` with everything they promise added, through chains of promises too
    (``vegan`` -> ``dairy_free`` -> ``lactose_free``).

    >>> sorted(implied_tags(frozenset({"vegan"})))
    ['dairy_free', 'egg_free', 'lactose_free', 'vegan']
    >>> sorted(implied_tags(frozenset({"peanut_free", "tree_nut_free"})))
    ['nut_free', 'peanut_free', 'tree_nut_free']
    """
    out = set(tags)
    while True:
        size = len(out)
        for tag in [tag for tag in out if tag in _IMPLIES]:
            out |= _IMPLIES[tag]
        out.update(tag for needs, tag in _IMPLIED_BY_ALL.items() if needs <= out)
        if len(out) == size:
            return tags if size == len(tags) else frozenset(out)


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
    "gluten_free": """gluten free | no gluten | without gluten | sans gluten
        | glutenfrei(?:e[mnrs]?)? | sin gluten | senza glutine | glutenvrije?""",
    "vegan": "vegan(?:e|es|er|o|a|os|as)? | vegetalien(?:ne)?s?",
    "dairy_free": """dairy free | non dairy | no dairy | milk free | sans produits laitiers
        | sans lait | milchfrei(?:e[mnrs]?)? | sin lacteos | senza latte | zuivelvrije?""",
    "lactose_free": """lactose free | lactaid | no lactose | sans lactose | laktosefrei(?:e[mnrs]?)?
        | sin lactosa | senza lattosio | lactosevrije?""",
    # Peanut and tree-nut claims read together as nut free; "peanut free" alone says nothing
    # about tree nuts. Foreign "nut" claims follow EU labelling, where nuts are tree nuts.
    "nut_free": """nut free | peanut (?:and )?(?:tree )?nuts? free
        | (?:tree )?nuts? (?:and )?peanuts? free""",
    # "No Nuts" and "Without Nuts" name a recipe without walnuts or pecans ("Brownies Without
    # Nuts"), not an allergen claim that covers peanuts; "Free From Nuts" is one (_LISTED).
    "tree_nut_free": """tree nuts? free | no (?:tree )?nuts | without (?:tree )?nuts
        | sans fruits a coques? | nussfrei(?:e[mnrs]?)? | ohne nusse | sin frutos secos
        | sin frutos de cascara | senza frutta a guscio | notenvrije?""",
    "peanut_free": """peanut free | no peanuts | without peanuts | sans arachides?
        | sans cacahuetes? | erdnuss frei(?:e[mnrs]?)? | ohne erdnusse | sin cacahuetes?
        | sin mani | senza arachidi | pinda vrije?""",
    # "Egg Free Range" is a hen's life, not a claim. fold() drops the ligature of "œufs".
    "egg_free": """egg free(?! (?:range|run|roam(?:ing)?)) | eggless | no eggs | without eggs?
        | sans (?:oe)?ufs? | ei frei(?:e[mnrs]?)? | ohne ei(?:er)? | sin huevos? | senza uova
        | ei vrije? | zonder eieren""",
    "soy_free": """soy free | soya free | no soy(?! (?:sauce|milk|beans?)) | without soy
        | sans soja | soja frei(?:e[mnrs]?)? | ohne soja | sin soja | senza soia
        | soja vrije? | zonder soja""",
    # Certified by name ("Zabiha" is the slaughter halal rules prescribe); not "non halal".
    "halal": "halal | zabihah?",
    "sugar_free": r"""sugar free | sugarless | zero sugar | no sugar(?! added) | 0 g sugars?
        | sans sucres?(?! ajoutes?) | zucker frei(?:e[mnrs]?)? | ohne zucker(?! ?zusatz)
        | sin azucar(?:es)?(?! anadid[oa]s?) | senza zuccher[oi](?! aggiunt[oi])
        | suiker vrije?""",
    "no_sugar_added": """no sugar added | no added sugars? | without added sugars?
        | sans sucres? ajoutes? | ohne zucker ?zusatz | sin azucar(?:es)? anadid[oa]s?
        | senza zuccher[oi] aggiunt[oi] | zonder toegevoegde? suikers?""",
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
        | zero alcohol | no alcohol | 0\.0 ?% | 0 0 ?% | sans alcool | alkoholfrei(?:e[mnrs]?)?
        | sin alcohol | senza alcol | analcolic[ao] | alcoholvrij""",
}
# Clues that derive_tags weighs before setting a tag.
_CLUES: dict[str, str] = {
    # On pickles and salt "kosher" names a style (garlic-dill brine, coarse flakes), not a
    # certification, hence _KOSHER_STYLE.
    "kosher": "kosher | glatt | pareve | parve",
    # Matched only so that its "halal" is not read as the claim.
    "not_halal": "non halal | not halal",
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
_CLAIMS_NON_ALCOHOLIC = _words(_CLAIMS["non_alcoholic"])
_NOT_HALAL = _words(_CLUES["not_halal"])

# Claims that share one "free" (English): "Gluten & Dairy Free", "Dairy, Nut & Soy Free",
# "Free From Gluten, Eggs and Nuts". What each listed word makes free; words without a tag
# ("wheat") only keep the list together.
_LISTED: dict[str, str | None] = {
    "gluten": "gluten_free",
    "dairy": "dairy_free",
    "lactose": "lactose_free",
    "sugar": "sugar_free",
    "nut": "nut_free",
    "nuts": "nut_free",
    "tree nut": "tree_nut_free",
    "tree nuts": "tree_nut_free",
    "peanut": "peanut_free",
    "peanuts": "peanut_free",
    "egg": "egg_free",
    "eggs": "egg_free",
    "soy": "soy_free",
    "soya": "soy_free",
    "fat": "fat_free",
    "caffeine": "caffeine_free",
    "salt": "low_sodium",
    "sodium": "low_sodium",
    "wheat": None,
    "grain": None,
    "yeast": None,
    "corn": None,
    "gmo": None,
    "cholesterol": None,
}
# "Milk" is left out: "Whole Milk, Lactose Free" is milk. A list needs "and", "&" or "or"
# before its last word. Most listed words also name what a product is or has ("Protein Bar,
# Peanut, Gluten & Dairy Free" is a peanut bar; "Low Fat, Sugar & Gluten Free" is not fat
# free), so a list starts at one of them only if a conjunction follows it; the words that
# never describe a product start a list before a comma or a space ("Dairy, Nut & Soy Free").
_LIST_ITEM = (
    r"(?:tree nuts?|peanuts?|nuts?|eggs?|soya?|"
    + "|".join(
        word for word in _LISTED if not word.startswith(("tree", "peanut", "nut", "egg", "soy"))
    )
    + ")"
)
_LIST_HEAD = r"(?:gluten|dairy|lactose|wheat|grain|yeast|gmo|cholesterol|caffeine)"
_LIST_CLAIM = re.compile(
    rf"(?<![a-z0-9])(?P<items>(?:{_LIST_ITEM}(?= (?:, )?(?:and|or) )|{_LIST_HEAD})"
    rf"(?:(?: ,)? {_LIST_ITEM})*(?: ,)? (?:and|or) {_LIST_ITEM}) free(?![a-z0-9])"
)
# After "free from" the words name what is left out, in the plural for countable ones, so
# that a "Free From" range's "Peanut Butter Cookies" is not read; nor is a word that heads
# the product's own name ("Free From Soy Sauce", "Free From Sugar Cookies").
_FREE_FROM_ITEM = r"(?:tree nuts|peanuts|nuts|eggs|soya?|gluten|dairy|lactose|sugar|wheat)"
_FREE_FROM = re.compile(
    rf"(?<![a-z0-9])free (?:from|of) (?P<items>{_FREE_FROM_ITEM}"
    rf"(?:(?: ,)? (?:(?:and|or) )?{_FREE_FROM_ITEM})*)"
    r"(?! (?:sauce|milk|butter|chocolate|cheese|cookies?|noodles|beans?|bars?|cups?|oil"
    r"|flour|spread|bread|cakes?|candy|syrup))(?![a-z0-9])"
)
_LIST_ITEMS = re.compile(rf"(?<![a-z0-9]){_LIST_ITEM}(?![a-z0-9])")
_LIST_SEPARATORS = re.compile(r"[^a-z0-9%.,&/+]+")
_LIST_MARKS = {"&": " and ", "+": " and ", ",": " , ", "/": " , "}


def _listed_claims(name: str) -> set[str]:
    """Tags of the claims listed before one "free" or after "free from"."""
    text = _LIST_SEPARATORS.sub(" ", APOSTROPHES.sub("", fold(name)))
    for mark, spelled in _LIST_MARKS.items():
        text = text.replace(mark, spelled)
    text = " ".join(text.split())
    tags: set[str] = set()
    for pattern in (_LIST_CLAIM, _FREE_FROM):
        for match in pattern.finditer(text):
            for word in _LIST_ITEMS.findall(match["items"]):
                tag = _LISTED[word]
                if tag is not None:
                    tags.add(tag)
    return tags


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
_KOSHER_STYLE = _words("dills? | pickles? | relish | salt | kosher style")

_NOT_FOOD = _words(
    "soap | wash | shampoo | conditioner | lotion | creme | balm | mist | scrub | cleanser"
)

# Formula for babies and toddlers: the default rules never substitute it. Toddler snacks and
# cereals are not formula, nor are the things formula is kept or mixed in.
_INFANT_FORMULA = _words(
    r"""(?:infants?|baby|babies|toddlers?|newborn|follow on|follow up) (?:[a-z0-9.]+ ){0,5}?
        (?:formula|milk drink) | toddler drink | growing up milk | laits? infantiles?
        | laits? (?:1er|1|2e|2eme|3e|3eme|premier|deuxieme|troisieme) age
        | laits? de (?:suite|croissance)
        | preparations? (?:pour nourrissons|infantiles?) | sauglingsmilch | sauglingsnahrung
        | anfangsmilch | folgemilch | kleinkindmilch | leches? infantil(?:es)?
        | leche de (?:inicio|continuacion|crecimiento) | formulas? infantil(?:es)?
        | latte (?:in polvere )?per lattanti | latte di (?:crescita|proseguimento)
        | zuigelingenvoeding | opvolgmelk | groeimelk"""
)
_FORMULA_ACCESSORY = _words("dispensers? | pitchers? | mixers? | containers? | storage")
# Substrings every _INFANT_FORMULA match contains: most names are spared the search.
_FORMULA_HINTS = (
    "formul",
    "milk",
    "drink",
    "lait",
    "prepar",
    "sauglings",
    "milch",
    "lech",
    "latte",
    "voeding",
    "melk",
)

# Department and aisle names read like names: these words in either say what every item
# filed there is, in the languages of the claims above.
_KOSHER_PLACE = _words("kosher | casher | cacher | koscher")
_HALAL_PLACE = _words("halal")
_NOT_FOOD_PLACE = _words(
    """personal care | household | pets? | pet care | pet supplies | beauty | hygiene
    | cleaning | laundry | toiletries | entretien | beaute | animaux | droguerie | drogerie
    | haushalt | tierbedarf | cuidado personal | limpieza | mascotas"""
)
_ALCOHOL_PLACE = _words(
    """alcohol | alcoholic (?:drinks|beverages) | beers? | wines? | spirits | liquors?
    | champagnes? | alcools? | bieres? | vins? | spiritueux | alkohol | bier(?:e|en)? | weine?
    | spirituosen | cervezas? | vinos? | licores? | birr[ae] | vini | liquori | alcolici"""
)


@dataclass(frozen=True, slots=True)
class _Place:
    """What a department and aisle name say about every item filed there."""

    alcohol: bool
    kosher: bool
    halal: bool
    not_food: bool


@lru_cache(maxsize=4096)
def _place(aisle: str, department: str) -> _Place:
    """Read once per (aisle, department): a catalog has few, and every item names one."""
    texts = [_tag_text(aisle), _tag_text(department)]
    return _Place(
        alcohol=any(
            _ALCOHOL_PLACE.search(t) and not _CLAIMS_NON_ALCOHOLIC.search(t) for t in texts
        ),
        kosher=any(_KOSHER_PLACE.search(t) and not _KOSHER_STYLE.search(t) for t in texts),
        halal=any(_HALAL_PLACE.search(t) and not _NOT_HALAL.search(t) for t in texts),
        not_food=any(_NOT_FOOD_PLACE.search(t) for t in texts),
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


def _alcohol(text: str) -> bool:
    """Does the name name an alcoholic drink (in English)?"""
    if _ALCOHOLIC_ANYWAY.search(text):
        return True
    if not _ALCOHOL_WORDS.search(text) or _ALCOHOL_NOT_A_DRINK.search(text):
        return False
    return _ALCOHOL_WORDS.search(_ALCOHOL_LOOKALIKES.sub(" ", text)) is not None


def derive_tags(name: str, aisle: str = "", department: str = "") -> frozenset[str]:
    """Dietary, quality, alcohol and infant-formula tags stated by a product name (and by the
    names of its aisle and department).

    Tags: ``organic``, ``gluten_free``, ``vegan``, ``kosher``, ``halal``, ``dairy_free``,
    ``lactose_free``, ``nut_free`` (tree nuts and peanuts), ``tree_nut_free``, ``peanut_free``,
    ``egg_free``, ``soy_free``, ``sugar_free``, ``no_sugar_added``, ``unsweetened``,
    ``caffeine_free``, ``low_sodium``, milk-fat levels as US labels use them (``whole``;
    ``reduced_fat`` = 2% or "reduced fat"; ``low_fat`` = 1%, "lowfat" or part-skim;
    ``fat_free`` = skim, nonfat, 0%),
    ``plant_based`` (plant milks, yogurts and creamers), ``infant_formula``, ``alcohol`` and
    ``non_alcoholic``. Tags come with what they promise (:func:`implied_tags`); ``alcohol``
    and ``non_alcoholic`` never come together. Matching ignores case, accents and hyphenation.

    >>> sorted(derive_tags("Organic Gluten-Free Vegan Cheddar Style Shreds"))
    ['dairy_free', 'egg_free', 'gluten_free', 'lactose_free', 'organic', 'vegan']
    >>> sorted(derive_tags("Semi Sweet Chocolate Chunks Dairy, Nut & Soy Free"))
    ['dairy_free', 'lactose_free', 'nut_free', 'peanut_free', 'soy_free', 'tree_nut_free']
    >>> derive_tags("Peanut Butter Cups"), derive_tags("Egg Noodles"), derive_tags("Soy Sauce")
    (frozenset(), frozenset(), frozenset())
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
    >>> sorted(derive_tags("Kronenbourg 1664 Blonde 6x25cl", "Bières", "Boissons"))
    ['alcohol']
    >>> sorted(derive_tags("Bière blonde sans alcool 0,0% 6x25cl", "Bières", "Boissons"))
    ['non_alcoholic']
    >>> sorted(derive_tags("Gentle Infant Formula Powder")), derive_tags("Toddler Cookies")
    (['infant_formula'], frozenset())
    """
    text = _tag_text(name)
    place = _place(aisle, department)
    found = {m.lastgroup or "" for m in _CLAIM_SCAN.finditer(text)}
    tags = {group.removeprefix("tag_") for group in found if group.startswith("tag_")}
    if "%" in text and _DAIRY.search(text):
        tags.update(tag for tag, pattern in _PERCENT_FAT.items() if pattern.search(text))
    if place.kosher or ("clue_kosher" in found and not _KOSHER_STYLE.search(text)):
        tags.add("kosher")
    if place.halal:
        tags.add("halal")
    if "free" in text:
        tags.update(_listed_claims(name))
    if not place.not_food and "clue_plant_milk" in found and not _NOT_FOOD.search(text):
        tags.add("plant_based")
    if (
        any(hint in text for hint in _FORMULA_HINTS)
        and _INFANT_FORMULA.search(text)
        and not _FORMULA_ACCESSORY.search(text)
    ):
        tags.add("infant_formula")
    if "non_alcoholic" not in tags and (place.alcohol or _alcohol(text)):
        tags.add("alcohol")
    return implied_tags(frozenset(tags))
