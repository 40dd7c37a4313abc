"""The token worlds: tastes read off the words of the names, each world's effect where it says."""

from __future__ import annotations

import contextlib
import io
import random
import statistics

import pytest

from online_learning.contract import Product
from online_learning.offline.evaluation import evaluate
from online_learning.offline.populations import FAMILIES, POPULATIONS, population
from online_learning.offline.simulation import SimConfig, Simulation
from online_learning.offline.token_worlds import TOKEN_WORLDS, TokenWorld, read_name
from streams.cli import build_parser

N_CUSTOMERS = 300
CUSTOMERS = [f"customer-{i:05d}" for i in range(1, N_CUSTOMERS + 1)]


def snack(item_id: str, name: str, aisle: str = "yogurt", price: float = 3.0) -> Product:
    return Product(item_id, name, aisle, "dairy eggs", price)


def world(name: str, products: list[Product], seed: int = 3) -> Simulation:
    config = SimConfig(
        seed=seed, n_customers=N_CUSTOMERS, basket_source="synthetic", population=name
    )
    return Simulation(config, products)


def mean_p(sim: Simulation, requested: Product, candidate: Product) -> float:
    return statistics.fmean(sim.true_accept_prob(c, requested, candidate) for c in CUSTOMERS)


def test_names_are_read_for_head_noun_flavour_pack_diet_and_size() -> None:
    item = read_name("Chobani® Non-Fat Strawberry Greek Yogurt 5.3 oz 4 Pack")
    assert (item.head, item.noun, item.flavours, item.pack) == (
        "chobani",
        "yogurt",
        frozenset({"strawberry"}),
        "multi",
    )
    assert item.diets == {"lean"} and item.size == (5.3, "oz")
    assert read_name("Organic Plain Whole Milk Yogurt").diets == {"organic"}
    assert read_name("Mini Pretzels").pack == "single"
    assert read_name("Sparkling Water").flavours == frozenset()


def test_every_token_world_is_a_population_of_its_own_family() -> None:
    assert (
        set(FAMILIES["token"])
        == set(TOKEN_WORLDS)
        == {
            "tokens-flavour",
            "tokens-aisle",
            "tokens-mixed",
        }
    )
    assert not set(FAMILIES["token"]) & set(FAMILIES["hand-written"])
    for name in TOKEN_WORLDS:
        assert population(name) is POPULATIONS[name] is TOKEN_WORLDS[name]
        assert TOKEN_WORLDS[name].description


def test_an_unknown_name_lists_both_families() -> None:
    with pytest.raises(ValueError) as raised:
        SimConfig(population="nobody")
    message = str(raised.value)
    assert "unknown population 'nobody'" in message
    for name in (*FAMILIES["hand-written"], *FAMILIES["token"]):
        assert name in message
    assert "(hand-written)" in message and "(token)" in message


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="flavour_clash"):
        TokenWorld("x", "negative clash", flavour_clash=-1.0)
    with pytest.raises(ValueError, match="strict_organic"):
        TokenWorld("x", "a share above one", strict_organic=1.5)
    with pytest.raises(ValueError, match="segment_mix"):
        TokenWorld("x", "four segments", segment_mix=(1.0, 1.0, 1.0, 1.0))  # type: ignore[arg-type]


def pairs_from(products: list[Product], n: int = 300) -> list[tuple[Product, Product]]:
    """Same-aisle pairs of the real catalog, as the evaluation's pools hold them."""
    by_aisle: dict[str, list[Product]] = {}
    for product in products:
        by_aisle.setdefault(product.aisle, []).append(product)
    rng = random.Random(5)
    aisles = [a for a, items in by_aisle.items() if len(items) > 1]
    return [tuple(rng.sample(by_aisle[rng.choice(aisles)], 2)) for _ in range(n)]  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(TOKEN_WORLDS))
def test_probabilities_are_in_bounds_and_the_same_for_the_same_seed(
    name: str, products: list[Product]
) -> None:
    pairs = pairs_from(products)
    one, again, other = world(name, products), world(name, products), world(name, products, 4)
    customers = CUSTOMERS[:40]
    p1 = [one.true_accept_prob(c, r, k) for r, k in pairs for c in customers]
    # asked in another order, the same answers: nothing depends on what was asked before
    p2 = [again.true_accept_prob(c, r, k) for r, k in reversed(pairs) for c in customers]
    p2 = [p for block in reversed(_blocks(p2, len(customers))) for p in block]
    p3 = [other.true_accept_prob(c, r, k) for r, k in pairs for c in customers]
    assert p1 == p2
    assert p1 != p3
    assert all(0.0 < p < 1.0 for p in p1 + p3)
    assert 0.05 < statistics.fmean(p1) < 0.9  # neither everything refused nor everything taken
    assert statistics.pstdev(p1) > 0.1  # and the pairs differ


