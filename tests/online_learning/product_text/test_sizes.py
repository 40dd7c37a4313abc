"""Reading the package size out of product names, and sizes in base units."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from online_learning.product_text import CANONICAL_UNITS, base_size, parse_size, to_base_units


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Kenwood Cabernet Sauvignon Sonoma Valley 750 Ml", (750.0, "ml")),
        ("Reg; Organic Apple Cider Vinegar 16 Fl Oz", (16.0, "fl_oz")),
        ("Gentle Clean Foaming Face Cleanser, 6.7 fl oz Female Skin Care", (6.7, "fl_oz")),
        ("Keebler Sandies Cashew 12.8 Oz", (12.8, "oz")),
        ("Caramel Minis Size Chocolate Cookie Bar Candy 11.5-oz. Bag", (11.5, "oz")),
        ("18-Ounce Classic With Sport Cap Organic Garden", (18.0, "oz")),
        ("TAI PEI      14OZ.SWEET & SOUR CHKN", (14.0, "oz")),
        ("HW DR MCD    DR MCD SPL P OR 18.2Z", (18.2, "oz")),
        ("Yukon Gold Potatoes 5lb Bag", (5.0, "lb")),
        ("Original Gluten Free 1/3 Lb Burgers", (1 / 3, "lb")),
        ("Patties, Beef, Quarter Pound", (0.25, "lb")),
        ("Slimline Cans Beer 12 Pk", (12.0, "ct")),
        ("Vegetarian Grain Meat Sausages Italian - 4 CT", (4.0, "ct")),
        ("Raisin Cinnamon Bagels 5 count", (5.0, "ct")),
        ("Mixed 12 Pack Lion's Share Ale", (12.0, "ct")),
        ("Half Dozen Grade A White Eggs Large", (6.0, "ct")),
        ("Real2 Alkalized Water 500 ml", (500.0, "ml")),
        ("Easy Find Lids Container (1.6L/7 cups)", (1.6, "l")),
        ("Ice Guard Pitcher 1 Gal", (1.0, "gal")),
        ("2.5 qt Glass Mixing Bowl", (2.5, "qt")),
        ("Blueberries Pint", (1.0, "pt")),
        # Several sizes: the largest mass or volume beats any count.
        ("Squirt Rub R 12 Floz 12 Pk 144 Floz", (144.0, "fl_oz")),
        ("Fabric Refresher Meadows & Rain Air Freshener (1 Count, 27 oz)  Air Care", (27.0, "oz")),
        ("Caffeine Free Diet 8pk12oz", (12.0, "oz")),
        ("Mission White Corn 80 Ct 66.67oz Tortilas", (66.67, "oz")),
        # Spellings the catalog does not use but producers do.
        ("Organic Whole Milk 1/2 gallon", (0.5, "gal")),
        ("Half Gallon 2% Reduced Fat Milk", (0.5, "gal")),
        ("Sparkling Water 1 1/2 L", (1.5, "l")),
        ("Vodka 75 cl", (750.0, "ml")),
        ("Prosecco 750ml", (750.0, "ml")),
        ("Napkins 1,000 ct", (1000.0, "ct")),
        ("Basmati Rice 2 kg", (2.0, "kg")),
        ("Sparkling Water 6 x 330 ml", (330.0, "ml")),
        ("Pure Irish Butter 8 Ounces", (8.0, "oz")),
        ("Lemon Ginger Tea 20 Bags 1.41 Oz", (1.41, "oz")),
        # A decimal comma, as most of Europe writes sizes; three digits after it group thousands.
        ("Lait demi-écrémé 1,5 l", (1.5, "l")),
        ("Côtes du Rhône rouge 0,75l", (0.75, "l")),
        ("Jus d'orange 1,75 L", (1.75, "l")),
        ("Bière blonde 6x25cl", (250.0, "ml")),
        ("Beurre doux 250g", (250.0, "g")),
    ],
)
def test_parse_size_reads_real_names(name: str, expected: tuple[float, str]) -> None:
    qty, unit = parse_size(name) or (math.nan, "")
    assert unit == expected[1]
    assert qty == pytest.approx(expected[0])


@pytest.mark.parametrize(
    "name",
    [
        "Baby Free & Clear Size 3 16-28 Lbs Diapers",  # the baby's weight range
        "Free & Clear Newborn Up To 10 lbs Baby Diapers",
        "Diapers, Overnight, Free & Clear, Size 6 (35+ lbs)",
        "Biscuits for Dogs less than 20 lbs",
        "Frozen All Butter Pound Cake",
        "Count Chocula Cereal",
        "Frozen Desserts 150 Calories Per Pint Strawberry",
        "Fish Oil with Vitamin D 1000mg",  # a dose, not a package
        "Fiber 4g Gummy Dietary Supplement",
        "10 Grams Protein Cranberry Almond Instant Oatmeal",
        "Nice & Easy Root Touch-Up 5G Medium Golden Brown",  # a hair-colour code
        "4x Concentrated Laundry Detergent",
        "Organic Whole Milk",
        "",
    ],
)
def test_parse_size_ignores_numbers_that_are_not_package_sizes(name: str) -> None:
    assert parse_size(name) is None


def amount(qty: float, unit: str) -> float:
    """The base amount of a size that must convert."""
    base = to_base_units(qty, unit)
    assert base is not None
    return base[0]


def test_to_base_units_uses_one_base_per_dimension() -> None:
    assert to_base_units(1, "lb") == pytest.approx((453.592, "g"))
    assert to_base_units(0.5, "gal") == pytest.approx((1892.705, "ml"))
    assert to_base_units(1.5, "l") == (1500.0, "ml")
    assert to_base_units(12, "ct") == (12.0, "ct")
    assert amount(16, "oz") == pytest.approx(amount(1, "lb"), rel=1e-4)
    assert amount(2, "qt") == pytest.approx(amount(4, "pt"), rel=1e-4)
    assert amount(64, "fl_oz") == pytest.approx(amount(0.5, "gal"), rel=1e-4)
    assert amount(1, "kg") == amount(1000, "g")
    assert to_base_units(1, "cup") is None
    assert to_base_units(-1, "oz") is None
    assert to_base_units(math.inf, "oz") is None


def test_base_size_needs_a_known_positive_size_and_a_known_unit() -> None:
    assert base_size(2, "lb") == to_base_units(2, "lb")
    assert base_size(0, "lb") is None
    assert base_size(-1, "lb") is None
    assert base_size(math.nan, "lb") is None
    assert base_size(None, "lb") is None
    assert base_size(2, None) is None
    assert base_size(2, "") is None


# Name words around a size; "Half Pint Pound" are there to tempt the bare-unit reading.
_NAME_WORDS_TEXT = """Organic Whole Milk Vanilla Greek Yogurt Sparkling Water Grapefruit Chips Sea
    Salt Cheddar Crackers Almond Breeze Irish Butter Coffee Dark Roast Tortillas Honey Oat Cereal
    Lager Beer Cabernet Half Pint Pound Cake"""
NAME_WORDS = _NAME_WORDS_TEXT.split()
# (spelling, canonical unit, multiplier) as producers write them.
UNIT_SPELLINGS = [
    ("oz", "oz", 1),
    ("Oz.", "oz", 1),
    ("ounces", "oz", 1),
    ("fl oz", "fl_oz", 1),
    ("FL. OZ.", "fl_oz", 1),
    ("fluid ounces", "fl_oz", 1),
    ("floz", "fl_oz", 1),
    ("lb", "lb", 1),
    ("Lbs", "lb", 1),
    ("pounds", "lb", 1),
    ("g", "g", 1),
    ("grams", "g", 1),
    ("kg", "kg", 1),
    ("ml", "ml", 1),
    ("mL", "ml", 1),
    ("cl", "ml", 10),
    ("L", "l", 1),
    ("liter", "l", 1),
    ("litres", "l", 1),
    ("gal", "gal", 1),
    ("Gallon", "gal", 1),
    ("qt", "qt", 1),
    ("quarts", "qt", 1),
    ("pt", "pt", 1),
    ("pints", "pt", 1),
    ("ct", "ct", 1),
    ("Count", "ct", 1),
    ("pack", "ct", 1),
    ("PK", "ct", 1),
    ("dozen", "ct", 12),
]


@st.composite
def quantities(draw: st.DrawFn) -> tuple[str, float]:
    """A quantity as written in a name, with its value."""
    kind = draw(
        st.sampled_from(["int", "decimal", "decimal_comma", "fraction", "mixed", "thousands"])
    )
    whole = draw(st.integers(1, 999))
    if kind == "int":
        return str(whole), float(whole)
    if kind == "decimal":
        cents = draw(st.integers(1, 99))
        return f"{whole - 1}.{cents:02d}", whole - 1 + cents / 100
    if kind == "decimal_comma":
        tenths = draw(st.integers(1, 9))
        return f"{whole - 1},{tenths}", whole - 1 + tenths / 10
    if kind == "thousands":
        rest = draw(st.integers(0, 999))
        return f"{whole},{rest:03d}", whole * 1000.0 + rest
    den = draw(st.integers(2, 16))
    num = draw(st.integers(1, den - 1))
    if kind == "fraction":
        return f"{num}/{den}", num / den
    return f"{whole} {num}/{den}", whole + num / den


@given(st.text())
def test_parse_size_never_raises_and_returns_a_positive_canonical_size(text: str) -> None:
    result = parse_size(text)
    if result is not None:
        qty, unit = result
        assert math.isfinite(qty) and qty > 0
        assert unit in CANONICAL_UNITS


@given(
    words=st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=5),
    quantity=quantities(),
    spelling=st.sampled_from(UNIT_SPELLINGS),
    separator=st.sampled_from([" ", "", "-"]),
)
def test_parse_size_recovers_a_written_size(
    words: list[str],
    quantity: tuple[str, float],
    spelling: tuple[str, str, int],
    separator: str,
) -> None:
    text, value = quantity
    unit_text, unit, multiplier = spelling
    if "," in text:  # "1,000 ct" is written with its unit apart
        separator = " "
    # A digit glued to "g" reads as a hair-colour code ("5G"), which parse_size skips on purpose.
    assume(not (separator == "" and unit_text == "g" and len(text) == 1))
    if " " in text:  # a mixed number then a glued unit reads as two numbers
        separator = " "
    name = f"{' '.join(words)} {text}{separator}{unit_text}"
    parsed = parse_size(name)
    assert parsed is not None, name
    assert parsed[1] == unit
    assert parsed[0] == pytest.approx(value * multiplier, rel=1e-9)


MASS_UNITS = {"oz", "lb", "g", "kg"}


@given(
    unit=st.sampled_from(sorted(CANONICAL_UNITS)),
    a=st.floats(0, 1e9),
    b=st.floats(0, 1e9),
)
def test_to_base_units_is_monotonic_and_keeps_the_dimension(unit: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    base_low, base_high = to_base_units(low, unit), to_base_units(high, unit)
    assert base_low is not None and base_high is not None
    assert base_low[0] <= base_high[0]
    assert base_low[1] == base_high[1]
    assert base_high[1] == {"ct": "ct"}.get(unit, "g" if unit in MASS_UNITS else "ml")
    # A base unit converts to itself.
    assert to_base_units(*base_high) == base_high
