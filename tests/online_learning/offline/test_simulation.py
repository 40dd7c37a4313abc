"""The simulated grocery world: reproducible, plausible, and hard enough to need learning."""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from online_learning.contract import Feedback, InventorySignal, Product
from online_learning.offline.instacart import load_instacart_products
from online_learning.offline.simulation import SimConfig, Simulation, SubstitutionRequest
from tests.conftest import milk

CATALOG_LIMIT = 3000
Policy = Callable[[Simulation, SubstitutionRequest], Sequence[str]]


@pytest.fixture(scope="module")
def products() -> list[Product]:
    return load_instacart_products(CATALOG_LIMIT)


@pytest.fixture(scope="module")
def aisles(products: list[Product]) -> dict[str, list[str]]:
    by_aisle: dict[str, list[str]] = defaultdict(list)
    for product in products:
        by_aisle[product.aisle].append(product.item_id)
    return by_aisle


def same_aisle(aisles: dict[str, list[str]]) -> Policy:
    """A fixed, content-blind policy: the aisle's items in catalog order."""

    def policy(sim: Simulation, request: SubstitutionRequest) -> list[str]:
        aisle = sim.products[request.item_id].aisle
        return [i for i in aisles[aisle] if i != request.item_id]

    return policy


def random_same_aisle(aisles: dict[str, list[str]], seed: int = 0) -> Policy:
    rng = random.Random(seed)

    def policy(sim: Simulation, request: SubstitutionRequest) -> list[str]:
        aisle = sim.products[request.item_id].aisle
        items = [i for i in aisles[aisle] if i != request.item_id]
        rng.shuffle(items)
        return items

    return policy


def oracle(aisles: dict[str, list[str]], as_of: float | None = None) -> Policy:
    """Best true acceptance among the in-stock same-aisle items (as of ``as_of`` if given)."""

    def policy(sim: Simulation, request: SubstitutionRequest) -> list[str]:
        requested = sim.products[request.item_id]
        in_stock = [
            sim.products[i]
            for i in aisles[requested.aisle]
            if i != request.item_id and sim.in_stock(request.store_id, i)
        ]
        probs = sim.true_accept_probs(request.customer_id, requested, in_stock, as_of)
        ranked = sorted(zip(probs, in_stock, strict=True), key=lambda pair: -pair[0])
        return [product.item_id for _, product in ranked]

    return policy


def run(
    sim: Simulation, policy: Policy, minutes: int
) -> tuple[list[InventorySignal], list[SubstitutionRequest], list[Feedback | None]]:
    signals: list[InventorySignal] = []
    requests: list[SubstitutionRequest] = []
    feedback: list[Feedback | None] = []
    for _ in range(minutes):
        new_signals, new_requests = sim.advance(60)
        signals += new_signals
        requests += new_requests
        feedback += [sim.resolve(r, policy(sim, r), ranking_id=r.request_id) for r in new_requests]
    return signals, requests, feedback


def accepted_share(feedback: Sequence[Feedback | None]) -> float:
    offered = [f for f in feedback if f is not None]
    return sum(f.outcome == "accepted" for f in offered) / len(offered)


# --- reproducibility ---------------------------------------------------------------------------


def test_same_seed_and_calls_give_identical_events_and_feedback(products, aisles):
    config = SimConfig(seed=11, n_stores=5, n_customers=300)
    first = run(Simulation(config, products), same_aisle(aisles), minutes=4)
    second = run(Simulation(config, products), same_aisle(aisles), minutes=4)
    assert first == second
    assert first[1] and any(f is not None for f in first[2])
    other = run(
        Simulation(SimConfig(seed=12, n_stores=5, n_customers=300), products),
        same_aisle(aisles),
        minutes=4,
    )
    assert other[0] != first[0]
    assert other[1] != first[1]


def test_how_time_is_chunked_does_not_change_the_world(products):
    config = SimConfig(seed=3, n_stores=4)
    one = Simulation(config, products)
    many = Simulation(config, products)
    signals, requests = one.advance(300)
    chunks = [many.advance(seconds) for seconds in (60, 0.5, 119.5, 120)]
    assert [s for chunk, _ in chunks for s in chunk] == signals
    assert [r for _, chunk in chunks for r in chunk] == requests
    assert one.now == many.now == config.start_ts + 300


