"""Hashed interaction weights: a cold start as the prior, learning that carries to unseen pairs,
the same scores on the ranking's and the learner's paths, and snapshots that keep them."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from online_learning.contract import Feedback, InventorySignal, Product
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.features import FEATURES, pair_features
from online_learning.interaction_keys import (
    AISLE_FEATURE_BINS,
    ItemKeys,
    PairKeys,
    PoolKeys,
    item_keys,
    pair_index,
)
from online_learning.interactions import InteractionConfig, InteractionWeights
from online_learning.logistic import sigmoid
from online_learning.model import RECORD_MIN_EVENTS, AcceptanceModel, record_is_better
from online_learning.snapshot import SnapshotError, engine_snapshot, restore_engine

# the interaction weights as the engine has them by default, without exploration or offsets
CONFIG = EngineConfig(
    explore_epsilon=0.0, effects=None, tastes=None, interactions=InteractionConfig()
)


def coffee(item_id: str, name: str, brand: str, price: float, tags: frozenset[str] = frozenset()):
    return Product(item_id, name, "coffee", "beverages", price, 12.0, "oz", brand, tags)


CATALOG = [
    coffee("c1", "Morning Roast Ground Coffee", "Acme", 8.0),
    coffee("c2", "Morning Roast Vanilla Ground Coffee", "Acme", 8.5),
    coffee("c3", "Dark Roast Ground Coffee", "Bolt", 7.5),
    coffee("c4", "House Blend Vanilla Ground Coffee", "Bolt", 8.0),
    coffee("c5", "House Blend Ground Coffee", "Crest", 8.2),
    coffee("c6", "Colombian Vanilla Whole Bean Coffee", "Crest", 9.0, frozenset({"organic"})),
    coffee("c7", "Colombian Whole Bean Coffee", "Dune", 9.1, frozenset({"organic"})),
    coffee("c8", "Italian Roast Vanilla Coffee", "Dune", 8.8),
    coffee("c9", "Breakfast Blend Coffee", "Echo", 7.9),
]


def engine(model: AcceptanceModel | None = None) -> SubstitutionEngine:
    return SubstitutionEngine(products=CATALOG, config=CONFIG, model=model, wall_clock=lambda: 0.0)


def item(e: SubstitutionEngine, item_id: str) -> Product:
    """The catalog's record (it adds tags the names imply, such as decaf's caffeine_free)."""
    product = e.catalog.get(item_id)
    assert product is not None
    return product


def p_of(e: SubstitutionEngine, requested: str, candidate: str) -> float:
    return e.p_accept(item(e, requested), item(e, candidate))


def all_p(e: SubstitutionEngine) -> list[float]:
    return [p_of(e, r.item_id, c.item_id) for r in CATALOG for c in CATALOG if r is not c]


def ranked_p(e: SubstitutionEngine, item_id: str, ts: float, store: str = "s") -> dict[str, float]:
    [ranking] = e.on_signal(InventorySignal(f"{store}-{item_id}", item_id, "not_found", ts))
    return {s.item_id: s.p_accept for s in ranking.substitutes}


def vanilla_is_refused(e: SubstitutionEngine, pairs: list[tuple[str, str]], rounds: int) -> None:
    """Customers who asked for regular coffee refuse vanilla, and accept the rest."""
    for _ in range(rounds):
        for requested, substitute in pairs:
            vanilla = "Vanilla" in item(e, substitute).name
            outcome = "rejected" if vanilla else "accepted"
            n = e.model.n_learned  # a new event id every time
            e.on_feedback(Feedback(f"e{n}", "s1", requested, substitute, outcome, float(n)))


# Feedback on some pairs only: c9 -> c8 (a vanilla) and c9 -> c5 are never in it.
TRAINING = [("c1", "c2"), ("c1", "c3"), ("c3", "c4"), ("c3", "c5"), ("c5", "c6"), ("c7", "c1")]


def test_a_cold_start_predicts_exactly_what_the_model_without_interactions_does() -> None:
    with_them, without = engine(), engine(AcceptanceModel(interactions=None))
    assert with_them.model.interactions is not None
    assert all_p(with_them) == all_p(without)
    assert ranked_p(with_them, "c1", 10.0) == ranked_p(without, "c1", 10.0)
    assert with_them.model_digest() != "" and with_them.model.interactions.touched == 0


def test_what_is_learned_on_some_pairs_carries_to_pairs_never_seen() -> None:
    e, linear = engine(), engine(AcceptanceModel(interactions=None))
    before = p_of(e, "c9", "c8"), p_of(e, "c9", "c5")
    for learner in (e, linear):
        vanilla_is_refused(learner, TRAINING, 15)
    vanilla, regular = p_of(e, "c9", "c8"), p_of(e, "c9", "c5")
    # The word "vanilla" in a candidate now counts against it, for a requested item (c9) and a
    # candidate (c8) no feedback named; the linear model has no feature that could say so.
    assert vanilla < before[0] and regular > before[1]
    assert vanilla < regular
    gap = regular - vanilla
    linear_gap = p_of(linear, "c9", "c5") - p_of(linear, "c9", "c8")
    assert gap > linear_gap


def test_a_ranking_scores_every_candidate_as_the_learner_scores_its_pair() -> None:
    e = engine()
    vanilla_is_refused(e, TRAINING, 5)
    for ts, requested in enumerate(("c9", "c1", "c6"), start=100):
        ranked = ranked_p(e, requested, float(ts))  # the pool's matrix, one product
        assert ranked
        for item_id, p in ranked.items():
            # the per-pair path: a cached candidate block's row
            assert p == pytest.approx(p_of(e, requested, item_id), abs=1e-12)
    # learning again: the cached blocks' scores follow the new weights
    vanilla_is_refused(e, [("c9", "c8"), ("c1", "c4")], 3)
    for ts, requested in enumerate(("c9", "c1"), start=200):
        for item_id, p in ranked_p(e, requested, float(ts), store="other").items():
            assert p == pytest.approx(p_of(e, requested, item_id), abs=1e-12)
    # and a pair with no cached block (another engine, same learned state): a one-row matrix
    fresh = engine()
    restore_engine(fresh, engine_snapshot(e, {}))
    for requested in ("c2", "c4"):
        for candidate in CATALOG:
            if candidate.item_id != requested:
                expected = p_of(e, requested, candidate.item_id)
                assert p_of(fresh, requested, candidate.item_id) == pytest.approx(
                    expected, abs=1e-12
                )


def test_the_interactions_column_is_the_sum_of_the_weights_and_counts_once() -> None:
    e = engine()
    vanilla_is_refused(e, TRAINING, 15)
    x = pair_features(e.features.pair_vector(item(e, "c9"), item(e, "c8")))
    assert x["interactions"] < 0.0
    assert e.model.interactions_count  # a taste no content feature names: their record wins
    weights, _ = e.model.coefficients()
    assert weights[FEATURES.index("interactions")] == 1.0  # counted once, never scaled


def p_without_interactions(e: SubstitutionEngine) -> list[float]:
    """Every pair's P(accept) from the same model with the interactions column left out."""
    out = []
    for r in CATALOG:
        for c in CATALOG:
            if r is not c:
                x = pair_features(e.features.pair_vector(item(e, r.item_id), item(e, c.item_id)))
                out.append(sigmoid(e.model.logit_one({**x, "interactions": 0.0})))
    return out


