"""Popularity: the grocer's seeds first, the stream's demand as it builds up, fading over days,
the same numbers wherever the same log is applied."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.contract import DemandSummary
from online_learning.popularity import DAY_S, Popularity, PopularityConfig

T0 = 1_699_999_200.0  # on the hour: the feature fades in steps of an hour of event time
WEEK = 7 * DAY_S


def test_seeds_alone_give_the_log_figure_scaled_to_the_best_seller() -> None:
    pop = Popularity(seeds={"milk": 99, "oat": 9, "kefir": 0})
    assert pop.value("milk") == pytest.approx(1.0)
    assert pop.value("oat") == pytest.approx(math.log(10) / math.log(100))
    assert pop.value("kefir") == 0.0
    assert pop.value("never-heard-of") == 0.0
    assert pop.stream_weight == 0.0


def test_the_catalog_figure_wins_over_the_fallback_and_removal_falls_back() -> None:
    pop = Popularity(seeds={"milk": 99, "oat": 9})
    pop.seed("oat", 999.0)  # the catalog record sends its own figure
    assert pop.value("oat") == pytest.approx(1.0)
    assert pop.value("milk") == pytest.approx(math.log(100) / math.log(1000))
    pop.seed("oat", None)  # an update without the field, or a tombstone
    assert pop.value("oat") == pytest.approx(math.log(10) / math.log(100))
    assert pop.value("milk") == pytest.approx(1.0)  # the top is found again


@pytest.mark.parametrize("figure", [-1.0, math.nan, math.inf])
def test_a_figure_that_is_not_a_count_is_refused(figure: float) -> None:
    with pytest.raises(ValueError, match="finite and >= 0"):
        Popularity().seed("milk", figure)


def test_stream_demand_takes_over_from_the_seeds_as_it_builds_up() -> None:
    pop = Popularity(PopularityConfig(seed_weight=1000.0), seeds={"seeded-best": 500, "oat": 5})
    pop.observe("oat", 10, T0)  # little evidence: the seeds still decide
    assert pop.value("seeded-best") > pop.value("oat")
    pop.apply(DemandSummary(T0, (("oat", 20_000), ("rye", 2_000))))
    assert pop.stream_weight == pytest.approx(22_010 / 23_010)
    # a lot of evidence: what shoppers look for decides, the unseeded rye included
    assert pop.value("oat") > pop.value("rye") > pop.value("seeded-best")


def test_without_seeds_the_feature_fades_in_as_evidence_builds_up() -> None:
    pop = Popularity(PopularityConfig(seed_weight=100.0))
    pop.observe("oat", 1, T0)
    assert 0.0 < pop.value("oat") < 0.01  # one look is no evidence that oat is the top seller
    pop.observe("oat", 10_000, T0)
    assert pop.value("oat") > 0.99


def test_demand_fades_with_the_half_life_by_event_time() -> None:
    pop = Popularity(PopularityConfig(half_life_s=WEEK, seed_weight=0.0))
    pop.observe("old", 20, T0)
    pop.observe("new", 10, T0 + WEEK)  # a week later, 20 old looks count as 10
    assert pop.value("old") == pytest.approx(pop.value("new"))
    assert pop.value("new") == pytest.approx(1.0)
    pop.observe("newer", 1, T0 + 5 * WEEK)  # the clock moves on: both fade, their order stays
    assert pop.value("old") == pytest.approx(pop.value("new"))
    assert pop.clock == T0 + 5 * WEEK


def test_the_feature_fades_in_steps_of_an_hour_of_event_time() -> None:
    pop = Popularity(PopularityConfig(half_life_s=WEEK, seed_weight=1.0), seeds={"seeded": 9})
    pop.observe("oat", 1, T0)
    weights = [pop.stream_weight]
    for minutes in (30, 59, 60, 90):
        pop.observe("rye", 0, T0 + 60 * minutes)  # only to move the clock
        weights.append(pop.stream_weight)
    assert weights[0] == weights[1] == weights[2] == 0.5 > weights[3] == weights[4]
    faded = 2 ** (-1 / 168)  # one look after an hour of a week's half-life
    assert weights[3] == pytest.approx(faded / (faded + 1.0), rel=1e-12)


def test_late_demand_counts_at_its_own_time_and_does_not_move_the_clock_back() -> None:
    pop = Popularity(PopularityConfig(half_life_s=WEEK, seed_weight=0.0))
    pop.observe("a", 10, T0 + WEEK)
    pop.observe("b", 20, T0)  # a backfill: a week older, so half the weight
    assert pop.value("a") == pytest.approx(pop.value("b"))
    assert pop.clock == T0 + WEEK


def test_a_long_run_rescales_without_losing_precision_or_overflowing() -> None:
    half_life = DAY_S
    pop = Popularity(PopularityConfig(half_life_s=half_life, seed_weight=0.0))
    pop.observe("a", 1, T0)
    for day in range(1, 200):  # 200 half-lives: far past a float's exponent without rescaling
        pop.observe("b", 1, T0 + day * half_life)
    pop.observe("a", 2.0**-100, T0 + 199 * half_life)
    values = pop.column(pop.codes(["a", "b"]))
    assert np.isfinite(values).all() and values[1] == pytest.approx(1.0)
    # b's steady state is 1 / (1 - 1/2) = 2 looks: a's first look has long faded away
    assert values[0] == pytest.approx(math.log1p(2.0**-100) / math.log1p(2.0), rel=1e-6)


def test_a_summary_counts_as_its_looks_one_by_one() -> None:
    summary = DemandSummary(T0, (("a", 3), ("b", 1)))
    one, other = Popularity(seeds={"a": 4}), Popularity(seeds={"a": 4})
    one.apply(summary)
    for item_id, n in summary.counts:
        other.observe(item_id, n, summary.ts)
    assert one.digest() == other.digest()
    assert one.value("a") == other.value("a") and one.value("b") == other.value("b")


def test_the_same_log_gives_the_same_numbers_whatever_a_worker_ranked_before() -> None:
    # Codes are assigned as items are first ranked, in a different order on each worker.
    one, other = Popularity(seeds={"a": 7, "b": 2}), Popularity(seeds={"b": 2, "a": 7})
    other.codes(["z", "c", "b", "a"])
    log = [
        DemandSummary(T0, (("a", 2), ("c", 5))),
        DemandSummary(T0 + 3600, (("b", 1), ("c", 1), ("d", 9))),
    ]
    for pop in (one, other):
        for summary in log:
            pop.apply(summary)
        pop.observe("a", 1, T0 + 7200)
    assert one.digest() == other.digest()
    items = ["a", "b", "c", "d", "z"]
    assert one.column(one.codes(items)).tolist() == other.column(other.codes(items)).tolist()
    assert [one.value(i) for i in items] == [other.value(i) for i in items]


@settings(max_examples=100, deadline=None)
@given(
    seeds=st.dictionaries(st.sampled_from("abcdef"), st.floats(0, 1e9), max_size=6),
    looks=st.lists(
        st.tuples(st.sampled_from("abcdefg"), st.integers(1, 10**6), st.floats(0, 3e8)),
        max_size=20,
    ),
    seed_weight=st.floats(0, 1e6),
)
def test_the_feature_is_always_in_zero_to_one(
    seeds: dict[str, float], looks: list[tuple[str, int, float]], seed_weight: float
) -> None:
    pop = Popularity(PopularityConfig(half_life_s=DAY_S, seed_weight=seed_weight), seeds)
    for item_id, n, dt in looks:
        pop.observe(item_id, n, T0 + dt)
    values = pop.column(pop.codes(list("abcdefg")))
    assert ((values >= 0.0) & (values <= 1.0 + 1e-12)).all()


def test_the_config_refuses_what_cannot_fade() -> None:
    with pytest.raises(ValueError, match="half_life_s"):
        PopularityConfig(half_life_s=0.0)
    with pytest.raises(ValueError, match="seed_weight"):
        PopularityConfig(seed_weight=-1.0)
