"""The simulated customers' hidden tastes: plausible, varied, and exactly the latent effects
the learnability ceiling is told about."""

from __future__ import annotations

import statistics
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from online_learning.contract import Product
from online_learning.logistic import logit
from online_learning.offline.simulation import SimConfig, Simulation
from tests.conftest import milk

WHOLE = milk("w1", "Acme Whole Milk 0.5 gal", 3.0, "acme", size=0.5, unit="gal", tags={"whole"})
WHOLE_TWIN = milk(
    "w2", "Acme Whole Milk 0.5 gal", 3.0, "acme", size=0.5, unit="gal", tags={"whole"}
)
WHOLE_OTHER_BRAND = milk(
    "w3", "Dairyco Whole Milk 0.5 gal", 3.0, "dairyco", size=0.5, unit="gal", tags={"whole"}
)
SKIM_SAME_BRAND = milk(
    "s1", "Acme Skim Milk 0.5 gal", 3.0, "acme", size=0.5, unit="gal", tags={"fat_free"}
)
SKIM_GALLON = milk(
    "s2", "Acme Skim Milk 1 gal", 3.0, "acme", size=1.0, unit="gal", tags={"fat_free"}
)
GF_BREAD = Product(
    "b1", "Gluten Free Sandwich Bread", "bread", "bakery", 5.0, tags=frozenset({"gluten_free"})
)
BREAD = Product("b2", "Sandwich Bread", "bread", "bakery", 3.0)
BEER = Product(
    "a1",
    "Lager Beer 12 ct",
    "beers coolers",
    "alcohol",
    12.0,
    12,
    "ct",
    tags=frozenset({"alcohol"}),
)
ROOT_BEER = Product("a2", "Root Beer 12 ct", "soft drinks", "beverages", 6.0, 12, "ct")
HAND_MADE = [
    WHOLE,
    WHOLE_TWIN,
    WHOLE_OTHER_BRAND,
    SKIM_SAME_BRAND,
    SKIM_GALLON,
    GF_BREAD,
    BREAD,
    BEER,
    ROOT_BEER,
]


@pytest.fixture(scope="module")
def milk_world() -> Simulation:
    return Simulation(SimConfig(seed=9, n_customers=600, basket_source="synthetic"), HAND_MADE)


def customers(sim: Simulation) -> list[str]:
    return [f"customer-{i:05d}" for i in range(1, sim.config.n_customers + 1)]


def test_dietary_and_alcohol_violations_are_almost_never_accepted(milk_world):
    for customer in customers(milk_world):
        assert milk_world.true_accept_prob(customer, GF_BREAD, BREAD) == pytest.approx(0.01)
        assert milk_world.true_accept_prob(customer, BEER, ROOT_BEER) == pytest.approx(0.01)
        assert milk_world.true_accept_prob(customer, ROOT_BEER, BEER) == pytest.approx(0.01)


def test_a_near_twin_beats_a_different_size_and_fat_level(milk_world):
    twin = [milk_world.true_accept_prob(c, WHOLE, WHOLE_TWIN) for c in customers(milk_world)]
    skim = [milk_world.true_accept_prob(c, WHOLE, SKIM_GALLON) for c in customers(milk_world)]
    print(
        f"mean P(accept) twin {statistics.mean(twin):.2f}, skim gallon {statistics.mean(skim):.2f}"
    )
    assert statistics.mean(twin) > statistics.mean(skim) + 0.3


def test_skim_for_whole_is_worse_than_whole_of_another_brand_for_most(milk_world):
    worse = [
        milk_world.true_accept_prob(c, WHOLE, SKIM_SAME_BRAND)
        < milk_world.true_accept_prob(c, WHOLE, WHOLE_OTHER_BRAND)
        for c in customers(milk_world)
    ]
    assert sum(worse) / len(worse) > 0.8


def test_customers_differ(milk_world):
    probs = [
        milk_world.true_accept_prob(c, WHOLE, WHOLE_OTHER_BRAND) for c in customers(milk_world)
    ]
    assert statistics.pstdev(probs) > 0.1
    assert min(probs) == pytest.approx(0.01)  # some customers never take a substitute


