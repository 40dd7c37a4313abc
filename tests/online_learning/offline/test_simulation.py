"""The simulated grocery world as an event stream: reproducible, common to every policy, and hard
enough to need learning."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence

from online_learning.contract import Feedback, InventorySignal, decode_order, encode_order
from online_learning.offline.simulation import SimConfig, Simulation, SubstitutionRequest

Policy = Callable[[Simulation, SubstitutionRequest], Sequence[str]]


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


def test_completed_orders_carry_each_line_outcome_and_agree_with_the_fill_rate(products):
    sim = Simulation(SimConfig(seed=7, out_of_stock_rate=0.2), products)
    assert sim.take_completed_orders() == []  # not recorded unless asked: offline runs hold none
    sim.record_orders()
    by_aisle: dict[str, list[str]] = {}
    for p in sim.products.values():
        by_aisle.setdefault(p.aisle, []).append(p.item_id)
    policy = same_aisle(by_aisle)
    completed = []
    for step in range(10):
        _, requests = sim.advance(60)
        for i, request in enumerate(requests):
            if (step + i) % 4 == 0:
                sim.expire(request)  # the shopper gave up: nothing delivered for the line
            else:
                sim.resolve(request, policy(sim, request))
        completed += sim.take_completed_orders()
    stats = sim.stats()
    assert len(completed) == stats["orders_completed"] > 0
    assert sum(order.perfect for order in completed) == stats["perfect_orders"]
    outcomes = [line.outcome for order in completed for line in order.lines]
    # the stats also count lines of orders still being picked
    for outcome, counted in [
        ("found", "found_lines"),
        ("substituted", "accepted"),
        ("refunded", "refunded"),
        ("rejected", "rejected"),
        ("missing", "unfilled"),
    ]:
        assert 0 < outcomes.count(outcome) <= stats[counted], outcome
    for order in completed:
        perfect = all(line.outcome in ("found", "substituted") for line in order.lines)
        assert order.perfect == perfect
        assert all(
            (line.substitute_id is None) == (line.outcome in ("found", "missing"))
            for line in order.lines
        )
    for order in completed:  # what the contract accepts
        decode_order(encode_order(order)[1])
