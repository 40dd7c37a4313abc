"""One pair's features are the same numbers whichever way they are computed.

Learning asks for one pair at a time; when the requested item's candidate block is cached,
the pair's row comes from the block instead of a one-row matrix. The model digest must not
depend on which way a worker took (workers with different caches learn the same model), so
the two ways must agree to the bit, not only closely.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from online_learning.contract import DemandSummary
from online_learning.features import FEATURES, FeatureStore
from online_learning.interactions import InteractionConfig, InteractionWeights

from .test_features_model import MILK_AISLE, store


@pytest.mark.parametrize("requested_id", [p.item_id for p in MILK_AISLE])
def test_a_cached_block_gives_the_one_row_matrix_numbers_to_the_bit(requested_id: str) -> None:
    fs = store({"milk-dl-half": 50, "oat": 5, "kefir": 1})
    requested = fs.catalog.get(requested_id)
    assert requested is not None
    # learned columns that are not zero: history of the pair and of the candidates
    for i, product in enumerate(MILK_AISLE):
        fs.history.update(requested_id, product.item_id, i % 3 == 0)
        fs.history.update("other", product.item_id, i % 2 == 0)
    fs.popularity.apply(DemandSummary(100.0, (("oat", 7), ("milk-2pct-gal", 3))))
    candidates = [c for p in MILK_AISLE if (c := fs.catalog.get(p.item_id)) is not None]
    one_row = [fs.pair_vector(requested, c) for c in candidates]  # no block cached yet
    block = fs.candidates(requested)
    assert block.candidate_ids, "the aisle has rule-passing candidates for every item"
    for candidate, expected in zip(candidates, one_row, strict=True):
        np.testing.assert_array_equal(fs.pair_vector(requested, candidate), expected)


@pytest.mark.parametrize("requested_id", [p.item_id for p in MILK_AISLE])
def test_a_pair_learned_before_its_pool_is_built_gets_the_pools_numbers_to_the_bit(
    requested_id: str,
) -> None:
    def learned_store() -> FeatureStore:
        fs = store({"milk-dl-half": 50, "oat": 5, "kefir": 1})
        for i, product in enumerate(MILK_AISLE):
            fs.history.update(requested_id, product.item_id, i % 3 == 0)
        fs.popularity.apply(DemandSummary(100.0, (("oat", 7), ("milk-2pct-gal", 3))))
        return fs

    cold, warm = learned_store(), learned_store()
    warm.warm()
    requested = cold.catalog.get(requested_id)
    assert requested is not None
    for product in MILK_AISLE:
        candidate = cold.catalog.get(product.item_id)
        assert candidate is not None
        np.testing.assert_array_equal(
            cold.pair_vector(requested, candidate), warm.pair_vector(requested, candidate)
        )
    assert cold._matrices == {}, "learning one pair builds no pool (a worker's start-up tail)"


def test_a_block_of_an_older_catalog_is_not_used() -> None:
    fs = store()
    requested, candidate = fs.catalog.get("milk-whole-gal"), fs.catalog.get("milk-dl-half")
    assert requested is not None and candidate is not None
    fs.candidates(requested)
    repriced = replace(candidate, price=3.49)
    fs.catalog.upsert(repriced)
    fresh = store()
    fresh.catalog.upsert(repriced)
    stored = fs.catalog.get("milk-dl-half")
    assert stored is not None
    assert fs.pair_vector(requested, stored)[FEATURES.index("price_log_ratio")] == pytest.approx(
        np.log(3.49 / 4.0)
    )
    np.testing.assert_array_equal(
        fs.pair_vector(requested, stored), fresh.pair_vector(requested, stored)
    )


LEARNED = ("popularity", "item_history", "pair_history", "interactions")
CONTENT = [i for i, name in enumerate(FEATURES) if name not in LEARNED]


@pytest.mark.parametrize("path", ["one-row matrix", "built pool", "cached block"])
def test_a_pairs_content_vector_is_its_pair_vector_without_what_was_learned(path: str) -> None:
    fs = store({"milk-dl-half": 50, "oat": 5, "kefir": 1})
    fs.interactions = InteractionWeights(InteractionConfig(bits=10))
    fs.interactions.weights[:-1] = np.random.default_rng(3).normal(size=1 << 10)  # not padding
    if path != "one-row matrix":
        fs.warm()
    for requested_product in MILK_AISLE:
        requested = fs.catalog.get(requested_product.item_id)
        assert requested is not None
        for i, product in enumerate(MILK_AISLE):  # learned columns that are not zero
            fs.history.update(requested.item_id, product.item_id, i % 3 == 0)
        if path == "cached block":
            fs.candidates(requested)
        for product in MILK_AISLE:
            candidate = fs.catalog.get(product.item_id)
            assert candidate is not None
            content = fs.content_vector(requested, candidate)
            full = fs.pair_vector(requested, candidate)
            np.testing.assert_array_equal(content[CONTENT], full[CONTENT])
            assert full[FEATURES.index("interactions")] != 0.0, "the weights are not all 0"
            for name in ("item_history", "pair_history", "interactions"):
                assert content[FEATURES.index(name)] == 0.0
    if path == "one-row matrix":
        assert fs._matrices == {}, "a content vector builds no pool either"