def _blocks(values: list[float], size: int) -> list[list[float]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def test_a_different_flavour_is_refused_in_the_flavour_world() -> None:
    requested = snack("r", "Acme Strawberry Greek Yogurt")
    same = snack("s", "Dairyco Strawberry Greek Yogurt")
    clash = snack("c", "Dairyco Chocolate Greek Yogurt")
    plain = snack("p", "Dairyco Greek Yogurt")  # no flavour word at all
    catalog = [requested, same, clash, plain]
    for seed in (1, 2, 3):
        sim = world("tokens-flavour", catalog, seed)
        p_same, p_clash, p_plain = (mean_p(sim, requested, c) for c in (same, clash, plain))
        assert p_clash < p_same - 0.3, seed  # a clash is a near refusal
        assert p_clash < p_plain < p_same + 0.1, seed  # no flavour word is a smaller step down


def penalties_by_aisle(name: str, requested_name: str, candidate_name: str) -> list[float]:
    """How much less the candidate is accepted than an exact twin of the request, per aisle."""
    out = []
    for aisle in [f"aisle {i}" for i in range(24)]:
        requested = snack("r", requested_name, aisle)
        twin = snack("t", requested_name, aisle)
        candidate = snack("c", candidate_name, aisle)
        sim = world(name, [requested, twin, candidate])
        out.append(mean_p(sim, requested, twin) - mean_p(sim, requested, candidate))
    return out


def test_in_the_aisle_world_each_aisle_minds_its_own_differences() -> None:
    """The same pair (only the pack differs) costs a lot in some aisles and little in others;
    in the flavour world, whose aisle weights are small, the cost is about the same anywhere."""
    aisle = penalties_by_aisle("tokens-aisle", "Acme Crackers", "Acme Crackers 12 Pack")
    flavour = penalties_by_aisle("tokens-flavour", "Acme Crackers", "Acme Crackers 12 Pack")
    assert max(aisle) - min(aisle) > 0.25
    assert statistics.pstdev(aisle) > 2 * statistics.pstdev(flavour)


def test_organic_is_strict_in_some_aisles_only() -> None:
    penalties = penalties_by_aisle("tokens-aisle", "Organic Acme Crackers", "Acme Crackers")
    strict = [p for p in penalties if p > 0.35]
    mild = [p for p in penalties if p < 0.2]
    assert strict and mild


def test_price_counts_per_size_when_the_names_state_one() -> None:
    """Twice the price for twice the ounces is not dearer; twice the price for the same is."""
    requested = snack("r", "Acme Crackers 8 oz", "crackers", 2.0)
    double = snack("d", "Bco Crackers 16 oz", "crackers", 4.0)
    dearer = snack("x", "Bco Crackers 8 oz", "crackers", 4.0)
    sim = world("tokens-mixed", [requested, double, dearer])
    assert mean_p(sim, requested, double) > mean_p(sim, requested, dearer) + 0.05


def test_customers_of_the_mixed_world_lean_different_ways() -> None:
    """A dearer offer: bargain hunters refuse it much more than the rest do."""
    requested = snack("r", "Acme Crackers", "crackers", 2.0)
    dearer = snack("x", "Acme Crackers", "crackers", 5.0)
    sim = world("tokens-mixed", [requested, dearer])
    probs = [sim.true_accept_prob(c, requested, dearer) for c in CUSTOMERS]
    assert statistics.pstdev(probs) > 0.15


def test_only_an_items_own_appeal_is_latent(products: list[Product]) -> None:
    sim = world("tokens-mixed", products)
    requested, candidate = products[0], products[1]
    effects = sim.hidden_effects(requested, candidate)
    assert list(effects) == [f"appeal|{candidate.item_id}|0"]


@pytest.mark.parametrize("command", ["evaluate", "simulate", "demo"])
def test_the_commands_accept_the_token_worlds(command: str) -> None:
    for name in TOKEN_WORLDS:
        assert build_parser().parse_args([command, "--population", name]).population == name
    with contextlib.redirect_stdout(io.StringIO()) as out, pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    assert "tokens-mixed" in out.getvalue() and "picky" in out.getvalue()


def test_the_evaluation_runs_on_a_token_world(products: list[Product]) -> None:
    result = evaluate(
        [1], 150, sim_config=SimConfig(population="tokens-mixed"), products=products, window=50
    )
    summary = result.summary()
    assert summary["random"]["acceptance_mean"] < summary["oracle"]["acceptance_mean"]
    assert result.seeds[0].feedback == 150
    assert result.to_dict()["sim_config"]["population"] == "tokens-mixed"
