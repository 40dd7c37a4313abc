"""Per-customer taste offsets: they help once a customer's own feedback backs them, do no harm
before, agree across workers that learned the same log, and stay within their capacity."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.features import FEATURES, pair_features
from online_learning.logistic import sigmoid
from online_learning.personal import CustomerTastes, TastesConfig
from tests.conftest import milk

COL = {name: i for i, name in enumerate(FEATURES)}

# How the learner learns, at a moderate prior (shrink 6): these tests hold its mechanism (what
# it can pick up from how much evidence, and how fast). The shipped default (shrink 100) is
# chosen on the simulator's customers, where a weaker prior made replies worse
# (docs/evaluation.md, "Personal replies"); test_the_shipped_prior_* below holds that choice.
LEARNER = TastesConfig(shrink=6.0)


def row(**values: float) -> np.ndarray:
    x = np.zeros(len(FEATURES))
    for name, value in values.items():
        x[COL[name]] = value
    return x


SAME_BRAND = row(brand_match=1.0, kind_jaccard=1.0)
OTHER_BRAND = row(brand_differs=1.0, kind_jaccard=1.0)


# -- a synthetic world: half the customers brand loyal, half thrifty ---------------------------
def random_pair(rng: random.Random) -> np.ndarray:
    """A candidate row as the features give it: brand known or not, dearer or cheaper, ..."""
    u = rng.random()
    ratio = math.exp(rng.uniform(-0.4, 0.45))
    return row(
        name_jaccard=rng.random(),
        brand_match=float(u < 0.45),
        brand_differs=float(0.45 <= u < 0.9),
        price_log_ratio=math.log(ratio),
        price_up=max(ratio - 1.0, 0.0),
        size_log_ratio=abs(rng.gauss(0.0, 0.3)),
        tags_lost=float(rng.random() < 0.2),
        kind_jaccard=rng.uniform(0.3, 1.0),
    )


def loyal(x: np.ndarray) -> float:
    return 1.5 * x[COL["brand_match"]] - 1.5 * x[COL["brand_differs"]]


def thrifty(x: np.ndarray) -> float:
    return -6.0 * x[COL["price_up"]] - 1.0 * x[COL["price_log_ratio"]]


def shared(x: np.ndarray) -> float:
    return 0.3 + x[COL["kind_jaccard"]] - 0.8 * x[COL["size_log_ratio"]] - 0.6 * x[COL["tags_lost"]]


def log_loss(p: float, y: bool) -> float:
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return -math.log(p if y else 1.0 - p)


def held_out_losses(
    tastes: CustomerTastes, n_train: int, customers: int = 400, n_test: int = 150, seed: int = 1
) -> tuple[float, float]:
    """Mean held-out log loss of the population logit and of it plus personal offsets, after
    ``n_train`` events of each customer. The population knows the average taste exactly (as a
    pooled model would learn it); each customer has one of the two tastes and a willingness."""
    rng = random.Random(seed)
    population = personal = 0.0
    for c in range(customers):
        taste: Callable[[np.ndarray], float] = loyal if c % 2 else thrifty
        willingness = rng.gauss(0.0, 0.5)
        cid = f"c{c}"
        for i in range(n_train + n_test):
            x = random_pair(rng)
            base = shared(x) + 0.5 * (loyal(x) + thrifty(x))
            y = rng.random() < sigmoid(shared(x) + taste(x) + willingness)
            if i < n_train:
                tastes.learn_one(cid, x, y, base)
            else:
                population += log_loss(sigmoid(base), y)
                personal += log_loss(sigmoid(base + tastes.offset_one(cid, x)), y)
    n = max(customers * n_test, 1)
    return population / n, personal / n


def test_after_twenty_events_personal_offsets_beat_the_population_clearly() -> None:
    population, personal = held_out_losses(CustomerTastes(LEARNER), n_train=20)
    assert personal < population - 0.03, (population, personal)


@pytest.mark.parametrize("n_train", [0, 1, 2])
def test_with_little_evidence_personal_offsets_do_no_harm(n_train: int) -> None:
    population, personal = held_out_losses(CustomerTastes(LEARNER), n_train=n_train)
    assert personal <= population + 1e-3, (population, personal)


def test_the_full_matrix_beats_its_diagonal_on_correlated_tastes() -> None:
    _, full = held_out_losses(CustomerTastes(LEARNER), n_train=20, customers=200)
    _, diagonal = held_out_losses(CustomerTastes(replace(LEARNER, diagonal=True)), 20, 200)
    assert full < diagonal, (full, diagonal)


def test_loyal_customers_learn_brand_and_thrifty_ones_learn_price() -> None:
    tastes = CustomerTastes(LEARNER)
    held_out_losses(tastes, n_train=40, customers=100, n_test=0)
    dear = row(price_up=0.4, price_log_ratio=math.log(1.4), brand_differs=1.0)
    cheap_other = row(price_log_ratio=math.log(0.7), brand_differs=1.0)
    # loyal customers (odd ids) would sooner have their brand than another, whatever the price;
    # thrifty ones (even ids) mind a dearer candidate far more than loyal ones do
    loyal_gap = [
        tastes.offset_one(f"c{c}", SAME_BRAND) - tastes.offset_one(f"c{c}", OTHER_BRAND)
        for c in range(1, 100, 2)
    ]
    thrifty_gap = [
        tastes.offset_one(f"c{c}", SAME_BRAND) - tastes.offset_one(f"c{c}", OTHER_BRAND)
        for c in range(0, 100, 2)
    ]
    assert np.mean(loyal_gap) > np.mean(thrifty_gap) + 1.0
    price_cost = {
        c: tastes.offset_one(f"c{c}", cheap_other) - tastes.offset_one(f"c{c}", dear)
        for c in range(100)
    }
    assert np.mean([price_cost[c] for c in range(0, 100, 2)]) > np.mean(
        [price_cost[c] for c in range(1, 100, 2)]
    )


def test_on_the_engines_own_feature_rows_a_loyal_customer_gets_their_brand_first() -> None:
    """Rows as FeatureStore.pair_vector and a ranking's candidate matrix give them."""
    engine = SubstitutionEngine(
        products=[
            milk("whole", "Acme Whole Milk 1 gal", 3.99, "Acme"),
            milk("skim", "Acme Skim Milk 1 gal", 3.59, "Acme"),
            milk("whole-2", "Dairyco Whole Milk 1 gal", 3.89, "Dairyco"),
            milk("skim-2", "Dairyco Skim Milk 1 gal", 3.49, "Dairyco"),
        ],
        config=EngineConfig(tastes=None),
    )
    features = engine.features
    requested = engine.catalog.get("whole")
    assert requested is not None
    block = features.candidates(requested)
    matrix = block.with_history(requested.item_id, features.history)
    store_level = engine.model.predict_proba_matrix(matrix)
    # the store-level ranking prefers the other brand's whole milk to Acme's skim milk
    assert store_level[block.positions["whole-2"]] > store_level[block.positions["skim"]]
    tastes = CustomerTastes(LEARNER)
    for _ in range(15):
        for item_id, accepted in (("skim", True), ("whole-2", False), ("skim-2", False)):
            candidate = engine.catalog.get(item_id)
            assert candidate is not None
            row = features.pair_vector(requested, candidate)
            tastes.learn_one("ann", row, accepted, engine.model.logit_one(pair_features(row)))
    personal = tastes.offsets("ann", matrix)
    assert personal is not None
    for item_id, at in block.positions.items():
        candidate = engine.catalog.get(item_id)
        assert candidate is not None
        row = features.pair_vector(requested, candidate)
        assert tastes.offset_one("ann", row) == pytest.approx(personal[at])
    ann = engine.model.predict_proba_matrix(matrix, personal)
    assert ann[block.positions["skim"]] > ann[block.positions["whole-2"]]


