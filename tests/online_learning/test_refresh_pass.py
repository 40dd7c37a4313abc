"""A model-update pass on its own: when it begins, its item-by-item order, its budget, and the
stores it drops."""

from __future__ import annotations

from online_learning.refresh_pass import RefreshPass

LIVE = [("s1", "milk"), ("s1", "eggs"), ("s2", "milk"), ("s3", "eggs"), ("s2", "bread")]


def test_no_pass_begins_before_something_was_learned() -> None:
    refresh = RefreshPass()
    assert refresh.take(LIVE, 10) == []
    assert len(refresh) == 0


def test_a_pass_visits_every_live_ranking_once_item_by_item() -> None:
    refresh = RefreshPass()
    refresh.learned()
    taken = refresh.take(LIVE, 10)
    assert sorted(taken) == sorted(LIVE)
    # every store's ranking of an item in a row, items in the order they were first seen
    assert taken == [("s1", "milk"), ("s2", "milk"), ("s1", "eggs"), ("s3", "eggs"),
                     ("s2", "bread")]  # fmt: skip


def test_a_pass_is_spread_over_calls_and_a_new_one_waits_for_new_learning() -> None:
    refresh = RefreshPass()
    refresh.learned(3)
    first = refresh.take(LIVE, 2)
    assert len(first) == 2 and len(refresh) == 3
    refresh.learned()  # learned during the pass: the next pass is due once this one ends
    rest = refresh.take(LIVE, 10)
    assert first + rest == [("s1", "milk"), ("s2", "milk"), ("s1", "eggs"), ("s3", "eggs"),
                            ("s2", "bread")]  # fmt: skip
    assert len(refresh.take(LIVE, 1)) == 1  # the pass due began
    refresh.take(LIVE, 10)
    assert refresh.take(LIVE, 10) == []  # nothing learned since it began


def test_the_live_keys_are_read_when_the_pass_begins() -> None:
    refresh = RefreshPass()
    refresh.learned()
    live = list(LIVE)
    assert refresh.take(live, 1) == [("s1", "milk")]
    live.append(("s9", "tea"))  # live after the pass began: the next pass sees it
    assert ("s9", "tea") not in refresh.take(live, 10)
    refresh.learned()
    assert ("s9", "tea") in refresh.take(live, 10)


def test_stores_that_moved_away_leave_the_pass_under_way() -> None:
    refresh = RefreshPass()
    refresh.learned()
    refresh.take(LIVE, 1)
    refresh.forget_stores({"s2"})
    assert refresh.keys() == [("s1", "eggs"), ("s3", "eggs")]
    assert refresh.take(LIVE, 10) == [("s1", "eggs"), ("s3", "eggs")]
