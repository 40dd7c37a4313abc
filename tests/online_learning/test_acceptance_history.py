"""Accepted / offered counts from feedback, and the two history columns they fill."""

from __future__ import annotations

import math

import numpy as np
import pytest

from online_learning.acceptance_history import AcceptanceHistory


def columns(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fresh (n, 2) matrix and its two columns as views, as the features pass them."""
    out = np.zeros((n, 2))
    return out, out[:, 0], out[:, 1]


def test_log_odds_are_smoothed_clipped_and_zero_without_history() -> None:
    history = AcceptanceHistory()
    assert history.item_log_odds("never-offered") == 0.0
    for _ in range(4):
        history.update("req", "c", False)
    assert history.item_log_odds("c") == pytest.approx(math.log(1 / 5))
    assert history.pair_log_odds("req", "c") == pytest.approx(math.log(1 / 5))
    assert history.pair_log_odds("other", "c") == 0.0
    for _ in range(100):
        history.update("req", "d", True)
    assert history.item_log_odds("d") == 3.0  # clipped


def test_fill_and_fill_codes_write_the_same_numbers_into_the_columns() -> None:
    history = AcceptanceHistory()
    ids = ["a", "b", "c", "d"]
    positions = {item_id: row for row, item_id in enumerate(ids)}
    codes = history.codes(ids)
    for i, item_id in enumerate(ids[:3] * 2):
        history.update("req", item_id, i % 2 == 0)
    history.update("someone-else", "d", True)
    by_walk, item_walk, pair_walk = columns(len(ids))
    history.fill("req", positions, item_walk, pair_walk)
    by_codes, item_codes, pair_codes = columns(len(ids))
    history.fill_codes("req", codes, positions, item_codes, pair_codes)
    np.testing.assert_array_equal(by_walk, by_codes)
    assert by_walk[3].tolist() == [history.item_log_odds("d"), 0.0]  # no pair history for d


def test_history_array_grows_past_its_first_size_on_learning_alone() -> None:
    """Feedback naming more new candidates than the array holds (1,024) grows it, though no
    block asked for their codes first (an IndexError otherwise)."""
    history = AcceptanceHistory()
    ids = [f"c{i}" for i in range(3000)]
    for i, item_id in enumerate(ids):
        history.update("req", item_id, i % 3 == 0)
    out, item_column, pair_column = columns(len(ids))
    history.fill_codes(
        "req", history.codes(ids), {c: r for r, c in enumerate(ids)}, item_column, pair_column
    )
    expected = [history.item_log_odds(c) for c in ids]
    assert out[:, 0].tolist() == expected
    assert out[:, 1].tolist() == expected  # one offer per pair


def test_a_loaded_history_learns_on_exactly_as_the_one_it_was_taken_from() -> None:
    """After a load, the counts go on from where they were, for the requested items the
    snapshot held (indexed when first met) and for new ones alike."""
    original, loaded = AcceptanceHistory(), AcceptanceHistory()
    loaded.codes(["z", "c", "a"])  # a block's codes, assigned before the load, stay valid
    before = [("r1", "a", True), ("r1", "b", False), ("r2", "a", False), ("r3", "c", True)]
    after = [("r1", "a", False), ("r2", "b", True), ("r4", "a", True), ("r3", "c", True)]
    for r, c, y in before:
        original.update(r, c, y)
    loaded.load_state(original.state())
    assert loaded.pair_log_odds("r3", "c") == original.pair_log_odds("r3", "c")
    for r, c, y in after:
        original.update(r, c, y)
        loaded.update(r, c, y)
    assert loaded.items == original.items and loaded.pairs == original.pairs
    ids = ["a", "b", "c", "z"]
    positions = {item_id: row for row, item_id in enumerate(ids)}
    for requested in ("r1", "r2", "r3", "r4", "nobody"):
        want, item_want, pair_want = columns(len(ids))
        original.fill(requested, positions, item_want, pair_want)
        got, item_got, pair_got = columns(len(ids))
        loaded.fill_codes(requested, loaded.codes(ids), positions, item_got, pair_got)
        np.testing.assert_array_equal(want, got)


def test_a_state_naming_codes_it_does_not_hold_is_refused() -> None:
    history = AcceptanceHistory()
    history.update("r", "c", True)
    state = history.state()
    state["candidates"] = state["candidates"] + 5
    with pytest.raises(ValueError, match="outside"):
        AcceptanceHistory().load_state(state)
