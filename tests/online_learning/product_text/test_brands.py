"""The brand a product name starts with, with the built-in stoplist and a catalog's own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.product_text import (
    GENERIC_FIRST_WORDS,
    BrandVocabulary,
    brand_vocabulary,
    guess_brand,
)
from tests.online_learning.product_text.conftest import catalog_vocabulary


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Pepperidge Farm® Goldfish Queso Fiesta Baked Snack Crackers", "pepperidge"),
        ("Pepperidge Farm Goldfish Resealable Flavor Blasted Xtra Cheddar 11oz", "pepperidge"),
        ("Ultra Downy® Mountain Spring™ Liquid Fabric Conditioner", "downy"),
        ("Kellogg's Pop-Tarts Frosted Chocolate Chip Cookie Dough Pastries", "kellogg's"),
        ("Lunchables Uploaded Deep Dish Pizza with Pepperoni", "lunchables"),
        ("Eggo Chocolate Chip Pancakes 12 Count", "eggo"),
        ("Nesquik Strawberry Milk Drink Mix", "nesquik"),
        ("Keebler Sandies Cashew 12.8 Oz", "keebler"),
        ("Graduates Toddlers Cereal Bars Strawberry Banana 8 Count", "graduates"),
        # Descriptors, product types and numbers are not brands.
        ("Organic Whole Milk", None),
        ("Chocolate Sandwich Cookies", None),
        ("Half & Half Ultra Pasteurized", None),
        ("Gluten Free Chocolate Chip Cookies", None),
        ("Sparkling Water Grapefruit", None),
        ("100% Whole Wheat Bread", None),
        ("2nd Foods Bananas", None),
        ("Jerky, Real Chicken, Honey Barbecue", None),
        ("Coated Ibuprofen 200 mg Caplets", None),
        ("Decaf Pure Kona Coffee", None),
        ("Cabernet Sauvignon", None),
        ("Lager", None),
    ],
)
def test_guess_brand_with_the_catalog_vocabulary(name: str, expected: str | None) -> None:
    assert guess_brand(name, catalog_vocabulary()) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ben & Jerry's Half Baked Ice Cream", "ben & jerry's"),
        ("Ben and Jerry's Half Baked Ice Cream", "ben & jerry's"),
        ("Ben & Jerry’s Half Baked Ice Cream", "ben & jerry's"),
        ("Annie's Homegrown Shells & White Cheddar", "annie's"),
        ("Trader Joe's Unexpected Cheddar", "trader joe's"),
        ("Horizon Organic Whole Milk", "horizon"),
        ("Stonyfield Organic Whole Milk Yogurt", "stonyfield"),
        ("Children's Allergy Relief", None),
        ("Salt & Pepper Kettle Chips", "salt"),  # without a catalog vocabulary, "salt" leads
    ],
)
def test_guess_brand_with_the_builtin_stoplist(name: str, expected: str | None) -> None:
    assert guess_brand(name) == expected


def test_brand_vocabulary_learns_descriptors_from_the_catalog() -> None:
    vocabulary = catalog_vocabulary()
    assert {"chocolate", "roasted", "decaf", "sauvignon", "toilet"} <= vocabulary
    assert not {"eggo", "lunchables", "nesquik", "keebler", "pepperidge"} & vocabulary
    assert guess_brand("Salt & Pepper Kettle Chips", vocabulary) is None


# --- a vocabulary that follows the catalog ---------------------------------------------------

WORDS = ["zesty", "crunchco", "boisson", "lait", "alpro", "organic", "oat", "snack", "nature"]
names = st.lists(st.sampled_from(WORDS), min_size=0, max_size=4).map(" ".join)
entries = st.tuples(names, st.sampled_from(["a", "b", "c", "d"]))


@settings(max_examples=200)
@given(st.lists(entries, max_size=30), st.data())
def test_add_and_remove_report_exactly_the_words_that_changed_standing(
    added: list[tuple[str, str]], data: st.DataObject
) -> None:
    vocabulary = BrandVocabulary()
    held: list[tuple[str, str]] = []
    for name, aisle in added:
        before = vocabulary.words
        changed = vocabulary.add(name, aisle)
        held.append((name, aisle))
        assert changed == (before ^ vocabulary.words)
        assert vocabulary.words == brand_vocabulary([n for n, _ in held], [a for _, a in held])
    while held:
        name, aisle = held.pop(data.draw(st.integers(0, len(held) - 1)))
        before = vocabulary.words
        assert vocabulary.remove(name, aisle) == (before ^ vocabulary.words)
    assert vocabulary.words == GENERIC_FIRST_WORDS  # all forgotten: only the seed is left


def test_extend_learns_what_adding_one_by_one_learns() -> None:
    rows = [("Alpro Boisson soja", "laits"), ("Boisson avoine", "laits"), ("Andros Boisson", "jus")]
    one_by_one = BrandVocabulary()
    for name, aisle in rows:
        one_by_one.add(name, aisle)
    at_once = BrandVocabulary()
    assert at_once.extend(rows) == {"boisson"}
    assert (
        at_once.words
        == one_by_one.words
        == brand_vocabulary([n for n, _ in rows], [a for _, a in rows])
    )