def test_the_interactions_count_only_while_their_record_beats_the_model_without_them() -> None:
    e, linear = engine(), engine(AcceptanceModel(interactions=None))
    assert not e.model.interactions_count  # nothing learned yet: they do not count
    counted = []

    def learn(pairs: list[tuple[str, str]], refused: str) -> None:
        for requested, substitute in pairs:
            outcome = "rejected" if refused in item(e, substitute).name else "accepted"
            for learner in (e, linear):
                n = learner.model.n_learned
                learner.on_feedback(
                    Feedback(f"e{n}", "s1", requested, substitute, outcome, float(n))
                )
            counted.append(e.model.interactions_count)
            loss_without, loss_with, _, n = e.model.record
            assert counted[-1] == record_is_better(e.model.record)
            assert not counted[-1] or (loss_with < loss_without and n >= RECORD_MIN_EVENTS)
            if not counted[-1]:  # not counted: every prediction leaves them out
                assert all_p(e) == pytest.approx(p_without_interactions(e), abs=1e-12)

    for _ in range(15):
        learn(TRAINING, refused="Vanilla")  # a taste no content feature names: they win
    assert counted[-1] and p_of(e, "c9", "c8") < p_of(linear, "c9", "c8")
    for _ in range(15):  # tastes turn: every substitute is accepted, vanilla too
        learn(TRAINING, refused="(none)")
    assert False in counted[90:]  # what they had learned mispredicted: they stopped counting


