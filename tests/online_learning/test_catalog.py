"""The catalog: what enrich makes of a producer's record, and a brand vocabulary that follows
the items the catalog holds, however they arrive."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.catalog import Catalog, enrich
from online_learning.contract import Product
from online_learning.product_text import GENERIC_FIRST_WORDS, brand_vocabulary, guess_brand


def item(
    item_id: str,
    name: str,
    aisle: str = "Rayon",
    department: str = "Épicerie",
    *,
    tags: set[str] | None = None,
    brand: str | None = None,
) -> Product:
    return Product(item_id, name, aisle, department, brand=brand, tags=frozenset(tags or ()))


# --- enrich: the producer's tags, the name's and the taxonomy's ---------------------------------


def test_a_producers_tags_are_spelt_as_the_rules_spell_them() -> None:
    sent = item("SKU-1", "Pain complet", tags={"Gluten-Free", "HALAL", "dairy free", "!!"})
    # dairy free promises lactose free too (product_text.implied_tags)
    assert enrich(sent).tags == {"gluten_free", "halal", "dairy_free", "lactose_free"}


def test_a_producers_tag_beats_a_contradicting_one_read_from_the_name() -> None:
    # The name reads as a lager; the producer knows it is the alcohol-free one.
    sent = item("SKU-2", "Heineken Lager 0.0 33 cl", tags={"non-alcoholic"})
    assert enrich(sent).tags == {"non_alcoholic"}
    assert enrich(item("SKU-3", "Heineken Lager 33 cl")).tags == {"alcohol"}


def test_vegan_from_the_producer_promises_dairy_free_too() -> None:
    assert enrich(item("SKU-4", "Boisson avoine", tags={"vegan"})).tags == {
        "vegan",
        "dairy_free",
        "lactose_free",
        "egg_free",
    }


def test_taxonomy_tags_reach_every_item_filed_there_whatever_the_spelling() -> None:
    taxonomy = {"cave": frozenset({"alcohol"}), "laits infantiles": frozenset({"infant_formula"})}
    wine = item("SKU-5", "Côtes du Rhône 75 cl", "Rouges", "CAVE")
    formula = item("SKU-6", "Guigoz Optipro 1 800 g", "Laits Infantiles", "Bébé")
    plain = item("SKU-7", "Petit pot carotte 2x130 g", "Petits pots", "Bébé")
    assert enrich(wine, taxonomy_tags=taxonomy).tags == {"alcohol"}
    assert enrich(formula, taxonomy_tags=taxonomy).tags == {"infant_formula"}
    assert enrich(plain, taxonomy_tags=taxonomy).tags == frozenset()
    assert enrich(wine).tags == frozenset()  # French wine names say nothing in English


def test_a_taxonomy_tag_never_contradicts_the_name_or_the_producer() -> None:
    taxonomy = {"bieres": frozenset({"alcohol"})}
    said = item("SKU-8", "Bière blonde sans alcool 33 cl", "Bières", "Boissons")
    sent = item("SKU-9", "Tourtel Twist 27,5 cl", "Bières", "Boissons", tags={"non_alcoholic"})
    assert enrich(said, taxonomy_tags=taxonomy).tags == {"non_alcoholic"}
    assert enrich(sent, taxonomy_tags=taxonomy).tags == {"non_alcoholic"}


def test_enrich_twice_changes_nothing_more() -> None:
    taxonomy = {"cave": frozenset({"alcohol"})}
    once = enrich(
        item("SKU-10", "Kronenbourg 1664 6x25cl", "Bières", "Cave"), taxonomy_tags=taxonomy
    )
    assert enrich(once, taxonomy_tags=taxonomy) is once


@pytest.mark.parametrize(
    ("size", "unit", "expected"),
    [
        (1.0, "L", (1.0, "l")),
        (75.0, "cl", (750.0, "ml")),
        (500.0, "Grams", (500.0, "g")),
        (6.0, "each", (6.0, "ct")),
        (2.0, "dozen", (24.0, "ct")),
        (12.0, "fl oz", (12.0, "fl_oz")),
        (0.5, "kg", (0.5, "kg")),  # already as the rules spell it
        (3.0, "sachets", (3.0, "sachets")),  # no name spells it: kept, and unknown to the rule
    ],
)
def test_a_producers_unit_is_read_in_its_own_spelling(
    size: float, unit: str, expected: tuple[float, str]
) -> None:
    p = enrich(Product("SKU-U", "Article 2 kg", "Rayon", "Épicerie", size=size, unit=unit))
    assert (p.size, p.unit) == expected  # the producer's size wins over the name's


# --- the brand vocabulary follows what the catalog holds --------------------------------------


def test_a_catalog_learns_its_descriptors_from_its_own_names() -> None:
    # "Boisson" leads names but is used inside names across aisles: a descriptor here, in a
    # language the built-in seed does not know.
    names = [
        ("SKU-A1", "Boisson avoine 1 l", "Laits végétaux"),
        ("SKU-A2", "Alpro Boisson soja 1 l", "Laits végétaux"),
        ("SKU-A3", "Oatly Boisson avoine barista 1 l", "Laits végétaux"),
        ("SKU-A4", "Andros Boisson pomme 1 l", "Jus"),
        ("SKU-A5", "Volvic Boisson citron 1,5 l", "Eaux"),
    ]
    catalog = Catalog(Product(i, n, a, "Boissons") for i, n, a in names)
    assert "boisson" in catalog.brand_words and "boisson" not in GENERIC_FIRST_WORDS
    brands = {p.item_id: p.brand for p in catalog}
    assert brands == {
        "SKU-A1": None,
        "SKU-A2": "alpro",
        "SKU-A3": "oatly",
        "SKU-A4": "andros",
        "SKU-A5": "volvic",
    }


def test_a_brand_the_producer_sent_is_never_guessed_again() -> None:
    catalog = Catalog([item("SKU-B1", "Zesty crisps", brand="Zesty Co")])
    for i in range(4):
        catalog.upsert(item(f"SKU-B{i + 2}", f"Crunchco Zesty snack {i}", f"aisle {i}"))
    assert "zesty" in catalog.brand_words
    assert catalog.get("SKU-B1").brand == "Zesty Co"  # type: ignore[union-attr]


def test_a_fixed_vocabulary_is_not_learned_from() -> None:
    catalog = Catalog(generic_words=frozenset({"boisson"}))
    for i in range(5):
        catalog.upsert(item(f"SKU-C{i}", f"Brandco Zesty thing {i}", f"aisle {i}"))
    catalog.upsert(item("SKU-Z", "Zesty crisps"))
    assert catalog.vocabulary is None
    assert catalog.get("SKU-Z").brand == "zesty"  # type: ignore[union-attr]


def test_changing_the_vocabulary_guesses_again_only_the_brands_that_read_the_word() -> None:
    catalog = Catalog([item(f"SKU-D{i}", f"Brand{i} cola 33 cl", f"aisle {i}") for i in range(50)])
    before = catalog.brands_reguessed
    catalog.upsert(item("SKU-E", "Zesty crisps"))
    for i in range(3):
        catalog.upsert(item(f"SKU-F{i}", f"Crunchco Zesty snack {i}", f"aisle {i}"))
    assert catalog.get("SKU-E").brand is None  # type: ignore[union-attr]
    # One word changed standing: one item read it, not the fifty colas.
    assert catalog.brands_reguessed - before <= 4


# Few words, so they often change standing; a possessive and a ® brand, whose guesses read
# more than the first word.
WORDS = ["zesty", "crunchco", "boisson", "lait", "alpro", "oat", "nature", "Joe's", "Downy®"]
names = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
operations = st.lists(
    st.tuples(
        st.sampled_from(["upsert", "upsert", "remove"]),
        st.integers(0, 7),  # item id
        names,
        st.integers(0, 4),  # aisle
        st.booleans(),  # the producer sends a brand
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(operations)
def test_the_vocabulary_and_brands_are_what_the_held_items_alone_would_give(
    ops: list[tuple[str, int, str, int, bool]],
) -> None:
    """However items came, went and changed, the catalog reads brands as if it had learned from
    what it holds now, all at once."""
    catalog = Catalog()
    for op, n, name, aisle, branded in ops:
        item_id = f"SKU-{n:04d}"
        if op == "remove":
            catalog.remove(item_id)
        else:
            catalog.upsert(
                Product(item_id, name, f"aisle {aisle}", "dept", brand="sent" if branded else None)
            )
    held = list(catalog)
    expected = brand_vocabulary([p.name for p in held], [p.aisle for p in held])
    assert catalog.vocabulary is not None and catalog.vocabulary.words == expected
    for p in held:
        if p.brand != "sent":
            assert p.brand == guess_brand(p.name, expected), p
