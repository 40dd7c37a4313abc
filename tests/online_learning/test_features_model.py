"""Pair features (one pair and a whole aisle at once) and the acceptance model built on them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from online_learning.catalog import Catalog
from online_learning.contract import DemandSummary, Product
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.features import (
    FEATURES,
    AisleMatrix,
    FeatureStore,
    TagVocabulary,
    pair_features,
)
from online_learning.model import PRIOR_WEIGHTS, AcceptanceModel
from online_learning.rules import HardRules

RULES = HardRules()

REQUESTED = Product(
    "milk-whole-gal",
    "Acme Whole Milk 1 gal",
    "milk",
    "dairy eggs",
    price=4.0,
    size=1.0,
    unit="gal",
    brand="acme",
    tags=frozenset({"gluten_free", "organic"}),
)
CANDIDATE = Product(
    "milk-skim-half",
    "Acme Skim Milk 64 fl oz",
    "milk",
    "dairy eggs",
    price=2.0,
    size=64.0,
    unit="fl_oz",
    brand="acme",
    tags=frozenset({"organic"}),
)

MILK_AISLE = [
    REQUESTED,
    CANDIDATE,
    Product(
        "milk-2pct-gal", "Acme Reduced Fat Milk 1 gal", "milk", "dairy eggs", 3.9, brand="acme"
    ),
    Product("milk-dl-half", "Dairyland Whole Milk 64 fl oz", "milk", "dairy eggs", 2.49),
    Product("oat-gf", "Oatly Gluten Free Oat Milk 64 fl oz", "milk", "dairy eggs", 4.49),
    Product("oat", "Oatside Oat Milk", "milk", "dairy eggs"),  # no size, no price
    Product("goat", "Goat Milk 1 qt", "milk", "dairy eggs", 100.0, 1.0, "qt", "meadow"),
    Product("kefir", "Kefir", "milk", "dairy eggs", 0.05, size=12.0, unit="ct"),
]


def store(popularity: dict[str, int] | None = None) -> FeatureStore:
    return FeatureStore(Catalog(MILK_AISLE), RULES, popularity)


def features_of(
    requested: Product, candidate: Product, popularity: dict[str, int] | None = None
) -> dict[str, float]:
    return pair_features(store(popularity).pair_vector(requested, candidate))


def test_feature_names_and_order_are_the_contract_with_the_model() -> None:
    assert FEATURES == (
        "name_jaccard",
        "brand_match",
        "brand_differs",
        "size_log_ratio",
        "size_unknown",
        "price_log_ratio",
        "tag_jaccard",
        "tags_lost",
        "popularity",
        "item_history",
        "pair_history",
        "kind_jaccard",
        "fat_distance",
        "fat_unknown",
        "price_up",
        "interactions",
    )
    assert set(PRIOR_WEIGHTS) == set(FEATURES)


def test_pair_matrix_has_one_row_per_candidate_and_one_column_per_feature() -> None:
    fs = store()
    matrix = fs.matrix(REQUESTED)
    assert len(matrix) == len(MILK_AISLE)
    assert matrix.pair_matrix(fs.row(REQUESTED)).shape == (len(MILK_AISLE), len(FEATURES))
    empty = AisleMatrix([], {}, TagVocabulary(), RULES)
    assert empty.pair_matrix(fs.row(REQUESTED)).shape == (0, len(FEATURES))
    assert empty.rule_mask(REQUESTED, RULES).shape == (0,)


def test_known_values_for_a_hand_made_pair() -> None:
    x = features_of(REQUESTED, CANDIDATE, popularity={CANDIDATE.item_id: 99, "other": 9999})
    # tokens {acme, whole, milk, 1, gal} vs {acme, skim, milk, 64, fl, oz}: 2 shared of 9
    assert x["name_jaccard"] == pytest.approx(2 / 9)
    assert x["brand_match"] == 1.0
    assert x["brand_differs"] == 0.0
    # 64 fl oz is half a gallon, to the precision of the unit factors
    assert x["size_log_ratio"] == pytest.approx(math.log(3785.41 / (64 * 29.5735)))
    assert x["size_log_ratio"] == pytest.approx(math.log(2), abs=1e-5)
    assert x["size_unknown"] == 0.0
    assert x["price_log_ratio"] == pytest.approx(math.log(2.0 / 4.0))
    assert x["tag_jaccard"] == pytest.approx(1 / 2)  # {organic} of {organic, gluten_free}
    assert x["tags_lost"] == 1.0  # gluten_free
    assert x["popularity"] == pytest.approx(math.log(100) / math.log(10000))


def test_a_different_brand_and_unknown_size_and_price() -> None:
    oat = next(p for p in MILK_AISLE if p.item_id == "oat")
    x = features_of(REQUESTED, oat)
    assert (x["brand_match"], x["brand_differs"]) == (0.0, 0.0)  # oat has no brand: unknown
    assert (x["size_log_ratio"], x["size_unknown"]) == (0.0, 1.0)
    assert x["price_log_ratio"] == 0.0
    assert x["tags_lost"] == 2.0
    assert x["tag_jaccard"] == 0.0
    assert x["popularity"] == 0.0

    goat = next(p for p in MILK_AISLE if p.item_id == "goat")
    x = features_of(REQUESTED, goat)
    assert (x["brand_match"], x["brand_differs"]) == (0.0, 1.0)
    assert x["size_log_ratio"] == pytest.approx(math.log(4), abs=1e-5)  # a quart is a quarter
    assert x["price_log_ratio"] == 2.0  # 25 times the price, clipped


def test_sizes_in_different_dimensions_are_unknown_not_compared() -> None:
    kefir = next(p for p in MILK_AISLE if p.item_id == "kefir")  # 12 ct against 1 gal
    x = features_of(REQUESTED, kefir)
    assert (x["size_log_ratio"], x["size_unknown"]) == (0.0, 1.0)
    assert x["price_log_ratio"] == -2.0  # clipped


def test_an_item_against_itself_looks_identical() -> None:
    x = features_of(REQUESTED, REQUESTED)
    assert x["name_jaccard"] == 1.0
    assert x["brand_match"] == 1.0
    assert x["size_log_ratio"] == 0.0
    assert x["price_log_ratio"] == 0.0
    assert x["tag_jaccard"] == 1.0
    assert x["tags_lost"] == 0.0


def test_two_untagged_items_agree_fully_on_tags() -> None:
    a = Product("a", "Plain Milk", "milk", "dairy eggs")
    b = Product("b", "Other Milk", "milk", "dairy eggs")
    assert features_of(a, b)["tag_jaccard"] == 1.0


@pytest.mark.parametrize("requested_id", [p.item_id for p in MILK_AISLE])
def test_pair_vector_is_the_row_of_the_aisle_matrix(requested_id: str) -> None:
    fs = store({"milk-dl-half": 50, "oat": 5})
    requested = fs.catalog.get(requested_id)
    assert requested is not None
    matrix = fs.matrix(requested)
    pair = matrix.pair_matrix(fs.row(requested))
    for i, candidate_id in enumerate(matrix.ids):
        candidate = fs.catalog.get(candidate_id)
        assert candidate is not None
        np.testing.assert_allclose(
            fs.pair_vector(requested, candidate), pair[i], rtol=0, atol=1e-12
        )


def test_a_requested_item_outside_the_aisle_gets_the_same_numbers() -> None:
    fs = store()
    outsider = Product("x", "Acme Chocolate Milk 1 gal", "milk", "dairy eggs", 4.2, brand="acme")
    pair = fs.matrix(outsider).pair_matrix(fs.row(outsider))
    for i, candidate_id in enumerate(fs.matrix(outsider).ids):
        candidate = fs.catalog.get(candidate_id)
        assert candidate is not None
        np.testing.assert_allclose(fs.pair_vector(outsider, candidate), pair[i], atol=1e-12)


def test_the_aisle_matrix_is_rebuilt_when_the_catalog_changes() -> None:
    catalog = Catalog(MILK_AISLE)
    fs = FeatureStore(catalog, RULES)
    before = fs.matrix(REQUESTED)
    assert fs.matrix(REQUESTED) is before  # cached
    catalog.upsert(Product("new", "Acme Whole Milk Half Gallon", "milk", "dairy eggs"))
    after = fs.matrix(REQUESTED)
    assert "new" in after.ids
    assert len(after) == len(before) + 1


def test_warming_builds_each_pool_once_one_at_a_time() -> None:
    cereal = Product("c1", "Oat Crunch Cereal", "cereal", "breakfast")
    catalog = Catalog([*MILK_AISLE, cereal])
    fs = FeatureStore(catalog, RULES)
    warming = fs.warm_pools(step_rows=2)
    steps = [next(warming), next(warming)]  # names parsed two at a time, no pool built yet
    assert steps == [None, None] and not fs._matrices and len(fs._rows) == 4
    while (first := next(warming)) is None:
        pass
    assert len(fs._matrices) == 1  # one pool built, the other not yet
    assert sorted([first, *(key for key in warming if key is not None)]) == ["cereal", "milk"]
    built = fs.matrix(REQUESTED), fs.matrix(cereal)
    assert fs.matrix(REQUESTED) is built[0] and fs.matrix(cereal) is built[1]  # cached
    assert fs.warm() == 2


# --- the model ------------------------------------------------------------------------------------


def random_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Feature rows in the ranges the features really take."""
    rows = np.column_stack(
        [
            rng.uniform(0, 1, n),  # name_jaccard
            rng.integers(0, 2, n),  # brand_match
            rng.integers(0, 2, n),  # brand_differs
            rng.uniform(0, 3, n),  # size_log_ratio
            rng.integers(0, 2, n),  # size_unknown
            rng.uniform(-2, 2, n),  # price_log_ratio
            rng.uniform(0, 1, n),  # tag_jaccard
            rng.integers(0, 4, n),  # tags_lost
            rng.uniform(0, 1, n),  # popularity
            rng.uniform(-3, 3, n),  # item_history
            rng.uniform(-3, 3, n),  # pair_history
            rng.uniform(0, 1, n),  # kind_jaccard
            rng.integers(0, 4, n),  # fat_distance
            rng.integers(0, 2, n),  # fat_unknown
            rng.uniform(0, 3, n),  # price_up
            rng.uniform(-2, 2, n),  # interactions (a sum of learned weights)
        ]
    ).astype(np.float64)
    assert rows.shape[1] == len(FEATURES)
    return rows


