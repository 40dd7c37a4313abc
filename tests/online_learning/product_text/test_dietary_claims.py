"""Dietary and allergen claims in product names, as catalogs spell them, and what they promise.

Property tests: a claim is found wherever it sits among other words of a name, in its common
spellings; a name that only mentions the allergen ("Peanut Butter Cups") never gets the claim's
tag, since the hard rules would then offer it to a customer who asked for a peanut-free item.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.product_text import DIETARY_TAGS, derive_tags, implied_tags

# How catalogs write each claim; the strategies below vary case and hyphenation.
CLAIMS: dict[str, list[str]] = {
    "peanut_free": [
        "Peanut Free",
        "Peanut-Free",
        "No Peanuts",
        "Without Peanuts",
        "Free From Peanuts",
        "Free of Peanuts",
        "sans arachides",
        "erdnussfrei",
        "sin cacahuetes",
        "senza arachidi",
    ],
    "nut_free": [
        "Nut Free",
        "Nut-Free",
        "Free From Nuts",
        "Free of Nuts",
        "Peanut & Tree Nut Free",
        "Peanut and Tree Nut Free",
        "Tree Nut & Peanut Free",
        "Nut & Peanut Free",
    ],
    "tree_nut_free": [
        "Tree Nut Free",
        "Tree-Nut-Free",
        "No Tree Nuts",
        "Free From Tree Nuts",
        "Without Nuts",
        "No Nuts",
        "sans fruits à coque",
        "nussfrei",
        "sin frutos secos",
        "senza frutta a guscio",
        "notenvrij",
    ],
    "egg_free": [
        "Egg Free",
        "Egg-Free",
        "Eggless",
        "No Eggs",
        "Without Eggs",
        "Free From Eggs",
        "sans œufs",
        "sans oeuf",
        "ohne Ei",
        "eifrei",
        "sin huevo",
        "senza uova",
        "eivrij",
    ],
    "soy_free": [
        "Soy Free",
        "Soy-Free",
        "Soya Free",
        "No Soy",
        "Without Soy",
        "Free From Soy",
        "sans soja",
        "sojafrei",
        "sin soja",
        "senza soia",
        "sojavrij",
    ],
    "halal": ["Halal", "Zabiha Halal", "Certified Halal", "Zabihah"],
    "dairy_free": [
        "Dairy Free",
        "Dairy-Free",
        "Non-Dairy",
        "Nondairy",
        "Milk Free",
        "No Dairy",
        "Free From Dairy",
        "sans lait",
        "milchfrei",
        "sin lácteos",
        "senza latte",
        "zuivelvrij",
    ],
    "lactose_free": [
        "Lactose Free",
        "Lactose-Free",
        "Lactaid",
        "No Lactose",
        "Free From Lactose",
        "sans lactose",
        "laktosefrei",
        "sin lactosa",
        "senza lattosio",
        "lactosevrij",
    ],
    "sugar_free": [
        "Sugar Free",
        "Sugar-Free",
        "Sugarfree",
        "Zero Sugar",
        "Sugarless",
        "sans sucre",
        "zuckerfrei",
        "sin azúcar",
        "senza zucchero",
        "suikervrij",
    ],
    "gluten_free": ["Gluten Free", "Gluten-Free", "Free From Gluten", "sans gluten"],
    "vegan": ["Vegan", "végétalien", "vegane"],
}

# Names that mention the allergen, or a claim that promises something else, without the claim.
LOOKALIKES: dict[str, list[str]] = {
    "peanut_free": [
        "Peanut Butter Cups",
        "Creamy Peanut Butter",
        "Honey Roasted Peanuts",
        "Thai Peanut Sauce",
        "Free From Peanut Butter Cookies",
        "Tree Nut Free Peanut Butter",
        "Protein Bar, Peanut, Gluten & Dairy Free",
    ],
    "nut_free": [
        "Almond Milk",
        "Unsweetened Almond Milk, Dairy Free",
        "Mixed Nuts, Salt & Gluten Free",
        "Hazelnut Spread",
        "Glazed Donuts",
        "Coconut Water",
        "Peanut Free Spread",
        "Tree Nut Free Peanut Butter",
    ],
    "tree_nut_free": ["Almond Milk", "Walnut Halves", "Peanut Free Spread", "Pecan Pie"],
    "egg_free": [
        "Egg Noodles",
        "Wide Egg Noodles",
        "Large Brown Eggs Free Range",
        "Large Egg Free Range",
        "Cage Free Eggs",
        "Egg Nog",
        "Egg White Protein",
        "Eggplant Parmesan",
        "Free From Egg Noodles",
    ],
    "soy_free": [
        "Soy Sauce",
        "Less Sodium Soy Sauce",
        "Soy Milk",
        "Organic Soybeans",
        "Soy Lecithin",
        "Free From Soy Sauce",
        "No Soy Sauce",
    ],
    "sugar_free": [
        "Sugar Cookies",
        "Brown Sugar",
        "Sugar Snap Peas",
        "No Sugar Added",
        "No Added Sugars",
        "Free From Sugar Cookies",
        "Yaourt sans sucres ajoutés",
        "Zumo sin azúcar añadido",
        "Succo senza zuccheri aggiunti",
        "Low Fat, Sugar Cookies",
    ],
    "halal": ["Non-Halal Sausage", "Not Halal"],
    "dairy_free": [
        "Lactose Free Milk",
        "Whole Milk, Lactose Free",
        "Milk Chocolate",
        "Free From Milk Chocolate",
    ],
    "lactose_free": ["Whole Milk", "Milk Chocolate", "Lactase Enzyme Tablets"],
}

# Product words that neither claim anything nor end a claim ("Bread" after "Free From Eggs"
# could be the product's own name, so such words are left out).
FILLER = [
    "Organic",
    "Vanilla",
    "Original",
    "Classic",
    "Crunchy",
    "Honey",
    "Cinnamon",
    "Crackers",
    "Granola",
    "Pretzels",
    "Waffles",
    "Muffins",
    "Snack",
    "Bites",
    "Family Size",
    "12 oz",
    "6 ct",
    "Frozen",
    "Pizza",
    "Burger",
    "Dressing",
    "Mix",
    "Style",
    "Lemon",
    "Strawberry",
    "Meatless",
]
JOINERS = [" ", ", ", " - ", " | "]


@st.composite
def spelled(draw: st.DrawFn, phrase: str) -> str:
    """``phrase`` as a catalog may write it: any case, words joined by a space or a hyphen."""
    words = phrase.split()
    joined = words[0] + "".join(draw(st.sampled_from([" ", "-"])) + word for word in words[1:])
    case = draw(st.sampled_from([str, str.lower, str.upper, str.title]))
    return case(joined)


@st.composite
def names_around(draw: st.DrawFn, phrase: str) -> str:
    """A product name with ``phrase`` among other product words."""
    before = draw(st.lists(st.sampled_from(FILLER), max_size=3))
    after = draw(st.lists(st.sampled_from(FILLER), max_size=3))
    parts = [*before, draw(spelled(phrase)), *after]
    name = parts[0]
    for part in parts[1:]:
        name += draw(st.sampled_from(JOINERS)) + part
    return name


def test_every_preserved_tag_has_claims_and_lookalikes_here() -> None:
    # A tag added to DIETARY_TAGS without claims to read it would never be kept.
    assert set(CLAIMS) >= DIETARY_TAGS - {"kosher"}
    assert set(LOOKALIKES) >= DIETARY_TAGS - {"kosher", "vegan", "gluten_free"}


@pytest.mark.parametrize(
    ("tag", "phrase"), [(tag, phrase) for tag, phrases in CLAIMS.items() for phrase in phrases]
)
def test_each_claim_alone_gets_its_tag(tag: str, phrase: str) -> None:
    assert tag in derive_tags(phrase)


@pytest.mark.parametrize("tag", sorted(CLAIMS))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_claim_gets_its_tag_wherever_and_however_it_is_written(
    tag: str, data: st.DataObject
) -> None:
    name = data.draw(names_around(data.draw(st.sampled_from(CLAIMS[tag]))))
    assert tag in derive_tags(name), name


@pytest.mark.parametrize("tag", sorted(LOOKALIKES))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_name_that_only_mentions_the_allergen_never_gets_the_claim(
    tag: str, data: st.DataObject
) -> None:
    name = data.draw(names_around(data.draw(st.sampled_from(LOOKALIKES[tag]))))
    assert tag not in derive_tags(name), name


# Words listed before one "free" and the tag each makes free.
LISTED = {
    "Gluten": "gluten_free",
    "Dairy": "dairy_free",
    "Lactose": "lactose_free",
    "Egg": "egg_free",
    "Eggs": "egg_free",
    "Soy": "soy_free",
    "Peanut": "peanut_free",
    "Tree Nut": "tree_nut_free",
    "Nut": "nut_free",
    "Sugar": "sugar_free",
    "Wheat": None,
}
# Words that never name what a product is or has, so a list may start with them before a
# comma; the others ("Peanut" in "Protein Bar, Peanut, Gluten & Dairy Free") may be the
# product's flavour, and start a list only right before its conjunction.
LIST_HEADS = {"Gluten", "Dairy", "Lactose", "Wheat"}


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.sampled_from(sorted(LISTED)), min_size=2, max_size=5, unique=True),
    conjunction=st.sampled_from([" & ", " and ", " And ", ", and ", " or "]),
    before=st.lists(st.sampled_from(FILLER), max_size=2),
    after=st.lists(st.sampled_from(FILLER), max_size=2),
    free=st.sampled_from([" Free", "-Free", " free", " FREE", "-free"]),
)
def test_claims_listed_before_one_free_each_get_their_tag(
    words: list[str], conjunction: str, before: list[str], after: list[str], free: str
) -> None:
    claim = ", ".join(words[:-1]) + conjunction + words[-1] + free
    name = " ".join([*before, claim, *after])
    start = next(i for i, word in enumerate(words) if word in LIST_HEADS or i == len(words) - 2)
    tags = derive_tags(name)
    assert {LISTED[word] for word in words[start:] if LISTED[word]} <= tags, name
    if start == 0:
        assert {LISTED[word] for word in words if LISTED[word]} <= tags, name


@pytest.mark.parametrize(
    ("name", "expected", "not_read"),
    [
        ("Dairy, Nut & Soy Free Chocolate Chunks", {"dairy_free", "nut_free", "soy_free"}, set()),
        ("Dairy Nut & Soy Free", {"dairy_free", "nut_free", "soy_free"}, set()),
        ("Lactose & Soy Free Cheddar Shreds", {"lactose_free", "soy_free"}, {"dairy_free"}),
        (
            "Protein Bar, Peanut, Gluten & Dairy Free",
            {"gluten_free", "dairy_free"},
            {"peanut_free"},
        ),
        ("Low Fat, Sugar & Gluten Free Muffins", {"low_fat", "sugar_free"}, {"fat_free"}),
        ("Mixed Nuts, Salt & Gluten Free", {"gluten_free", "low_sodium"}, {"nut_free"}),
        ("Whole Milk, Lactose Free", {"whole", "lactose_free"}, {"dairy_free"}),
        ("Laundry Detergent Free of Perfumes and Dyes", set(), {"dairy_free", "egg_free"}),
    ],
)
def test_listed_claims_on_catalog_like_names(
    name: str, expected: set[str], not_read: set[str]
) -> None:
    tags = derive_tags(name)
    assert tags >= expected
    assert tags.isdisjoint(not_read)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(["Gluten", "Dairy", "Eggs", "Soy", "Peanuts"]), min_size=1),
    after=st.lists(st.sampled_from(FILLER), max_size=2),
)
def test_claims_listed_after_free_from_each_get_their_tag(
    words: list[str], after: list[str]
) -> None:
    listed = {"Gluten": "gluten_free", "Dairy": "dairy_free", "Eggs": "egg_free"}
    listed |= {"Soy": "soy_free", "Peanuts": "peanut_free"}
    name = " ".join(["Free From " + ", ".join(words), *after])
    assert {listed[word] for word in words} <= derive_tags(name), name


# --- what a tag promises ------------------------------------------------------------------------

PROMISES = [
    ("vegan", "dairy_free"),
    ("vegan", "egg_free"),
    ("vegan", "lactose_free"),
    ("dairy_free", "lactose_free"),
    ("nut_free", "peanut_free"),
    ("nut_free", "tree_nut_free"),
]
ANY_TAGS = st.frozensets(
    st.sampled_from(sorted(DIETARY_TAGS | {"organic", "alcohol", "whole", "low_fat"}))
)


@given(ANY_TAGS)
def test_implied_tags_keeps_every_promise_and_adds_nothing_else(tags: frozenset[str]) -> None:
    out = implied_tags(tags)
    assert out >= tags
    assert implied_tags(out) == out  # closed: chains of promises are followed to the end
    for tag, promised in PROMISES:
        if tag in out:
            assert promised in out
    # free of tree nuts and of peanuts is what nut free means, and nothing else makes it
    assert ("nut_free" in out) == ({"peanut_free", "tree_nut_free"} <= out)
    # what is added is only ever promised by something present
    for added in out - tags:
        assert any(tag in out and promised == added for tag, promised in PROMISES) or (
            added == "nut_free"
        )


@given(ANY_TAGS, ANY_TAGS)
def test_more_tags_never_promise_less(tags: frozenset[str], more: frozenset[str]) -> None:
    assert implied_tags(tags) <= implied_tags(tags | more)


def test_nothing_promises_a_certification_or_lactose_free_milk_dairy_free() -> None:
    assert implied_tags(frozenset({"vegan"})).isdisjoint({"kosher", "halal", "nut_free"})
    assert "dairy_free" not in implied_tags(frozenset({"lactose_free"}))
    assert "nut_free" not in implied_tags(frozenset({"peanut_free"}))
    assert "nut_free" not in implied_tags(frozenset({"tree_nut_free"}))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from([p for phrases in CLAIMS.values() for p in phrases] + FILLER),
        min_size=1,
        max_size=6,
    )
)
def test_derived_tags_come_with_what_they_promise(words: list[str]) -> None:
    tags = derive_tags(" ".join(words))
    assert implied_tags(tags) == tags


# --- places ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aisle", "department", "halal"),
    [
        ("halal meat", "meat seafood", True),
        ("Boucherie", "Halal", True),
        ("Halal-Fleisch", "Metzgerei", True),
        ("non halal", "meat seafood", False),
        ("poultry counter", "meat seafood", False),
    ],
)
def test_an_aisle_or_department_named_halal_makes_its_items_halal(
    aisle: str, department: str, halal: bool
) -> None:
    assert ("halal" in derive_tags("Chicken Thighs", aisle, department)) is halal