# -- shrinkage and forgetting ------------------------------------------------------------------
def test_one_event_barely_moves_a_customer_and_many_move_them_far() -> None:
    tastes = CustomerTastes(replace(LEARNER, decay=1.0))
    tastes.learn_one("ann", OTHER_BRAND, False, base_logit=0.0)
    one = tastes.offset_one("ann", OTHER_BRAND)
    assert -0.5 < one < 0.0
    for _ in range(60):
        tastes.learn_one("ann", OTHER_BRAND, False, base_logit=0.0)
        tastes.learn_one("ann", SAME_BRAND, True, base_logit=0.0)
    assert tastes.offset_one("ann", OTHER_BRAND) < -1.5 < one
    assert tastes.offset_one("ann", SAME_BRAND) > 1.5
    assert tastes.evidence("ann") == pytest.approx(121.0)


def test_a_changed_taste_is_relearned() -> None:
    tastes = CustomerTastes(LEARNER)
    for _ in range(100):  # loyal first ...
        tastes.learn_one("ann", SAME_BRAND, True, base_logit=0.0)
        tastes.learn_one("ann", OTHER_BRAND, False, base_logit=0.0)
    assert tastes.offset_one("ann", SAME_BRAND) > tastes.offset_one("ann", OTHER_BRAND) + 2.0
    for _ in range(150):  # ... then tired of the brand
        tastes.learn_one("ann", SAME_BRAND, False, base_logit=0.0)
        tastes.learn_one("ann", OTHER_BRAND, True, base_logit=0.0)
    assert tastes.offset_one("ann", OTHER_BRAND) > tastes.offset_one("ann", SAME_BRAND) + 1.0
    assert tastes.evidence("ann") < 60  # about 50 events of memory at decay 0.98