def assert_matrix_matches_river(model: AcceptanceModel, rows: np.ndarray) -> None:
    vectorised = model.predict_proba_matrix(rows)
    one_by_one = [model.estimator.predict_proba_one(pair_features(row))[True] for row in rows]
    np.testing.assert_allclose(vectorised, one_by_one, rtol=0, atol=1e-9)
    # and the wrapper says the same as River
    assert [model.predict_proba_one(pair_features(row)) for row in rows] == one_by_one


def test_vectorised_scores_equal_river_at_the_prior() -> None:
    rng = np.random.default_rng(7)
    assert_matrix_matches_river(AcceptanceModel(), random_rows(rng, 200))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_scores_equal_river_after_learning(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = AcceptanceModel(learning_rate=0.1, l2=0.001 * seed)
    for row, label in zip(random_rows(rng, 300), rng.integers(0, 2, 300), strict=True):
        model.learn_one(pair_features(row), bool(label))
    assert model.n_learned == 300
    assert_matrix_matches_river(model, random_rows(rng, 200))


def test_vectorised_scores_equal_river_from_a_partial_prior() -> None:
    # Features the prior leaves out start at weight 0 on both paths.
    rng = np.random.default_rng(3)
    model = AcceptanceModel(prior_weights={"name_jaccard": 2.0}, prior_intercept=-0.5)
    assert_matrix_matches_river(model, random_rows(rng, 50))
    for row in random_rows(rng, 20):
        model.learn_one({"name_jaccard": float(row[0])}, True)
    assert_matrix_matches_river(model, random_rows(rng, 50))


def test_extreme_logits_still_agree() -> None:
    model = AcceptanceModel(prior_weights=dict.fromkeys(FEATURES, 40.0))
    rows = np.array([[1.0] * len(FEATURES), [-1.0] * len(FEATURES)])
    assert_matrix_matches_river(model, rows)


def test_unknown_prior_features_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown features: \\['colour'\\]"):
        AcceptanceModel(prior_weights={"colour": 1.0})


def test_rejections_lower_p_and_acceptances_raise_it() -> None:
    x = features_of(REQUESTED, CANDIDATE)
    rejecting, accepting = AcceptanceModel(), AcceptanceModel()
    start = rejecting.predict_proba_one(x)
    rejecting.learn_one(x, False)
    accepting.learn_one(x, True)
    assert rejecting.predict_proba_one(x) < start < accepting.predict_proba_one(x)
    for _ in range(50):
        rejecting.learn_one(x, False)
        accepting.learn_one(x, True)
    assert rejecting.predict_proba_one(x) < 0.2
    assert accepting.predict_proba_one(x) > 0.8
    assert rejecting.version != AcceptanceModel().version  # rankings can tell models apart


def test_the_cold_start_prior_prefers_a_close_lookalike() -> None:
    fs = store()
    close = Product(
        "milk-whole-gal-2",
        "Acme Whole Milk 1 gal",
        "milk",
        "dairy eggs",
        4.1,
        1.0,
        "gal",
        "acme",
        frozenset({"gluten_free", "organic"}),
    )
    far = Product(
        "chai",
        "Spiced Chai Oat Drink 12 fl oz",
        "milk",
        "dairy eggs",
        6.0,
        12.0,
        "fl_oz",
        "brewco",
        frozenset(),
    )
    model = AcceptanceModel()
    p_close = model.predict_proba_one(pair_features(fs.pair_vector(REQUESTED, close)))
    p_far = model.predict_proba_one(pair_features(fs.pair_vector(REQUESTED, far)))
    assert p_close > 0.5 > p_far
    assert p_close - p_far > 0.4


def test_history_features_are_zero_before_feedback_and_follow_it() -> None:
    fs = store()
    # As stored (enriched with tags from their names), like the engine passes them.
    requested, candidate, other = (fs.catalog.get(p.item_id) for p in MILK_AISLE[:3])
    assert requested is not None and candidate is not None and other is not None
    before = pair_features(fs.pair_vector(requested, candidate))
    assert before["item_history"] == 0.0 and before["pair_history"] == 0.0
    for _ in range(4):
        fs.history.update(requested.item_id, candidate.item_id, False)
    fs.history.update(other.item_id, candidate.item_id, True)
    after = pair_features(fs.pair_vector(requested, candidate))
    assert after["pair_history"] == pytest.approx(math.log(1 / 5))  # 0 of 4 accepted
    assert after["item_history"] == pytest.approx(math.log(2 / 5))  # 1 of 5 accepted
    # The ranking path (the aisle matrix) sees the same numbers as the learning path.
    matrix = fs.matrix(requested)
    row = matrix.pair_matrix(fs.row(requested))[matrix.index[candidate.item_id]]
    np.testing.assert_allclose(row, fs.pair_vector(requested, candidate), atol=1e-12)


def test_a_candidate_block_reads_the_same_history_as_the_aisle_matrix() -> None:
    fs = store()
    requested = fs.catalog.get(REQUESTED.item_id)
    assert requested is not None
    block = fs.candidates(requested)  # built before any feedback: codes assigned up front
    ids = list(block.ids)
    for i, candidate_id in enumerate(ids * 3):
        fs.history.update(requested.item_id, candidate_id, i % 3 == 0)
        fs.history.update("someone-else", candidate_id, True)
    fs.history.update(requested.item_id, "not-in-this-aisle", True)
    matrix = fs.matrix(requested)
    full = matrix.pair_matrix(fs.row(requested))
    expected = full[[matrix.index[i] for i in ids]]
    np.testing.assert_allclose(block.with_history(requested.item_id, fs.history), expected)
    assert np.count_nonzero(expected[:, FEATURES.index("item_history")]) > 0


def test_a_blocks_rows_are_its_pool_with_the_rule_passing_ones_marked() -> None:
    fs = store({CANDIDATE.item_id: 9})
    requested = fs.catalog.get(REQUESTED.item_id)
    assert requested is not None
    block = fs.candidates(requested)
    matrix = fs.matrix(requested)
    assert block.ids == matrix.ids
    passing = tuple(
        item_id
        for item_id in matrix.ids
        if (candidate := fs.catalog.get(item_id)) is not None
        and item_id != requested.item_id
        and fs.rules.violation(requested, candidate) is None
    )
    assert block.candidate_ids == passing and block.n_allowed == len(passing)
    assert requested.item_id not in block.candidate_ids
    for i, candidate_id in enumerate(block.ids * 2):
        fs.history.update(requested.item_id, candidate_id, i % 2 == 0)
    everything = block.with_history(requested.item_id, fs.history)
    rows = np.flatnonzero(block.allowed)[::-1]  # any rows, in any order
    np.testing.assert_array_equal(
        block.with_history(requested.item_id, fs.history, rows), everything[rows]
    )


def test_a_cached_candidate_block_reads_the_popularity_of_now() -> None:
    fs = store({CANDIDATE.item_id: 99, "milk-2pct-gal": 9})
    requested = fs.catalog.get("milk-dl-half")  # candidates: skim, 2%, oat, kefir
    assert requested is not None
    block = fs.candidates(requested)  # built, and cached, with the seeds alone
    column = FEATURES.index("popularity")
    before = block.with_history(requested.item_id, fs.history)[:, column].copy()
    fs.popularity.apply(DemandSummary(1_700_000_000.0, (("oat", 10**6), ("kefir", 10))))
    assert fs.candidates(requested) is block  # the catalog did not change: same block
    now = block.with_history(requested.item_id, fs.history)
    matrix = fs.matrix(requested)
    expected = matrix.pair_matrix(fs.row(requested))[[matrix.index[i] for i in block.ids]]
    np.testing.assert_allclose(now, expected)  # the learning path reads the same numbers
    assert not np.array_equal(now[:, column], before)
    assert now[block.positions["oat"], column] > before[block.positions["oat"]]


def test_a_pass_that_does_not_keep_blocks_leaves_the_block_cache_alone() -> None:
    fs = store()
    requested = fs.catalog.get(REQUESTED.item_id)
    assert requested is not None
    scanned = fs.candidates(requested, keep=False)
    assert requested.item_id not in fs._blocks
    assert fs.candidates(requested, keep=False) is scanned  # reused for the next store
    assert fs.candidates(requested) is scanned  # and the normal path may keep it
    assert requested.item_id in fs._blocks


def test_the_block_cache_keeps_the_most_recently_ranked_items_up_to_its_size() -> None:
    engine = SubstitutionEngine(products=MILK_AISLE, config=EngineConfig(candidate_cache=2))
    items = [p for p in MILK_AISLE if engine.features.candidates(p, keep=False).candidate_ids][:3]
    assert len(items) == 3, "the test catalog needs three items with candidates"
    first, second, third = items
    block = engine.features.candidates(first)
    engine.features.candidates(second)
    assert engine.features.candidates(first) is block  # cached: the same block, not rebuilt
    engine.features.candidates(third)  # evicts the least recently used: second
    assert list(engine.features._blocks) == [first.item_id, third.item_id]
    with pytest.raises(ValueError, match="candidate_cache must be >= 1"):
        EngineConfig(candidate_cache=0)
