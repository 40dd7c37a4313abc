"""Dietary, fat-level and alcohol tags read out of product names, checked on real names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.product_text import DIETARY_TAGS, FAT_LEVELS, derive_tags
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
        ("Vegan Vodka Sauce", "pasta sauce", "dry goods pasta", {"vegan", "dairy_free"}),
        (
            "Organic Coconut Milk Non-Dairy Frozen Dessert Butter Pecan",
            "ice cream ice",
            "frozen",
            {"organic", "dairy_free", "plant_based"},
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
