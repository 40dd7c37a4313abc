"""SeenOffsets: a partition handed over again from its last commit is processed once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.redelivery import SeenOffsets


@given(
    n=st.integers(min_value=1, max_value=200),
    commits=st.lists(st.integers(min_value=0, max_value=200), max_size=5),
    seek_backs=st.lists(st.integers(min_value=0, max_value=200), max_size=5),
)
def test_seek_back_to_a_commit_repeats_nothing(
    n: int, commits: list[int], seek_backs: list[int]
) -> None:
    """Deliver 0..n-1 in order, but after each 'rebalance' start again at the last commit."""
    seen = SeenOffsets()
    processed: list[int] = []
    committed, position, deliveries = 0, 0, 0
    rebalances = sorted(seek_backs)
    marks = sorted(commits)
    while position < n:
        if marks and position >= marks[0]:
            committed = max(committed, marks.pop(0))
        if rebalances and position >= rebalances[0]:
            rebalances.pop(0)
            position = min(position, committed)  # Faust seeks to the committed offset
        deliveries += 1
        if seen.first_time("signals", 3, position):
            processed.append(position)
        position += 1
    assert processed == list(range(n))  # each offset once, in order, none lost
    assert seen.repeats == deliveries - n  # every repeat recognised and counted


def test_partitions_are_independent_and_forgotten_when_moved_away() -> None:
    seen = SeenOffsets()
    assert seen.first_time("signals", 0, 10)
    assert seen.first_time("feedback", 0, 3)  # another topic, same partition number
    assert not seen.first_time("signals", 0, 10)
    assert seen.first_time("signals", 1, 10)
    seen.keep_only([("feedback", 0), ("signals", 1)])
    assert seen.first_time("signals", 0, 4)  # moved away and back: the changelog decides
    assert not seen.first_time("feedback", 0, 3)
    assert not seen.first_time("signals", 1, 9)
    assert seen.repeats == 3