def test_while_the_interactions_do_not_count_rankings_neither_key_nor_score_the_pool() -> None:
    # The model weighs the interactions column 0 until their record is clearly the better: a
    # ranking then leaves the column at 0 and builds no keys, and ranks exactly as if it had
    # filled it. Learning still keys its pairs; once the interactions count, rankings do too.
    e = engine()
    vanilla_is_refused(e, TRAINING, 5)
    model, weights = e.model, e.model.interactions
    assert weights is not None and weights.touched > 0
    model.record = [50.0, 100.0, 26.0, 100.0]  # clearly worse with them
    assert not model.interactions_count and model.estimator._weights["interactions"] == 0.0
    ranked = ranked_p(e, "c9", 100.0)
    block = e.features.candidates(item(e, "c9"))
    assert ranked and block.built_keys is None
    rows = np.flatnonzero(block.allowed)
    skipped = block.with_history("c9", e.features.history, rows, interactions_count=False)
    filled = block.with_history("c9", e.features.history, rows, interactions_count=True)
    assert block.built_keys is not None
    assert filled[:, FEATURES.index("interactions")].any()  # scored: not all 0
    assert not skipped[:, FEATURES.index("interactions")].any()
    np.testing.assert_array_equal(
        model.predict_proba_matrix(skipped), model.predict_proba_matrix(filled)
    )
    # learning from a pair of a block whose keys are not built keys that one pair alone
    fresh_block = e.features.candidates(item(e, "c4"))
    assert fresh_block.built_keys is None
    e.on_feedback(Feedback("one more", "s1", "c4", "c3", "accepted", 101.0))
    assert fresh_block.built_keys is None and weights.n_learned > 0
    # counted: a ranking keys and scores its pool
    model.record = [100.0, 50.0, 26.0, 100.0]
    model.estimator._weights["interactions"] = 1.0
    assert model.interactions_count
    ranked_p(e, "c4", 102.0, store="other")
    assert fresh_block.built_keys is not None


@pytest.mark.parametrize("counted", [True, False])
def test_river_s_weights_step_on_the_prediction_as_it_was_made(counted: bool) -> None:
    # Jointly with the interactions while they count, alone while they do not.
    e = engine()
    vanilla_is_refused(e, TRAINING, 5)
    model = e.model
    # 100 events, each about 0.5 better with them (or worse): clearly one way
    better, worse = 100.0, 50.0
    model.record = [better, worse, 26.0, 100.0] if counted else [worse, better, 26.0, 100.0]
    assert model.interactions_count == counted
    model.estimator._weights["interactions"] = 1.0 if counted else 0.0
    x, keys = e.features.pair_row(item(e, "c1"), item(e, "c4"))
    features = pair_features(x)
    assert features["interactions"] != 0.0
    river = copy.deepcopy(model.estimator)
    river.learn_one(features if counted else {**features, "interactions": 0.0}, False)
    model.learn_one(features, False, keys)
    names = set(river._weights) - {"interactions"}
    assert {n: model.estimator._weights[n] for n in names} == {n: river._weights[n] for n in names}
    assert model.estimator.intercept == river.intercept


def test_a_snapshot_keeps_the_interaction_weights_and_refuses_another_configuration() -> None:
    e = engine()
    vanilla_is_refused(e, TRAINING, 5)
    data = engine_snapshot(e, {"offset": 1})
    restored = engine()
    assert restore_engine(restored, data) == {"offset": 1}
    assert restored.model_digest() == e.model_digest()
    assert all_p(restored) == all_p(e)
    for other in (
        AcceptanceModel(interactions=None),
        AcceptanceModel(interactions=InteractionConfig(bits=12)),
    ):
        with pytest.raises(SnapshotError, match="another learning configuration"):
            restore_engine(engine(other), data)


def test_the_digest_tells_apart_models_that_differ_only_in_interaction_weights() -> None:
    a, b = engine(), engine()
    vanilla_is_refused(a, TRAINING, 2)
    vanilla_is_refused(b, TRAINING, 2)
    assert a.model_digest() == b.model_digest()
    assert b.model.interactions is not None
    b.model.interactions.weights[5] += 0.5
    b.model.interactions._n[5] = 1.0
    assert a.model_digest() != b.model_digest()