def test_offsets_are_bounded_for_a_customer_who_refuses_everything() -> None:
    tastes = CustomerTastes(LEARNER)
    for _ in range(500):
        tastes.learn_one("never", SAME_BRAND, False, base_logit=2.0)
    out = tastes.offsets("never", np.stack([SAME_BRAND, OTHER_BRAND]))
    assert out is not None
    assert out[0] == -tastes.config.max_offset


# -- customers without state -------------------------------------------------------------------
def test_a_customer_with_no_state_gets_the_store_level_ranking() -> None:
    tastes = CustomerTastes(LEARNER)
    tastes.learn_one("ann", SAME_BRAND, True, base_logit=0.0)
    matrix = np.stack([SAME_BRAND, OTHER_BRAND])
    assert tastes.offsets("bob", matrix) is None
    assert tastes.offsets(None, matrix) is None  # feedback without a customer id
    assert tastes.offset_one("bob", SAME_BRAND) == 0.0
    assert tastes.evidence("bob") == 0.0 and tastes.weights("bob") is None
    assert "bob" not in tastes and "ann" in tastes and len(tastes) == 1


def test_a_bad_event_raises_and_leaves_no_state() -> None:
    tastes = CustomerTastes(LEARNER)
    with pytest.raises(ValueError):
        tastes.learn_one("ann", SAME_BRAND, True, base_logit=math.nan)
    bad = SAME_BRAND.copy()
    bad[COL["price_up"]] = math.inf
    with pytest.raises(ValueError):
        tastes.learn_one("ann", bad, True, base_logit=0.0)
    assert len(tastes) == 0 and tastes.n_learned == 0


def test_forget_drops_a_customer_and_their_row_is_reused() -> None:
    tastes = CustomerTastes(TastesConfig(capacity=2))
    tastes.learn_one("ann", SAME_BRAND, True, 0.0)
    tastes.learn_one("bob", SAME_BRAND, False, 0.0)
    assert tastes.forget("ann") and not tastes.forget("ann")
    tastes.learn_one("cat", SAME_BRAND, True, 0.0)
    assert sorted(c for c in ("ann", "bob", "cat") if c in tastes) == ["bob", "cat"]
    assert tastes.evidence("cat") == 1.0 and tastes.n_evicted == 0


# -- bounded memory ----------------------------------------------------------------------------
def test_at_capacity_the_least_recently_learned_customer_is_evicted() -> None:
    tastes = CustomerTastes(TastesConfig(capacity=3))
    for cid in ("a", "b", "c", "a"):  # a learns again: b is now the least recent
        tastes.learn_one(cid, SAME_BRAND, True, 0.0)
    assert tastes.offsets("b", SAME_BRAND[None, :]) is not None  # a read is not a use
    tastes.learn_one("d", SAME_BRAND, True, 0.0)
    assert len(tastes) == 3 and tastes.n_evicted == 1
    assert tastes.offsets("b", SAME_BRAND[None, :]) is None
    assert tastes.evidence("a") == pytest.approx(1.98)
    tastes.learn_one("b", SAME_BRAND, True, 0.0)  # back, from nothing; c goes
    assert tastes.evidence("b") == 1.0 and "c" not in tastes


def test_state_survives_the_arrays_growing_and_memory_is_reported() -> None:
    tastes = CustomerTastes(TastesConfig(capacity=5000))
    assert tastes.bytes_per_customer == 4 * 10 * 10 + 8 * (2 * 10 + 1)  # k = 10, intercept too
    tastes.learn_one("first", OTHER_BRAND, False, 0.0)
    before, first = tastes.memory_bytes(), tastes.offset_one("first", OTHER_BRAND)
    for i in range(3000):  # past the first allocation
        tastes.learn_one(f"c{i}", SAME_BRAND, True, 0.0)
    assert len(tastes) == 3001 and tastes.n_evicted == 0
    assert tastes.offset_one("first", OTHER_BRAND) == first
    assert tastes.memory_bytes() >= before + 3000 * tastes.bytes_per_customer


# -- determinism and consistency (properties) --------------------------------------------------
feature_rows = st.lists(
    st.floats(-3.0, 3.0, allow_nan=False), min_size=len(FEATURES), max_size=len(FEATURES)
).map(np.array)
events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        feature_rows,
        st.booleans(),
        st.floats(-4.0, 4.0, allow_nan=False),
    ),
    max_size=40,
)