def test_policies_face_the_same_orders_and_shelves(products, aisles):
    """Common random numbers: comparing two policies is not confounded by different worlds."""
    config = SimConfig(seed=5, n_stores=5)
    a = run(Simulation(config, products), same_aisle(aisles), minutes=5)
    b = run(Simulation(config, products), oracle(aisles), minutes=5)
    assert a[0] == b[0]
    assert a[1] == b[1]


def test_events_arrive_in_time_order_within_the_interval(products):
    sim = Simulation(SimConfig(seed=2, n_stores=3), products)
    for _ in range(5):
        before = sim.now
        signals, requests = sim.advance(60)
        for events in (signals, requests):
            stamps = [e.ts for e in events]
            assert stamps == sorted(stamps)
            assert all(before < ts <= sim.now for ts in stamps)
    kinds = {(s.signal, s.source) for s in signals}
    assert ("found", "shopper") in kinds and ("not_found", "shopper") in kinds


# --- hidden customer preferences ---------------------------------------------------------------


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
    assert math.log(p / (1 - p)) - sum(effects.values()) == pytest.approx(
        math.log(p_plain / (1 - p_plain)), abs=1e-9
    )


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
            assert math.log(p / (1 - p)) - sum(effects.values()) == pytest.approx(
                math.log(p_plain / (1 - p_plain)), abs=1e-9
            )
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


# --- shelves -----------------------------------------------------------------------------------


def test_stock_outs_hit_a_plausible_share_of_lines_and_shelves_restock(products):
    sim = Simulation(SimConfig(seed=21), products)
    signals: list[InventorySignal] = []
    for _ in range(30):
        new_signals, requests = sim.advance(60)
        signals += new_signals
        for request in requests:
            sim.expire(request)
    stats = sim.stats()
    print(f"out-of-stock line share {stats['out_of_stock_line_share']:.3f} of {stats['lines']:.0f}")
    assert 0.02 <= stats["out_of_stock_line_share"] <= 0.15
    assert stats["restocks"] > 0 and stats["stock_outs"] > 0
    store_reports = {s.signal for s in signals if s.source == "store_system"}
    assert store_reports == {"out_of_stock", "in_stock"}
    # a not_found is either a real stock-out or shopper noise (~1% of lines in stock)
    assert stats["not_found_lines"] == stats["out_of_stock_lines"] + stats["false_not_found_lines"]
    assert 0 < stats["false_not_found_lines"] < 0.03 * stats["lines"]


def test_found_signals_cover_about_half_the_found_lines(products):
    sim = Simulation(SimConfig(seed=8), products)
    found = sum(s.signal == "found" for _ in range(10) for s in sim.advance(60)[0])
    share = found / sim.stats()["found_lines"]
    assert 0.4 < share < 0.6


# --- resolving a substitution ------------------------------------------------------------------


def test_resolve_offers_the_first_in_stock_item_and_reports_its_position(products):
    sim = Simulation(SimConfig(seed=13, n_stores=2), products)
    requests: list[SubstitutionRequest] = []
    while len(requests) < 2:
        requests += sim.advance(60)[1]
    first, second = requests[:2]
    ids = [p.item_id for p in products if p.item_id != first.item_id]
    out = [i for i in ids if not sim.in_stock(first.store_id, i)][:2]
    available = [i for i in ids if sim.in_stock(first.store_id, i)][:2]
    assert len(out) == 2 and len(available) == 2
    ranking = [out[0], first.item_id, "no-such-item", out[1], available[0], available[1]]

    feedback = sim.resolve(first, ranking, ranking_id="r-1")

    assert feedback is not None
    assert (feedback.substitute_id, feedback.position) == (available[0], 4)
    assert feedback.outcome in ("accepted", "rejected", "refunded")
    assert (feedback.item_id, feedback.order_id, feedback.customer_id, feedback.ranking_id) == (
        first.item_id,
        first.order_id,
        first.customer_id,
        "r-1",
    )
    assert sim.resolve(first, ranking) is None  # already resolved: nothing changes
    assert sim.stats()["substituted"] == 1

    nothing = [i for i in ids if not sim.in_stock(second.store_id, i)][:3]
    assert sim.resolve(second, nothing) is None
    assert sim.stats()["unfilled"] == 1


