"""P(available) per (store, item): the prior, signal updates, decay, holds, event-time order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.availability import AvailabilityConfig, AvailabilityState

THRESHOLD = 0.5  # EngineConfig's default: below it an item is treated as out of stock


def test_an_unseen_pair_is_at_the_prior() -> None:
    state = AvailabilityState(AvailabilityConfig(prior=0.8))
    assert state.p("s1", "milk", now=123.0) == 0.8
    assert state.p_many("s1", ["milk", "eggs", "bread"], now=123.0).tolist() == [0.8, 0.8, 0.8]
    assert state.last_ts("s1", "milk") is None


def test_the_default_prior_treats_an_unseen_item_as_available() -> None:
    assert AvailabilityState().p("s1", "milk", now=0.0) >= THRESHOLD


def test_one_not_found_drops_an_item_below_the_default_threshold() -> None:
    state = AvailabilityState()
    before, after = state.observe("s1", "milk", "not_found", ts=100.0) or (math.nan, math.nan)
    assert before == pytest.approx(0.9)
    assert after == pytest.approx(0.9 * 0.3)
    assert after < THRESHOLD
    assert state.p("s1", "milk", now=100.0) == after


def test_repeated_misses_compound() -> None:
    state = AvailabilityState()
    state.observe("s1", "milk", "not_found", ts=0.0)
    _, after = state.observe("s1", "milk", "not_found", ts=0.0) or (math.nan, math.nan)
    assert after == pytest.approx(0.9 * 0.3 * 0.3)


def test_a_miss_decays_back_toward_the_prior_with_the_half_life() -> None:
    state = AvailabilityState(AvailabilityConfig(prior=0.9, half_life_s=3600.0))
    state.observe("s1", "milk", "not_found", ts=1000.0)  # p = 0.27, 0.63 below the prior
    assert state.p("s1", "milk", now=1000.0) == pytest.approx(0.27)
    assert state.p("s1", "milk", now=1000.0 + 3600.0) == pytest.approx(0.9 - 0.63 / 2)  # 0.585
    assert state.p("s1", "milk", now=1000.0 + 7200.0) == pytest.approx(0.9 - 0.63 / 4)  # 0.7425
    assert state.p("s1", "milk", now=1000.0 + 1800.0) == pytest.approx(
        0.9 - 0.63 * 2**-0.5
    )  # half a half-life
    assert state.p("s1", "milk", now=1e12) == pytest.approx(0.9)


def test_a_sighting_also_decays_toward_the_prior_from_above() -> None:
    state = AvailabilityState(AvailabilityConfig(prior=0.9, half_life_s=100.0, found=0.97))
    state.observe("s1", "milk", "found", ts=0.0)
    assert state.p("s1", "milk", now=100.0) == pytest.approx(0.935)


def test_asking_about_a_time_before_the_last_signal_gives_the_signal_value() -> None:
    state = AvailabilityState(AvailabilityConfig(half_life_s=60.0))
    state.observe("s1", "milk", "not_found", ts=1000.0)
    assert state.p("s1", "milk", now=10.0) == pytest.approx(0.27)


def test_p_many_matches_p_item_by_item() -> None:
    state = AvailabilityState(AvailabilityConfig(half_life_s=60.0))
    state.observe("s1", "a", "not_found", ts=0.0)
    state.observe("s1", "b", "found", ts=10.0)
    state.observe("s1", "c", "out_of_stock", ts=20.0)
    ids = ["a", "b", "c", "unseen"]
    assert state.p_many("s1", ids, now=90.0).tolist() == [state.p("s1", i, now=90.0) for i in ids]
    assert state.p_many("other-store", ids, now=90.0).tolist() == [0.9] * 4


@pytest.mark.parametrize("elapsed", [0.0, 3600.0, 30 * 86400.0, 1e9])
def test_out_of_stock_holds_near_zero_however_long_ago(elapsed: float) -> None:
    state = AvailabilityState(AvailabilityConfig(half_life_s=3600.0))
    state.observe("s1", "milk", "out_of_stock", ts=100.0)
    assert state.p("s1", "milk", now=100.0 + elapsed) == pytest.approx(0.02)


def test_a_miss_after_out_of_stock_keeps_the_hold() -> None:
    # A shopper's miss is more evidence of absence; it must not let the item drift back to
    # "available" as if the store had restocked it.
    state = AvailabilityState(AvailabilityConfig(half_life_s=3600.0))
    state.observe("s1", "milk", "out_of_stock", ts=100.0)
    state.observe("s1", "milk", "not_found", ts=200.0)
    assert state.p("s1", "milk", now=1e9) < 0.02


@pytest.mark.parametrize(("signal", "expected"), [("in_stock", 0.98), ("found", 0.97)])
def test_in_stock_or_found_releases_an_out_of_stock_hold(signal: str, expected: float) -> None:
    state = AvailabilityState(AvailabilityConfig(prior=0.9, half_life_s=3600.0))
    state.observe("s1", "milk", "out_of_stock", ts=100.0)
    assert state.observe("s1", "milk", signal, ts=5000.0) == pytest.approx((0.02, expected))
    # released: it now relaxes toward the prior instead of being pinned
    state.observe("s1", "milk", "not_found", ts=6000.0)
    assert state.p("s1", "milk", now=6000.0 + 1e7) == pytest.approx(0.9)


def test_a_signal_older_than_the_state_is_ignored() -> None:
    # Event time, not arrival order: a restock at t=200 that arrives before a miss from t=100
    # must win.
    state = AvailabilityState()
    state.observe("s1", "milk", "in_stock", ts=200.0)
    assert state.observe("s1", "milk", "not_found", ts=100.0) is None
    assert state.observe("s1", "milk", "out_of_stock", ts=199.999) is None
    assert state.p("s1", "milk", now=200.0) == pytest.approx(0.98)
    assert state.last_ts("s1", "milk") == 200.0


def test_a_signal_at_the_same_time_is_applied() -> None:
    state = AvailabilityState()
    state.observe("s1", "milk", "in_stock", ts=200.0)
    assert state.observe("s1", "milk", "not_found", ts=200.0) == pytest.approx((0.98, 0.98 * 0.3))


def test_staleness_is_per_pair() -> None:
    state = AvailabilityState()
    state.observe("s1", "milk", "found", ts=500.0)
    # older than s1/milk, but the first news about s2/milk and s1/eggs
    assert state.observe("s2", "milk", "not_found", ts=100.0) is not None
    assert state.observe("s1", "eggs", "not_found", ts=100.0) is not None


def test_an_unknown_signal_is_refused() -> None:
    state = AvailabilityState()
    with pytest.raises(ValueError, match="unknown signal 'lost'"):
        state.observe("s1", "milk", "lost", ts=0.0)
    assert len(state) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prior": 1.5}, "prior"),
        ({"prior": -0.1}, "prior"),
        ({"prior": math.nan}, "prior"),
        ({"found": 2.0}, "found"),
        ({"in_stock": -1.0}, "in_stock"),
        ({"out_of_stock": 1.01}, "out_of_stock"),
        ({"not_found_factor": 3.0}, "not_found_factor"),
        ({"half_life_s": 0.0}, "half_life_s"),
        ({"half_life_s": -60.0}, "half_life_s"),
        ({"half_life_s": math.nan}, "half_life_s"),
    ],
)
def test_config_refuses_values_that_make_no_sense(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=f"availability {field} must be"):
        AvailabilityConfig(**kwargs)


def test_config_accepts_the_edges_of_its_ranges() -> None:
    config = AvailabilityConfig(prior=1.0, out_of_stock=0.0, not_found_factor=0.0, half_life_s=1e-3)
    assert config.prior == 1.0


def test_memory_grows_only_with_observed_pairs() -> None:
    state = AvailabilityState()
    for i in range(1000):  # reads never allocate
        state.p(f"s{i % 7}", f"item-{i}", now=float(i))
    state.p_many("s1", [f"item-{i}" for i in range(1000)], now=0.0)
    assert len(state) == 0
    assert state.store_count() == 0

    state.observe("s1", "milk", "not_found", ts=1.0)
    state.observe("s1", "milk", "found", ts=2.0)  # same pair again
    state.observe("s1", "milk", "in_stock", ts=0.5)  # stale, same pair
    state.observe("s1", "eggs", "found", ts=1.0)
    state.observe("s2", "milk", "out_of_stock", ts=1.0)
    assert len(state) == 3
    assert state.store_count() == 2
    assert {store: sorted(items) for store, items in state.snapshot().items()} == {
        "s1": ["eggs", "milk"],
        "s2": ["milk"],
    }


def test_snapshot_is_a_copy() -> None:
    state = AvailabilityState()
    state.observe("s1", "milk", "not_found", ts=1.0)
    snap = state.snapshot()
    snap["s1"]["milk"] = (1.0, 1.0, False)
    snap["s9"] = {}
    assert state.p("s1", "milk", now=1.0) == pytest.approx(0.27)
    assert state.store_count() == 1


@given(
    signals=st.lists(
        st.tuples(
            st.sampled_from(["s1", "s2"]),
            st.sampled_from([f"item-{i}" for i in range(8)]),
            st.sampled_from(["found", "not_found", "out_of_stock", "in_stock"]),
            st.floats(min_value=0.0, max_value=1e5),
        ),
        max_size=40,
    ),
    asked=st.lists(st.sampled_from([f"item-{i}" for i in range(10)]), max_size=12),
    now=st.floats(min_value=0.0, max_value=2e5),
)
def test_p_many_is_p_for_every_item_whatever_was_observed(
    signals: list[tuple[str, str, str, float]], asked: list[str], now: float
) -> None:
    """The vectorised read a ranking uses gives exactly the per-item answers, in order."""
    state = AvailabilityState(AvailabilityConfig(half_life_s=600.0))
    for store_id, item_id, signal, ts in signals:
        state.observe(store_id, item_id, signal, ts)
    for store_id in ("s1", "s2", "never-seen"):
        got = state.p_many(store_id, asked, now)
        assert got.tolist() == [state.p(store_id, item_id, now) for item_id in asked]
        # the ranking's path: distinct ids with their positions, as a candidate block has them
        pool = list(dict.fromkeys(asked))
        positions = {item_id: row for row, item_id in enumerate(pool)}
        got = state.p_many(store_id, pool, now, positions)
        assert got.tolist() == [state.p(store_id, item_id, now) for item_id in pool]


@given(
    steps=st.lists(
        st.one_of(
            st.tuples(
                st.just("observe"),
                st.sampled_from(["s1", "s2"]),
                st.sampled_from([f"item-{i}" for i in range(12)]),
                st.sampled_from(["found", "not_found", "out_of_stock", "in_stock"]),
                st.floats(min_value=0.0, max_value=1e5),
            ),
            st.tuples(st.just("rank"), st.sampled_from(["s1", "s2"]), st.sampled_from("ab")),
            st.tuples(st.just("rebuild"), st.sampled_from("ab")),
            st.tuples(st.just("forget"), st.sampled_from(["s1", "s2"])),
        ),
        max_size=60,
    ),
    now=st.floats(min_value=0.0, max_value=2e5),
)
def test_p_many_remembering_a_pool_answers_as_a_fresh_intersection(
    steps: list[tuple[str, ...]], now: float
) -> None:
    """A ranking names its pool: the store's items found in it are kept and only the items
    met since are looked at. Whatever happened in between (new items, a pool rebuilt by a
    catalog change, a store handed to another worker), the answers are p's."""
    state = AvailabilityState(AvailabilityConfig(half_life_s=600.0))
    members = {"a": [f"item-{i}" for i in range(0, 8)], "b": [f"item-{i}" for i in range(5, 12)]}
    pools = {
        name: {item_id: row for row, item_id in enumerate(ids)} for name, ids in members.items()
    }
    for step in steps:
        if step[0] == "observe":
            _, store_id, item_id, signal, ts = step
            state.observe(store_id, item_id, signal, float(ts))
        elif step[0] == "rebuild":  # a new map object, as a rebuilt pool has
            pools[step[1]] = dict(reversed(list(pools[step[1]].items())))
        elif step[0] == "forget":
            state.forget_stores({step[1]})
        else:
            _, store_id, name = step
            ids = list(pools[name])
            got = state.p_many(store_id, ids, now, pools[name], name)
            expected = [0.0] * len(ids)
            for item_id, row in pools[name].items():
                expected[row] = state.p(store_id, item_id, now)
            assert got.tolist() == expected