@pytest.fixture(scope="module")
def catalog_world(products: list[Product]) -> Simulation:
    return Simulation(SimConfig(seed=4), products)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_true_accept_prob_is_a_probability_in_bounds(catalog_world, products, data):
    requested = data.draw(st.sampled_from(products))
    candidate = data.draw(st.sampled_from(products))
    customer = data.draw(st.text(min_size=1, max_size=12))
    now = data.draw(st.floats(catalog_world.now, catalog_world.now + 1e6))
    p = catalog_world.true_accept_prob(customer, requested, candidate, now)
    assert 0.01 <= p <= 0.99


@pytest.fixture(scope="module")
def no_latent_world(products: list[Product]) -> Simulation:
    """``catalog_world``'s customers (same seed) without any latent effect."""
    return Simulation(SimConfig(seed=4, population="catalog"), products)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_hidden_effects_are_exactly_what_the_latent_population_adds_to_the_logit(
    catalog_world, no_latent_world, products, data
):
    requested = data.draw(st.sampled_from(products))
    same_aisle = [p for p in products if p.aisle == requested.aisle]
    candidate = data.draw(st.sampled_from(same_aisle))
    customer = f"customer-{data.draw(st.integers(1, 2000)):05d}"
    p = catalog_world.true_accept_prob(customer, requested, candidate)
    p_plain = no_latent_world.true_accept_prob(customer, requested, candidate)
    effects = catalog_world.hidden_effects(requested, candidate)
    assert all(
        effect == 0.0 for effect in no_latent_world.hidden_effects(requested, candidate).values()
    )
    levels = sorted(key.split("|")[0] for key in effects)
    switched = requested.brand is not None and candidate.brand != requested.brand
    assert levels == sorted(["appeal", "pair", "brand"] + ["switch"] * switched)
    assume(max(p, p_plain) < 0.99 and min(p, p_plain) > 0.01)  # neither clipped
    assert logit(p) - sum(effects.values()) == pytest.approx(logit(p_plain), abs=1e-9)


def test_after_the_shift_hidden_effects_are_the_redrawn_ones_of_flipped_aisles(products):
    config = SimConfig(seed=4, shift_at=600.0)
    world = Simulation(config, products)
    plain = Simulation(replace(config, population="catalog"), products)
    after = config.start_ts + 900.0
    epochs: set[str] = set()
    checked = 0
    for requested in products[:400]:
        candidate = next(p for p in products if p.aisle == requested.aisle)
        before_keys = world.hidden_effects(requested, candidate, config.start_ts)
        effects = world.hidden_effects(requested, candidate, after)
        epoch = {key.rsplit("|", 1)[1] for key in effects}
        assert len(epoch) == 1 and {k.rsplit("|", 1)[1] for k in before_keys} == {"0"}
        epochs |= epoch
        p = world.true_accept_prob("customer-00042", requested, candidate, after)
        p_plain = plain.true_accept_prob("customer-00042", requested, candidate, after)
        if max(p, p_plain) < 0.99 and min(p, p_plain) > 0.01:
            assert logit(p) - sum(effects.values()) == pytest.approx(logit(p_plain), abs=1e-9)
            checked += 1
    assert epochs == {"0", "1"}  # some aisles flipped, some not
    assert checked > 100


def test_pairs_share_the_hidden_effects_of_their_item_and_brands(catalog_world, products):
    milk = [p for p in products if p.aisle == products[0].aisle]
    a, b, c = milk[0], milk[1], milk[2]
    ab, cb = catalog_world.hidden_effects(a, b), catalog_world.hidden_effects(c, b)
    shared = set(ab) & set(cb)
    assert f"appeal|{b.item_id}|0" in shared and f"brand|{b.aisle}|{b.brand or ''}|0" in shared
    assert f"pair|{a.item_id}|{b.item_id}|0" in ab and f"pair|{a.item_id}|{b.item_id}|0" not in cb
    for key in shared:
        assert ab[key] == cb[key]