def test_expected_acceptance_is_the_true_p_of_what_resolve_would_offer(products):
    sim = Simulation(SimConfig(seed=13, n_stores=2), products)
    requests: list[SubstitutionRequest] = []
    while not requests:
        requests += sim.advance(60)[1]
    request = requests[0]
    requested = sim.products[request.item_id]
    ids = [p.item_id for p in products if p.item_id != request.item_id]
    out = [i for i in ids if not sim.in_stock(request.store_id, i)][:1]
    available = [i for i in ids if sim.in_stock(request.store_id, i)][:2]
    ranking = [out[0], request.item_id, "no-such-item", available[0], available[1]]
    truth = sim.true_accept_prob(request.customer_id, requested, sim.products[available[0]])

    assert sim.expected_acceptance(request, ranking) == truth
    assert sim.expected_acceptance(request, ranking) == truth  # it decided nothing
    assert sim.expected_acceptance(request, out) is None
    assert sim.stats()["substituted"] == 0
    feedback = sim.resolve(request, ranking)
    assert feedback is not None and feedback.substitute_id == available[0]


def test_oracle_policy_is_accepted_far_more_than_random(products, aisles):
    config = SimConfig(seed=17)
    *_, random_feedback = run(Simulation(config, products), random_same_aisle(aisles), minutes=10)
    *_, oracle_feedback = run(Simulation(config, products), oracle(aisles), minutes=10)
    random_rate, oracle_rate = accepted_share(random_feedback), accepted_share(oracle_feedback)
    print(
        f"acceptance: oracle {oracle_rate:.3f}, random same-aisle {random_rate:.3f}"
        f" over {len(oracle_feedback)} requests"
    )
    assert oracle_rate > random_rate + 0.25


def test_a_policy_fitted_before_the_shift_loses_acceptance_after_it(products, aisles):
    """Expected acceptance (true probability of what was offered), paired on the same requests."""
    config = SimConfig(seed=19, shift_at=630.0)
    sim = Simulation(config, products)
    stale = oracle(aisles, as_of=config.start_ts)  # what a model that stopped learning would do
    adapted = oracle(aisles)
    offered: dict[bool, list[float]] = {False: [], True: []}
    best: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(20):
        for request in sim.advance(60)[1]:
            shifted = sim.now >= config.start_ts + 630.0
            ranking, current = stale(sim, request), adapted(sim, request)
            if sim.resolve(request, ranking) is None:
                continue
            requested = sim.products[request.item_id]
            for picks, ids in ((offered, ranking), (best, current)):
                chosen = sim.products[ids[0]]  # both rank in-stock items only
                picks[shifted].append(sim.true_accept_prob(request.customer_id, requested, chosen))
    before, after = statistics.mean(offered[False]), statistics.mean(offered[True])
    adapted_after = statistics.mean(best[True])
    print(
        f"expected acceptance of the stale policy: before the shift {before:.3f},"
        f" after {after:.3f}; an adapted policy after: {adapted_after:.3f}"
    )
    assert after < before - 0.03
    assert adapted_after > after + 0.08


# --- order fill rate ---------------------------------------------------------------------------


def test_perfect_order_fill_rate_is_one_when_nothing_goes_missing(products):
    sim = Simulation(SimConfig(seed=1, out_of_stock_rate=0.0, false_not_found_rate=0.0), products)
    for _ in range(5):
        assert sim.advance(60)[1] == []
    stats = sim.stats()
    assert stats["orders_completed"] > 0
    assert stats["not_found_lines"] == 0
    assert stats["perfect_order_fill_rate"] == 1.0


def test_orders_count_only_once_every_request_is_settled(products):
    sim = Simulation(SimConfig(seed=6, out_of_stock_rate=0.2), products)
    _, requests = sim.advance(300)
    stats = sim.stats()
    assert requests and stats["open_requests"] == len(requests)
    assert stats["orders_completed"] < stats["orders"]
    for request in requests:
        sim.expire(request)
    settled = sim.stats()
    assert settled["open_requests"] == 0
    assert settled["orders_completed"] > stats["orders_completed"]
    assert settled["expired"] == settled["unfilled"] == len(requests)
    assert 0.0 < settled["perfect_order_fill_rate"] < 1.0


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="out_of_stock_rate"):
        SimConfig(out_of_stock_rate=0.7)
    with pytest.raises(ValueError, match="found_signal_rate"):
        SimConfig(found_signal_rate=1.5)
