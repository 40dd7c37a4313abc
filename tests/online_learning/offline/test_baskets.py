"""What simulated orders hold: real baskets when the catalog covers them, synthetic ones else."""

from __future__ import annotations

import random

import pytest

from online_learning.contract import Product
from online_learning.offline.baskets import Baskets
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.sim_config import SimConfig
from tests.conftest import milk

HAND_MADE = {p.item_id: p for p in (milk("m1"), milk("m2", "Skim Milk"), milk("m3", "Oat Milk"))}


def baskets(config: SimConfig, items: dict[str, Product], real=None) -> Baskets:
    return Baskets(config, items, KeyedRandom(config.seed), random.Random(config.seed), real)


def test_a_hand_made_catalog_gets_synthetic_baskets_of_its_own_items() -> None:
    sampler = baskets(SimConfig(seed=3), HAND_MADE)  # "auto": no real basket covers it
    drawn = [sampler.sample() for _ in range(200)]
    assert all(basket and set(basket) <= set(HAND_MADE) for basket in drawn)
    assert all(len(basket) == len(set(basket)) for basket in drawn)
    assert set(sampler.popularity) == set(HAND_MADE)
    assert all(0.0 <= sampler.popularity_score(i) <= 1.0 for i in HAND_MADE)
    assert max(sampler.popularity_score(i) for i in HAND_MADE) == 1.0


def test_given_baskets_are_kept_to_the_catalog_and_counted() -> None:
    real = [["m1", "m2", "elsewhere"], ["m1"], ["elsewhere"]]
    sampler = baskets(SimConfig(basket_source="instacart"), HAND_MADE, real)
    assert sampler.popularity == {"m1": 2, "m2": 1}
    assert {tuple(sampler.sample()) for _ in range(100)} == {("m1", "m2"), ("m1",)}
    assert sampler.popularity_score("m3") == 0.0


def test_real_baskets_are_refused_when_none_holds_a_catalog_item() -> None:
    with pytest.raises(ValueError, match="no basket has an item of the catalog"):
        baskets(SimConfig(basket_source="instacart"), HAND_MADE, [["elsewhere"]])
