"""The brand a product name starts with, with the built-in stoplist and a catalog's own."""

from __future__ import annotations

import pytest

from online_learning.product_text import guess_brand
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