def test_weights_state_round_trips_and_a_misfit_is_refused() -> None:
    w = InteractionWeights(InteractionConfig(bits=8))
    keys = np.array([1, 2, 256], dtype=np.int32)  # 256: padding, never learns
    for gradient in (-0.4, 0.3, -0.2):
        w.learn(keys, gradient)
    assert w.weights[256] == 0.0 and w.touched == 2
    copy = InteractionWeights(InteractionConfig(bits=8))
    copy.load_state(w.state())
    assert copy.digest() == w.digest() and copy.score(keys) == w.score(keys)
    small = InteractionWeights(InteractionConfig(bits=8))
    bad = {**w.state(), "slots": np.array([1, 300])}
    with pytest.raises(ValueError, match="does not fit"):
        small.load_state(bad)


def test_a_pools_keys_are_the_same_built_from_tables_as_mixed_pair_by_pair() -> None:
    # Ranking builds a pool's keys from per-vocabulary tables; a few rows (learning) mix each
    # pair's keys. Both must give the very same slots, or a pair would learn one weight and be
    # ranked by another.
    from online_learning.offline.instacart import load_instacart_products

    products = [p for p in load_instacart_products() if p.aisle == "yogurt"][:120]
    e = SubstitutionEngine(products=products, config=CONFIG, wall_clock=lambda: 0.0)
    store = e.features
    for requested in products[:6]:
        matrix = store.matrix(requested)
        req = store.row(requested)
        rows = np.arange(len(matrix))
        content = matrix.pair_matrix(req, rows, with_history=False)
        whole = matrix.key_index(req, rows, content, 20)  # tables: many rows
        assert whole.shape[0] == len(matrix) >= 16
        for at in range(0, len(matrix), 7):
            one = matrix.key_index(req, rows[at : at + 1], content[at : at + 1], 20)[0]
            np.testing.assert_array_equal(whole[at], one)


