"""A model-update pass: which live rankings are re-ranked next, and when a new pass begins.

After the model learns, every live ranking may deserve another order. Re-ranking them all at
once would stall the stream, so a pass is spread over calls, each with a budget
(:meth:`SubstitutionEngine.refresh <online_learning.engine.SubstitutionEngine.refresh>`, which
the worker's timer calls). A new pass begins only once the previous one is done and something
was learned since it began.

A pass visits the live rankings item by item (every store's ranking of one item in a row), so
an item's candidate block is built at most once per pass: live items far outnumber the block
cache, and a pass in arrival order evicted every block before its next use
(docs/performance.md).

>>> refresh = RefreshPass()
>>> live = [("s1", "milk"), ("s1", "eggs"), ("s2", "milk")]
>>> refresh.take(live, 2)  # nothing learned: no pass
[]
>>> refresh.learned()
>>> refresh.take(live, 2)
[('s1', 'milk'), ('s2', 'milk')]
>>> len(refresh), refresh.take(live, 2), len(refresh)
(1, [('s1', 'eggs')], 0)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable

__all__ = ["Key", "RefreshPass"]

Key = tuple[str, str]
"""(store_id, item_id) of a live ranking."""


class RefreshPass:
    """The keys left in the pass under way, and what was learned since it began."""

    def __init__(self) -> None:
        self.learned_since = 0  # feedback events learned since the pass under way began
        self._pending: deque[Key] = deque()

    def __len__(self) -> int:
        """Live rankings left in the pass under way (0: none under way)."""
        return len(self._pending)

    def learned(self, events: int = 1) -> None:
        """Note feedback learned: the live rankings are due another pass."""
        self.learned_since += events

    def take(self, live: Iterable[Key], budget: int) -> list[Key]:
        """The next at most ``budget`` keys to re-rank, in the pass's order.

        With no pass under way, begins one over ``live`` (the keys live now) if something was
        learned since the last began; else returns nothing. A key may have ended since its
        pass began: the caller checks that it is still live.
        """
        pending = self._pending
        if not pending:
            if self.learned_since == 0:
                return []
            self.learned_since = 0
            stores_by_item: dict[str, list[str]] = {}
            for store_id, item_id in live:
                stores_by_item.setdefault(item_id, []).append(store_id)
            pending.extend(
                (store_id, item_id)
                for item_id, store_ids in stores_by_item.items()
                for store_id in store_ids
            )
        return [pending.popleft() for _ in range(min(budget, len(pending)))]

    def keys(self) -> list[Key]:
        """The keys left in the pass under way, in the order they will be taken."""
        return list(self._pending)

    def forget_stores(self, store_ids: Collection[str]) -> None:
        """Drop the keys of these stores from the pass under way (they moved elsewhere)."""
        if self._pending:
            self._pending = deque(key for key in self._pending if key[0] not in store_ids)
