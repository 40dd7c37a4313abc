"""Exploration: the recorded propensities are the real frequencies, and IPS/SNIPS recover a
policy's value from another policy's logs."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.exploration import explore, first_propensity
from online_learning.offline.off_policy import Logged, ips, snips

GREEDY = ("a", "b", "c", "d", "e")


@given(
    n=st.integers(0, 8),
    epsilon=st.floats(0.0, 0.99),
    top=st.integers(1, 6),
    seed=st.text(max_size=20),
)
def test_shown_order_is_a_permutation_and_its_propensity_is_the_formula(
    n: int, epsilon: float, top: int, seed: str
) -> None:
    greedy = tuple(f"i{k}" for k in range(n))
    shown, propensity, explored = explore(greedy, seed, epsilon, top)
    assert sorted(shown) == sorted(greedy)
    if n == 0:
        return
    position = greedy.index(shown[0])
    assert propensity == pytest.approx(first_propensity(position, n, epsilon, top))
    assert explored == (position != 0)
    assert shown[1:] == tuple(x for x in greedy if x != shown[0])  # the rest keeps its order
    assert 0.0 < propensity <= 1.0
    # The propensities of every item that can come first sum to 1.
    assert sum(first_propensity(k, n, epsilon, top) for k in range(n)) == pytest.approx(1.0)


def test_the_same_ranking_id_always_gives_the_same_order() -> None:
    assert all(
        explore(GREEDY, f"r{i}", 0.5, 3) == explore(GREEDY, f"r{i}", 0.5, 3) for i in range(100)
    )


def test_recorded_propensities_match_observed_frequencies() -> None:
    epsilon, top, n = 0.2, 4, 20_000
    firsts = Counter(explore(GREEDY, f"ranking-{i}", epsilon, top)[0][0] for i in range(n))
    for position, item in enumerate(GREEDY):
        expected = first_propensity(position, len(GREEDY), epsilon, top)
        assert firsts[item] / n == pytest.approx(expected, abs=0.01)
    assert firsts["e"] == 0  # beyond the top few: never explored


def test_no_exploration_means_the_greedy_order_with_propensity_one() -> None:
    assert explore(GREEDY, "x", 0.0, 3) == (GREEDY, 1.0, False)
    assert explore(("only",), "x", 0.5, 3) == (("only",), 1.0, False)


def test_ips_and_snips_recover_the_greedy_policys_value_from_exploring_logs() -> None:
    """Logs of an exploring policy estimate the greedy policy's acceptance without running it."""
    rng = random.Random(3)
    truth = {"a": 0.4, "b": 0.7, "c": 0.2}  # the greedy first choice "a" is not the best
    epsilon, top = 0.3, 3
    log = []
    for i in range(40_000):
        shown, propensity, _ = explore(("a", "b", "c"), f"r{i}", epsilon, top)
        reward = float(rng.random() < truth[shown[0]])
        log.append(Logged(reward, propensity, shown[0] == "a"))
    assert ips(log) == pytest.approx(truth["a"], abs=0.02)
    assert snips(log) == pytest.approx(truth["a"], abs=0.02)
    # ... and of the policy that always shows "b" first, which the logs rarely did
    log_b = []
    rng = random.Random(4)
    for i in range(40_000):
        shown, propensity, _ = explore(("a", "b", "c"), f"r{i}", epsilon, top)
        reward = float(rng.random() < truth[shown[0]])
        log_b.append(Logged(reward, propensity, shown[0] == "b"))
    assert snips(log_b) == pytest.approx(truth["b"], abs=0.03)


def test_estimators_of_an_empty_log_are_nan() -> None:
    assert math.isnan(ips([])) and math.isnan(snips([]))
