"""Recognise messages this worker has already processed when Faust hands them over again.

Faust forgets the acknowledged-but-uncommitted offsets of a partition when a rebalance
revokes it and, on every assignment, seeks each partition back to its *committed* offset
(``Recovery``: "Seek stream partitions to committed offsets"). A worker that keeps a
partition through a rebalance therefore gets the messages between its last commit and the
rebalance a second time. Its in-memory state already holds their effect: applying a
``not_found`` again would compound it. Within one partition messages arrive in offset
order, so the highest offset processed per partition is all it takes to know a repeat.

When a partition moves away its high-water mark is dropped: whoever owns it next rebuilds the
state from the changelog, whose per-entry offsets (state_changelog.py) do that job.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SeenOffsets"]

TopicPartition = tuple[str, int]


class SeenOffsets:
    """Highest offset processed per (topic, partition) while this worker owned it.

    >>> seen = SeenOffsets()
    >>> [seen.first_time("signals", 0, o) for o in (5, 6, 7)]
    [True, True, True]
    >>> seen.first_time("signals", 0, 6), seen.first_time("signals", 1, 6)
    (False, True)
    >>> seen.repeats
    1
    >>> seen.keep_only([("signals", 1)])
    >>> seen.first_time("signals", 0, 6)  # moved away and back: the changelog decides now
    True
    """

    __slots__ = ("_high", "repeats")

    def __init__(self) -> None:
        self._high: dict[TopicPartition, int] = {}
        self.repeats = 0

    def first_time(self, topic: str, partition: int, offset: int) -> bool:
        """True (and remembered) for a new offset, False for one processed here before."""
        key = (topic, partition)
        if offset <= self._high.get(key, -1):
            self.repeats += 1
            return False
        self._high[key] = offset
        return True

    def keep_only(self, assigned: Iterable[TopicPartition]) -> None:
        """A new assignment: forget partitions this worker no longer owns."""
        keep = set(assigned)
        for key in [k for k in self._high if k not in keep]:
            del self._high[key]
