"""Named customer populations: each pulls the simulated tastes the way its name says."""

from __future__ import annotations

import statistics

import pytest

from online_learning.contract import Product
from online_learning.offline.populations import POPULATIONS, Population, population
from online_learning.offline.simulation import SimConfig, Simulation
from tests.conftest import milk


def whole_half_gallon(item_id: str, brand: str = "acme", price: float = 3.0) -> Product:
    name = f"{brand.title()} Whole Milk 0.5 gal"
    return milk(item_id, name, price, brand, size=0.5, unit="gal", tags={"whole"})


WHOLE = whole_half_gallon("w0")
TWINS = [whole_half_gallon(f"w{i}") for i in range(1, 31)]  # the same product, listed 30 times
DEARER = whole_half_gallon("d1", price=4.5)
OTHER_BRAND = whole_half_gallon("o1", brand="dairyco")
CATALOG = [WHOLE, *TWINS, DEARER, OTHER_BRAND]
N_CUSTOMERS = 400


def world(name: str, seed: int = 3) -> Simulation:
    config = SimConfig(
        seed=seed, n_customers=N_CUSTOMERS, basket_source="synthetic", population=name
    )
    return Simulation(config, CATALOG)


def mean_p(sim: Simulation, candidate: Product) -> float:
    ids = [f"customer-{i:05d}" for i in range(1, N_CUSTOMERS + 1)]
    return statistics.mean(sim.true_accept_prob(c, WHOLE, candidate) for c in ids)


def test_an_unknown_population_is_refused_with_the_names():
    with pytest.raises(ValueError, match="unknown population 'nobody'; choose from catalog"):
        SimConfig(population="nobody")


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="appeal_sd"):
        Population("x", "negative spread", appeal_sd=-0.1)
    with pytest.raises(ValueError, match="segment_weights"):
        Population("x", "a zero weight", segment_weights=(1.0, 0.0, 1.0, 1.0, 1.0))


def test_every_population_gives_probabilities_in_bounds():
    for name in POPULATIONS:
        sim = world(name)
        for candidate in CATALOG[1:]:
            assert 0.01 <= mean_p(sim, candidate) <= 0.99, name


def test_identical_listings_differ_only_through_latent_effects():
    """The catalog population has no latent effects: the same product under another id is
    worth exactly the same to every customer. The default one gives each listing its own."""
    flat = world("catalog")
    assert len({round(mean_p(flat, twin), 12) for twin in TWINS}) == 1
    assert statistics.pstdev(mean_p(world("default"), twin) for twin in TWINS) > 0.02


def test_thrifty_customers_mind_a_dearer_substitute_more():
    # Averaged over seeds: the dearer item's own latent appeal is one draw per seed.
    seeds = range(1, 6)
    thrifty = statistics.mean(penalty_at("thrifty", s, DEARER) for s in seeds)
    mixed = statistics.mean(penalty_at("default", s, DEARER) for s in seeds)
    assert thrifty > mixed + 0.03


def twins_mean(sim: Simulation) -> float:
    """Mean P(accept) of the requested milk's exact twins: the reference an offer is held to."""
    return statistics.mean(mean_p(sim, t) for t in TWINS)


def penalty_at(name: str, seed: int, candidate: Product) -> float:
    """How much less ``candidate`` is accepted than a twin of the requested milk."""
    sim = world(name, seed)
    return twins_mean(sim) - mean_p(sim, candidate)


def test_loyal_customers_mind_another_brand_more():
    seeds = range(1, 6)
    loyal = statistics.mean(penalty_at("loyal", s, OTHER_BRAND) for s in seeds)
    mixed = statistics.mean(penalty_at("default", s, OTHER_BRAND) for s in seeds)
    assert loyal > mixed + 0.05


def test_picky_customers_accept_less():
    assert twins_mean(world("picky")) < twins_mean(world("default")) - 0.05


def test_in_the_popular_population_appeal_follows_orders():
    """Twins differ only in id and so in their (synthetic) order counts: the more ordered,
    the more accepted. Popularity explains about 1.5**2 * 0.25**2 of the logit's variance
    against 0.25**2 + 0.35**2 of appeal and pair noise, a correlation near 0.6; none in the
    default population."""

    def correlation(name: str) -> float:
        sim = world(name)
        orders = [sim.popularity_score(t.item_id) for t in TWINS]
        accept = [mean_p(sim, t) for t in TWINS]
        return statistics.correlation(orders, accept)

    assert correlation("popular") > 0.45
    assert abs(correlation("default")) < 0.35


def test_population_lookup():
    assert population("default") is POPULATIONS["default"]
