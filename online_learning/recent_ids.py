"""Bounded memory of recent ids: how feedback is learned once per ``event_id``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

__all__ = ["RecentIds"]


class RecentIds:
    """The most recent ``capacity`` ids, for de-duplication with bounded memory.

    >>> seen = RecentIds(2)
    >>> [seen.add(x) for x in ["a", "b", "a", "c", "a"]]
    [True, True, False, True, False]
    >>> "b" in seen  # evicted: only the last two distinct ids are remembered
    False
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: str) -> bool:
        """Remember ``key``; False if it was already remembered."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def state(self, limit: int | None = None) -> dict[str, Any]:
        """The remembered ids, oldest first (the newest ``limit`` only, if given), for a
        snapshot; :meth:`load_state` puts them back in the same eviction order."""
        ids = list(self._ids)
        if limit is not None:
            ids = ids[max(0, len(ids) - limit) :]
        return {"capacity": self.capacity, "ids": ids}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace the remembered ids with a :meth:`state`'s (the newest ``capacity`` of them)."""
        ids = state["ids"]
        if not all(isinstance(i, str) for i in ids):
            raise ValueError("ids must be strings")
        self._ids = OrderedDict.fromkeys(ids[max(0, len(ids) - self.capacity) :])
