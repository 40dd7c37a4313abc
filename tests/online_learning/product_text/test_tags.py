"""Dietary, fat-level and alcohol tags read out of product names, checked on real names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.product_text import (
    DIETARY_TAGS,
    FAT_LEVELS,
    derive_tags,
    implied_tags,
    normalize_tag,
)
from tests.online_learning.product_text.conftest import instacart


@pytest.mark.parametrize(
    ("name", "aisle", "department", "expected"),
    [
        ("Organic Whole Milk", "milk", "dairy eggs", {"organic", "whole"}),
        ("Organic 2% Reduced Fat Milk", "milk", "dairy eggs", {"organic", "reduced_fat"}),
        ("1% Lowfat Chocolate Milk", "milk", "dairy eggs", {"low_fat"}),
        ("Select Fat Free Skim Milk", "milk", "dairy eggs", {"fat_free"}),
        ("Plain 0% Fat Oikos Greek Yogurt", "yogurt", "dairy eggs", {"fat_free"}),
        (
            "Low Moisture Part Skim Mozzarella Shredded Cheese",
            "packaged cheese",
            "dairy eggs",
            {"low_fat"},
        ),
        ("1% Hydrocortisone Anti-Itch Cream, Tube Anti-Itch", "first aid", "personal care", set()),
        ("Lactose Free Whole Milk", "milk", "dairy eggs", {"lactose_free", "whole"}),
        ("Gluten Free Chocolate Chip Cookies", "cookies cakes", "snacks", {"gluten_free"}),
        ("Bread, Gluten-Free, Multi-Grain, Deli Slice", "bread", "bakery", {"gluten_free"}),
        (
            "Vegan Vodka Sauce",
            "pasta sauce",
            "dry goods pasta",
            {"vegan", "dairy_free", "lactose_free", "egg_free"},
        ),
        (
            "Organic Coconut Milk Non-Dairy Frozen Dessert Butter Pecan",
            "ice cream ice",
            "frozen",
            {"organic", "dairy_free", "lactose_free", "plant_based"},
        ),
        (
            "Vanilla Almond Breeze Almond Milk",
            "soy lactosefree",
            "dairy eggs",
            {"plant_based"},
        ),
        ("Oat Milk Soap", "soap", "personal care", set()),
        ("Blueberry Pomegranate Acaí Cultured Goat Milk Kefir", "yogurt", "dairy eggs", set()),
        ("Kosher Chicken Thighs", "poultry counter", "meat seafood", {"kosher"}),
        ("Kosher Dill Spears", "pickled goods olives", "pantry", set()),
        ("Coarse Kosher Salt", "spices seasonings", "pantry", set()),
        ("Matzo Meal", "kosher foods", "international", {"kosher"}),
        ("Decaf Pure Kona Coffee", "coffee", "beverages", {"caffeine_free"}),
        (
            "Herbal Tea, Organic, Turmeric Ginger, Caffeine-Free, Bags",
            "tea",
            "beverages",
            {"organic", "caffeine_free"},
        ),
        ("Robust Golden Unsweetened Oolong Tea", "tea", "beverages", {"unsweetened"}),
        ("Low Sodium Vegetable Soup", "kosher foods", "international", {"low_sodium", "kosher"}),
        ("Sugar Free Oats and Chocolate Cookies", "cookies cakes", "snacks", {"sugar_free"}),
        # Alcohol: the department decides, unless the name says otherwise.
        ("Lager Beer 12 ct", "beers coolers", "alcohol", {"alcohol"}),
        ("Cabernet Sauvignon", "red wines", "alcohol", {"alcohol"}),
        ("Classic Cosmic Cranberry Kombucha", "beers coolers", "alcohol", {"alcohol"}),
        ("Non Alcoholic Beer", "beers coolers", "alcohol", {"non_alcoholic"}),
        (
            "Chardonnay, Premium Dealcoholized Wine, 2011",
            "white wines",
            "alcohol",
            {"non_alcoholic"},
        ),
        # ... and outside it, the name alone.
        ("12 Year Old Highland Single Malt Scotch Whisky", "missing", "missing", {"alcohol"}),
        ("Cream Sherry", "other", "other", {"alcohol"}),
        ("Hard Root Beer", "soft drinks", "beverages", {"alcohol"}),
        ("Hard Seltzer Black Cherry", "missing", "missing", {"alcohol"}),
        ("Light Imported Beer From Mexico", "paper goods", "household", {"alcohol"}),
        ("Root Beer", "soft drinks", "beverages", set()),
        ("Organic Ginger Ale", "missing", "missing", {"organic"}),
        ("Ginger Beer Lemonade", "juice nectars", "beverages", set()),
        ("Red Wine Vinegar", "oils vinegars", "pantry", set()),
        ("Marsala Cooking Wine", "oils vinegars", "pantry", set()),
        ("Rum Raisin Ice Cream", "ice cream ice", "frozen", set()),
        ("Vodka Sauce", "pasta sauce", "dry goods pasta", set()),
        ("Beer Battered Fish Fillets", "frozen meat seafood", "frozen", set()),
        ("Gin-Gins Hard Ginger Candy Double Strength", "candy chocolate", "snacks", set()),
        ("Pure Vanilla Extract Madagascar Bourbon", "baking ingredients", "pantry", set()),
        ("Champagne Grapes", "fresh fruits", "produce", set()),
        ("Margarita Mix", "cocoa drink mixes", "beverages", set()),
        ("Honeycrisp Apple Cider", "juice nectars", "beverages", set()),
        (
            "Non-Alcoholic Margarita Mix",
            "frozen juice",
            "frozen",
            {"non_alcoholic"},
        ),
    ],
)
def test_derive_tags_on_real_names(
    name: str, aisle: str, department: str, expected: set[str]
) -> None:
    assert derive_tags(name, aisle, department) == expected


@pytest.mark.parametrize(
    ("name", "aisle", "department", "expected"),
    [
        # The claims the rules depend on, in the languages of European grocers.
        ("Pain de mie sans gluten 300 g", "Pains", "Boulangerie", {"gluten_free"}),
        ("Glutenfreies Brot 500 g", "Brot", "Bäckerei", {"gluten_free"}),
        ("Pasta senza glutine 400 g", "Pasta", "Dispensa", {"gluten_free"}),
        ("Lait demi-écrémé sans lactose 1 l", "Laits", "Produits laitiers", {"lactose_free"}),
        ("Vollmilch laktosefrei 1 l", "Milch", "Molkerei", {"lactose_free"}),
        ("Leche sin lactosa 1 l", "Leche", "Lácteos", {"lactose_free"}),
        (
            "Boisson avoine végétalienne 1 l",
            "Laits végétaux",
            "Crèmerie",
            {"vegan", "dairy_free", "lactose_free", "egg_free"},
        ),
        (
            "Vegane Wurst",
            "Aufschnitt",
            "Kühlregal",
            {"vegan", "dairy_free", "lactose_free", "egg_free"},
        ),
        ("Dessert soja sans lait", "Desserts", "Crèmerie", {"dairy_free", "lactose_free"}),
        # Alcohol: the aisle or department names the drink, in whatever language ...
        ("Kronenbourg 1664 Blonde 6x25cl", "Bières", "Boissons", {"alcohol"}),
        ("Côtes du Rhône 75 cl", "Rouges", "Vins", {"alcohol"}),
        ("Rioja Crianza 75 cl", "Tintos", "Vinos", {"alcohol"}),
        ("Augustiner Hell 0,5 l", "Bier", "Getränke", {"alcohol"}),
        ("Peroni Nastro Azzurro 33 cl", "Birra", "Bevande", {"alcohol"}),
        # ... unless the name says otherwise, or the place is the alcohol-free one.
        ("Bière blonde sans alcool 0,0% 6x25cl", "Bières", "Boissons", {"non_alcoholic"}),
        ("Alkoholfreies Weizen 0,5 l", "Bier", "Getränke", {"non_alcoholic"}),
        ("Birra analcolica 33 cl", "Birre", "Bevande", {"non_alcoholic"}),
        ("Jus de pomme 1 l", "Boissons sans alcool", "Boissons", set()),
        ("Cidre doux 75 cl", "Cidres", "Boissons", set()),  # cider can be juice: not read
        # Infant formula, whatever the aisle; accessories and toddler food are not formula.
        ("Lait infantile 1er âge 800 g", "Laits infantiles", "Bébé", {"infant_formula"}),
        ("Lait de croissance 1 l", "Bébé", "Bébé", {"infant_formula"}),
        ("Folgemilch 2 600 g", "Babynahrung", "Baby", {"infant_formula"}),
        ("Organic Infant Formula With Iron", "formula", "baby", {"organic", "infant_formula"}),
        ("Guigoz Optipro 1 800 g", "Laits infantiles", "Bébé", set()),  # name says no more
        ("Infant Formula Dispenser", "baby accessories", "babies", set()),
        ("Toddler Cheddar Wheels", "baby food formula", "babies", set()),
        # Kosher and not-food places, named in other words than the demo catalog's.
        ("Poulet fermier", "Casher", "Boucherie", {"kosher"}),
        ("Oat Milk Body Lotion", "Lotions", "Beauty", set()),
    ],
)
def test_derive_tags_on_other_grocers_names_and_taxonomies(
    name: str, aisle: str, department: str, expected: set[str]
) -> None:
    assert derive_tags(name, aisle, department) == expected


@pytest.mark.parametrize(
    ("sent", "tag"),
    [
        ("Gluten-Free", "gluten_free"),
        ("gluten free", "gluten_free"),
        ("GLUTEN_FREE", "gluten_free"),
        ("Non-Alcoholic", "non_alcoholic"),
        ("Végétalien", "vegetalien"),
        ("Kid's", "kids"),
        ("  --  ", ""),
    ],
)
def test_normalize_tag_spells_tags_as_the_rules_do(sent: str, tag: str) -> None:
    assert normalize_tag(sent) == tag


@given(st.text())
def test_normalize_tag_is_idempotent_and_plain(sent: str) -> None:
    tag = normalize_tag(sent)
    assert normalize_tag(tag) == tag
    assert all(ch.isascii() and (ch.isalnum() or ch in "_%") for ch in tag)
    assert not tag.startswith("_") and not tag.endswith("_")


def test_vegan_promises_no_milk_and_no_egg_whoever_said_it() -> None:
    assert implied_tags(frozenset({"vegan", "organic"})) == {
        *("vegan", "organic", "dairy_free", "lactose_free", "egg_free")
    }
    assert implied_tags(frozenset({"gluten_free"})) == {"gluten_free"}


def test_lactose_free_is_not_dairy_free() -> None:
    assert "dairy_free" not in derive_tags("100% Lactose Free Milk", "soy lactosefree")
    assert "dairy_free" in derive_tags("RichWhip Non-Dairy Topping Lactose Free")


def test_alcohol_tag_without_context_reads_the_name() -> None:
    assert "alcohol" in derive_tags("Pinot Noir")
    assert "alcohol" in derive_tags("Sierra Nevada Pale Ale 6 pk")
    assert "alcohol" not in derive_tags("Pinot Noir Salami, White Wine")


def test_the_tag_vocabularies_name_tags_that_names_are_read_into() -> None:
    """A misspelt tag in DIETARY_TAGS or FAT_LEVELS would switch a rule or a feature off."""
    seen = set().union(*(derive_tags(name, aisle, dept) for name, aisle, dept in instacart()))
    assert seen >= DIETARY_TAGS
    assert seen >= set(FAT_LEVELS)
    assert "infant_formula" in seen  # what the default rules never substitute


@given(st.text(), st.text(), st.text())
def test_derive_tags_never_raises(name: str, aisle: str, department: str) -> None:
    tags = derive_tags(name, aisle, department)
    assert not {"alcohol", "non_alcoholic"} <= tags


@settings(max_examples=200)
@given(
    name=st.sampled_from([name for name, _, _ in instacart()[::50]]),
    flips=st.lists(st.booleans(), min_size=1, max_size=64),
)
def test_derive_tags_ignores_case(name: str, flips: list[bool]) -> None:
    mixed = "".join(
        ch.upper() if flips[i % len(flips)] else ch.lower() for i, ch in enumerate(name)
    )
    assert derive_tags(mixed) == derive_tags(name.lower()) == derive_tags(name.upper())


@given(st.text(alphabet=st.characters(codec="ascii")))
def test_derive_tags_ignores_case_on_any_ascii(name: str) -> None:
    assert derive_tags(name.upper(), "BEERS COOLERS") == derive_tags(name.lower(), "beers coolers")


def test_no_alcohol_tag_in_aisles_of_flavoured_food() -> None:
    flavoured = {"pasta sauce", "oils vinegars", "ice cream ice", "marinades meat preparation"}
    tagged = [
        name
        for name, aisle, department in instacart()
        if aisle in flavoured and "alcohol" in derive_tags(name, aisle, department)
    ]
    # One real bottle is misfiled among the marinades.
    assert tagged == ["Re:Find Rye Whiskey"]
