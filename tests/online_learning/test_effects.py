"""Learned item, pair and brand offsets: shrinkage, backfitting, forgetting, vectorised lookup."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.effects import LEVELS, EffectsConfig, Key, RandomEffects
from online_learning.logistic import sigmoid

ALL = frozenset(LEVELS)


def key(
    cand: str, req: str = "r", pool: str = "milk", rb: str | None = None, cb: str | None = None
) -> Key:
    return Key(req, cand, pool, rb, cb)


def test_no_evidence_no_offset() -> None:
    fx = RandomEffects(EffectsConfig(levels=ALL))
    assert fx.offset(key("c")) == 0.0
    out = fx.offsets("r", None, "milk", {"c": 0}, np.array([-1]), ())
    assert out.tolist() == [0.0]


def test_offset_follows_the_evidence_and_is_shrunk_when_evidence_is_thin() -> None:
    fx = RandomEffects(EffectsConfig(decay=1.0, levels=ALL))
    fx.update(key("good"), True, base_logit=0.0)
    one = fx.offset(key("good"))
    assert 0.0 < one < 0.5  # one acceptance is weak evidence
    for _ in range(200):
        fx.update(key("good"), True, base_logit=0.0)
        fx.update(key("bad"), False, base_logit=0.0)
    assert fx.offset(key("good")) > 1.0 > one
    assert fx.offset(key("bad")) < -1.0


def test_a_candidates_appeal_carries_over_to_other_requested_items() -> None:
    fx = RandomEffects(EffectsConfig(levels=ALL))
    for i in range(50):
        fx.update(key("loved", req=f"r{i % 10}"), True, base_logit=-1.0)
    # never offered for "new-request", but the item level has learned it is liked
    assert fx.offset(key("loved", req="new-request")) > 0.3
    assert fx.offset(key("loved", req="new-request")) < fx.offset(key("loved", req="r1"))


def test_backfitting_does_not_count_one_residual_at_every_level() -> None:
    """An effect on one pair is split between the levels, not tripled."""
    rng = random.Random(1)
    true_offset = 1.0
    fx = RandomEffects(EffectsConfig(decay=1.0, levels=ALL))
    k = key("c", rb="acme", cb="zest")  # all four levels apply
    for _ in range(4000):
        p = sigmoid(true_offset)
        fx.update(k, rng.random() < p, base_logit=0.0)
    assert fx.offset(k) == pytest.approx(true_offset, abs=0.25)


def test_old_evidence_fades_so_a_changed_preference_is_relearned() -> None:
    fx = RandomEffects(EffectsConfig(decay=0.9, levels=ALL))
    for _ in range(100):
        fx.update(key("c"), True, base_logit=0.0)
    assert fx.offset(key("c")) > 0.5
    for _ in range(60):
        fx.update(key("c"), False, base_logit=0.0)
    assert fx.offset(key("c")) < 0.0


def test_brand_levels_apply_to_other_items_of_the_brand_in_the_same_pool_only() -> None:
    fx = RandomEffects(EffectsConfig(levels=ALL))
    for i in range(60):
        fx.update(key(f"zest-{i % 6}", rb="acme", cb="zest"), False, base_logit=0.5)
    assert fx.offset(key("zest-new", rb="acme", cb="zest")) < -0.3  # brand + switch
    assert fx.offset(key("zest-new", rb=None, cb="zest")) < -0.1  # brand only
    assert fx.offset(key("zest-new", pool="yogurt", rb="acme", cb="zest")) == 0.0
    assert fx.offset(key("other", rb="acme", cb="other")) == 0.0


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="decay"):
        EffectsConfig(decay=0.0)
    with pytest.raises(ValueError, match="item_shrink"):
        EffectsConfig(item_shrink=0.0)
    with pytest.raises(ValueError, match="unknown effect levels"):
        EffectsConfig(levels=frozenset({"customer"}))


def test_default_levels_are_brand_and_switch_only() -> None:
    fx = RandomEffects()
    for _ in range(50):
        fx.update(key("c", rb="acme", cb="zest"), False, base_logit=0.0)
    assert fx.offset(key("c", rb=None, cb=None)) == 0.0  # no item or pair offset
    assert fx.offset(key("other", rb="acme", cb="zest")) < -0.3  # the brand switch carries


ITEMS = [f"i{k}" for k in range(8)]
BRANDS = ["acme", "zest", "oatside"]


@settings(max_examples=60, deadline=None)
@given(
    updates=st.lists(
        st.tuples(
            st.sampled_from(["r1", "r2"]),
            st.sampled_from(ITEMS),
            st.sampled_from(["milk", "yogurt"]),
            st.sampled_from([None, *BRANDS]),
            st.booleans(),
            st.floats(-3, 3),
        ),
        max_size=40,
    ),
    requested=st.sampled_from(["r1", "r2", "r3"]),
    requested_brand=st.sampled_from([None, *BRANDS]),
    pool=st.sampled_from(["milk", "yogurt"]),
)
def test_vectorised_offsets_equal_the_per_pair_offsets(
    updates: list[tuple[str, str, str, str | None, bool, float]],
    requested: str,
    requested_brand: str | None,
    pool: str,
) -> None:
    brand_of = {item: BRANDS[i % 3] if i % 4 else None for i, item in enumerate(ITEMS)}
    fx = RandomEffects(EffectsConfig(levels=ALL))
    for req, cand, upd_pool, req_brand, accepted, base in updates:
        fx.update(Key(req, cand, upd_pool, req_brand, brand_of[cand]), accepted, base)
    names = tuple(BRANDS)
    codes = np.array([-1 if brand_of[i] is None else names.index(brand_of[i]) for i in ITEMS])
    out = fx.offsets(
        requested, requested_brand, pool, {i: r for r, i in enumerate(ITEMS)}, codes, names
    )
    for row, item in enumerate(ITEMS):
        expected = fx.offset(Key(requested, item, pool, requested_brand, brand_of[item]))
        assert out[row] == pytest.approx(expected, abs=1e-12)
    # a ranking passes the brands' codes too (a shortcut): the same numbers to the bit
    indexed = fx.offsets(
        requested,
        requested_brand,
        pool,
        {i: r for r, i in enumerate(ITEMS)},
        codes,
        names,
        {name: code for code, name in enumerate(names)},
    )
    np.testing.assert_array_equal(indexed, out)