def test_a_pools_factored_scores_are_the_key_by_key_sums_the_learner_reads() -> None:
    # A ranking sums a row's weights part by part (a candidate word's weight over every
    # requested word at once); the learner sums its pair's keys one by one. With every slot
    # holding a weight, both must agree for every row of real pools.
    from online_learning.offline.instacart import load_instacart_products

    products = [p for p in load_instacart_products() if p.aisle in ("yogurt", "coffee")][:300]
    e = SubstitutionEngine(products=products, config=CONFIG, wall_clock=lambda: 0.0)
    weights = e.model.interactions
    assert weights is not None
    weights.weights[:-1] = np.random.default_rng(1).normal(0.0, 0.1, weights.size)
    for requested in products[::37]:
        block = e.features.candidates(requested)
        assert block.keys is not None and len(block.keys) == len(block.ids) >= 16
        index = block.keys.index()
        matrix = e.features.matrix(requested)
        rows = np.arange(len(matrix))
        direct = matrix.key_index(e.features.row(requested), rows, block.content, 20)
        np.testing.assert_array_equal(index, direct)
        np.testing.assert_allclose(
            block.keys.scores(weights.weights), weights.scores(index), rtol=0, atol=1e-12
        )
        for at in (0, len(rows) // 2, len(rows) - 1):
            np.testing.assert_array_equal(block.keys.index(np.array([at]))[0], index[at])
            np.testing.assert_array_equal(block.keys.row(at), index[at])


def test_the_one_pair_and_the_table_paths_bin_any_feature_value_alike() -> None:
    # The learner's one pair is keyed in Python, a pool through NumPy tables: a value out of
    # range, infinite or not a number must land in the same bin on both (the edge bins).
    def keys(item_id: str, name: str, brand: str | None) -> ItemKeys:
        return item_keys(Product(item_id, name, "milk", "dairy", 2.0, brand=brand))

    pool = PoolKeys([keys("1", "Acme Whole Milk", "Acme"), keys("2", "Oat Milk", None)])
    req = keys("0", "Acme Skim Milk", "Acme")
    columns = list(range(len(AISLE_FEATURE_BINS)))
    for value in (0.37, 0.125, -0.625, 5.0, -40.0, float("inf"), float("-inf"), float("nan")):
        content = np.full((2, len(AISLE_FEATURE_BINS)), value)
        table = PairKeys(req, pool, None, content, columns, 16).index()
        for row in (0, 1):
            rows = np.array([row])
            one = pair_index(req, pool, rows, content[rows], columns, 16)[0]
            np.testing.assert_array_equal(table[row], one, err_msg=str(value))


def test_every_path_gives_the_same_keys_on_odd_products() -> None:
    # Names with no words left, no brand, up to three tags, feature values out of range or not
    # a number, pools of 1 to 40 and subsets of their rows: the factored tables, their rows,
    # the one-pair path and the scores agree on every one.
    rng = random.Random(0)
    words = ["oat", "milk", "vanilla", "decaf", "roast", "the", "12", "oz", "mini"]
    tags = ["organic", "vegan", "gluten_free", "caffeine_free"]
    values = [0.0, 0.3, -1.2, 9.0, float("nan"), float("inf")]
    columns = list(range(len(AISLE_FEATURE_BINS)))

    def product(item_id: int) -> ItemKeys:
        name = " ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) or "x"
        brand = rng.choice([None, "Acme", "Best"])
        tagged = frozenset(rng.sample(tags, rng.randint(0, 3)))
        aisle = rng.choice(["milk", "coffee"])
        return item_keys(Product(str(item_id), name, aisle, "dairy", 2.0, brand=brand, tags=tagged))

    for trial in range(60):
        n = rng.randint(1, 40)
        pool = PoolKeys([product(i) for i in range(n)])
        req = product(-1)
        content = np.array([[rng.choice(values) for _ in columns] for _ in range(n)])
        keys = PairKeys(req, pool, None, content, columns, 10)
        index = keys.index()
        for row in range(n):
            rows = np.array([row])
            one = pair_index(req, pool, rows, content[rows], columns, 10)[0]
            np.testing.assert_array_equal(one, index[row], err_msg=f"trial {trial}")
            np.testing.assert_array_equal(keys.row(row), index[row])
        weights = np.random.default_rng(trial).normal(size=(1 << 10) + 1)
        weights[-1] = 0.0  # the padding slot
        np.testing.assert_allclose(keys.scores(weights), weights[index].sum(axis=1), atol=1e-12)
        subset = np.array(sorted(rng.sample(range(n), rng.randint(1, n))))
        part = PairKeys(req, pool, subset, content[subset], columns, 10)
        np.testing.assert_array_equal(part.index(), index[subset])


def test_a_word_lost_or_gained_shares_one_key_across_aisles() -> None:
    # "Strawberry" lost in yogurt and lost in ice cream: the same lw key (what one aisle
    # teaches carries to the other), different lt keys (each aisle's own say).
    def keys(aisle: str, requested: str, candidate: str) -> set[int]:
        req = item_keys(Product("r", requested, aisle, "dairy", 2.0))
        pool = PoolKeys([item_keys(Product("c", candidate, aisle, "dairy", 2.0))])
        content = np.zeros((1, len(AISLE_FEATURE_BINS)))
        index = pair_index(req, pool, None, content, range(len(AISLE_FEATURE_BINS)), 20)
        return set(index[0].tolist()) - {1 << 20}

    yogurt = keys("yogurt", "Strawberry Yogurt", "Peach Yogurt")
    ice_cream = keys("ice cream", "Strawberry Ice Cream", "Peach Ice Cream")
    kept = keys("ice cream", "Strawberry Ice Cream", "Strawberry Peach Ice Cream")
    lost_anywhere = yogurt & ice_cream
    # the tt key (strawberry, peach), lw (strawberry lost) and gw (peach gained)
    assert len(lost_anywhere) == 3
    assert lost_anywhere - kept and len(lost_anywhere - kept) == 1  # kept: no lw key
    # Peach gained, whatever was asked for in whichever aisle: one gw key; none once asked for.
    gained = keys("yogurt", "Vanilla Yogurt", "Peach Yogurt") & ice_cream
    assert len(gained) == 1
    asked = keys("ice cream", "Peach Ice Cream", "Peach Vanilla Ice Cream")
    assert not gained & asked


def test_a_pair_s_score_is_the_same_bits_whatever_its_padding_and_key_order() -> None:
    # A cached block's row carries as much padding as its pool's longest name needs, a pair
    # keyed alone only its own: learning must read the same score from both (a restarted
    # worker and a full replay end with the same digest only so).
    w = InteractionWeights(InteractionConfig(bits=10))
    rng = np.random.default_rng(3)
    w.weights[:-1] = rng.normal(0.0, 0.3, w.size)
    keys = rng.integers(0, w.size, 61).astype(np.int32)
    padded = np.concatenate([keys, np.full(37, w.size, dtype=np.int32)])
    shuffled = rng.permutation(padded)
    assert w.score(keys) == w.score(padded) == w.score(shuffled)