@given(events, st.sampled_from([2, 3, 100]))
@settings(max_examples=60, deadline=None)
def test_two_workers_fed_the_same_log_agree(log: list, capacity: int) -> None:
    one, two = (CustomerTastes(TastesConfig(capacity=capacity)) for _ in range(2))
    for cid, x, y, base in log:
        one.learn_one(cid, x, y, base)
        one.offsets(cid, x[None, :])  # reads on one worker only: they change nothing
        two.learn_one(cid, x, y, base)
    assert one.digest() == two.digest()
    assert len(one) == len(two) <= capacity
    for cid in "abcde":
        assert one.weights(cid) == two.weights(cid)


@given(events, st.lists(feature_rows, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_a_matrix_scores_like_its_rows_and_within_the_bound(log: list, rows: list) -> None:
    tastes = CustomerTastes(LEARNER)
    for cid, x, y, base in log:
        tastes.learn_one(cid, x, y, base)
    matrix = np.stack(rows)
    for cid in "abcde":
        out = tastes.offsets(cid, matrix)
        if out is None:
            assert cid not in tastes
            continue
        assert np.all(np.abs(out) <= tastes.config.max_offset)
        assert out.tolist() == pytest.approx([tastes.offset_one(cid, r) for r in rows])


@given(events)
@settings(max_examples=60, deadline=None)
def test_flipping_every_outcome_and_base_flips_the_offsets(log: list) -> None:
    """Nothing favours accepting over refusing: the mirrored log learns the mirrored taste."""
    tastes, mirrored = CustomerTastes(LEARNER), CustomerTastes(LEARNER)
    for cid, x, y, base in log:
        tastes.learn_one(cid, x, y, base)
        mirrored.learn_one(cid, x, not y, -base)
    for cid, x, _, _ in log:
        assert mirrored.offset_one(cid, x) == pytest.approx(-tastes.offset_one(cid, x), abs=1e-9)


def test_config_rejects_what_it_cannot_learn() -> None:
    with pytest.raises(ValueError, match="unknown taste features"):
        TastesConfig(features=("brand_loyalty",))
    with pytest.raises(ValueError):
        TastesConfig(capacity=0)
    with pytest.raises(ValueError):
        TastesConfig(decay=1.5)


def test_the_shipped_prior_moves_a_customer_only_on_much_evidence() -> None:
    # The default wants much evidence before a taste moves a reply: after 5 events a
    # customer's offset stays under half the moderate learner's, after 200 it is well away
    # from 0.
    rng = np.random.default_rng(5)
    shipped, moderate = CustomerTastes(), CustomerTastes(LEARNER)
    row = np.zeros(len(FEATURES))
    row[FEATURES.index("brand_match")] = 1.0
    for n in range(200):
        x = row.copy()
        x[FEATURES.index("price_up")] = rng.uniform(0, 0.5)
        for tastes in (shipped, moderate):
            tastes.learn_one("c", x, accepted=True, base_logit=-1.0)
        if n == 4:
            early = abs(shipped.offset_one("c", row)), abs(moderate.offset_one("c", row))
    assert early[0] < 0.5 * early[1]
    assert shipped.offset_one("c", row) > 0.5


def reference_digest(tastes: CustomerTastes) -> str:
    """The digest as first defined, one customer at a time: snapshots written by earlier
    versions carry it, and a restore checks it, so the bytes hashed must never change."""
    h = hashlib.blake2b(digest_size=8)
    h.update(repr((tastes.n_learned, tastes.n_evicted, len(tastes._rows))).encode())
    h.update(tastes._moment.tobytes())
    for customer_id, r in tastes._rows.items():
        h.update(customer_id.encode())
        h.update(b"\x1f")
        h.update(tastes._hessian[r].tobytes())
        h.update(tastes._score[r].tobytes())
        h.update(tastes._evidence[r].tobytes())
    return h.hexdigest()


@given(events, st.sampled_from([2, 3, 100]))
@settings(max_examples=40, deadline=None)
def test_the_digest_hashes_the_same_bytes_and_follows_every_change(
    log: list, capacity: int
) -> None:
    tastes = CustomerTastes(TastesConfig(capacity=capacity))
    assert tastes.digest() == reference_digest(tastes)
    for cid, x, y, base in log:
        tastes.learn_one(cid, x, y, base)
        assert tastes.digest() == reference_digest(tastes)  # cached, yet never stale
    if log:
        tastes.forget(log[0][0])
        assert tastes.digest() == reference_digest(tastes)
    copy = CustomerTastes(TastesConfig(capacity=capacity))
    before = copy.digest()
    copy.load_state(tastes.state())
    assert copy.digest() == reference_digest(copy) == tastes.digest()
    assert log == [] or copy.digest() != before
