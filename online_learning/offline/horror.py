"""Error analysis: the substitutions the model was most sure of that customers turned down.

A confidently wrong prediction (high p_accept, then rejected or refunded) says more about what
the features miss than a thousand near-misses. :class:`ConfidentMistakes` keeps the worst
``capacity`` of them from a feedback stream, and :func:`themes` names what each one has in
common with the others (the structural themes of :mod:`online_learning.themes`: a size jump,
another brand, a dearer item, a different kind of product, a lost tag, an offer near a
hard-rule limit; and a customer who has turned down most substitutes so far), so the report
can say "most confident mistakes are size jumps in the yogurt aisle" instead of listing pairs.

>>> book = ConfidentMistakes(capacity=2)
>>> for p in (0.9, 0.2, 0.95, 0.8):
...     book.add(p, "milk", "oat", "milk", "rejected", {"price_up": 0.5})
>>> [round(m.p_accept, 2) for m in book.worst()]
[0.95, 0.9]
>>> book.worst()[0].themes
('price',)
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from online_learning.rules import HardRules
from online_learning.themes import THEMES as STRUCTURAL_THEMES
from online_learning.themes import themes

__all__ = ["THEMES", "ConfidentMistakes", "Mistake", "themes"]

# The pair's structural themes (online_learning.themes, shared with the worker's live count)
# and one of the customer's own, which needs their record so far.
THEMES = (*STRUCTURAL_THEMES, "customer")
# a customer whose record so far is at most this acceptance over at least CUSTOMER_MIN offers
CUSTOMER_MAX_ACCEPTANCE = 0.25
CUSTOMER_MIN = 2


@dataclass(frozen=True, slots=True)
class Mistake:
    """One confidently wrong substitution."""

    p_accept: float
    requested_id: str
    substitute_id: str
    aisle: str
    outcome: str
    themes: tuple[str, ...]


class ConfidentMistakes:
    """The ``capacity`` most confident rejections and refunds of a feedback stream."""

    def __init__(self, capacity: int = 200, rules: HardRules | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.rules = rules
        self._heap: list[tuple[float, int, Mistake]] = []
        self._seq = itertools.count()
        self.seen = 0  # rejections and refunds looked at
        self._customers: dict[str, list[int]] = {}  # customer id -> [accepted, offered]

    def add(
        self,
        p_accept: float,
        requested_id: str,
        substitute_id: str,
        aisle: str,
        outcome: str,
        x: Mapping[str, float],
        customer_id: str | None = None,
    ) -> None:
        """Look at one feedback event (every one: accepted ones build the customer record)."""
        record = None
        if customer_id is not None:
            record = self._customers.setdefault(customer_id, [0, 0])
            before = (record[0], record[1])
            record[0] += outcome == "accepted"
            record[1] += 1
        if outcome == "accepted":
            return
        self.seen += 1
        heap = self._heap
        if len(heap) >= self.capacity and p_accept <= heap[0][0]:
            return
        found = themes(x, self.rules)
        if record is not None:
            accepted, offered = before
            if offered >= CUSTOMER_MIN and accepted <= CUSTOMER_MAX_ACCEPTANCE * offered:
                found = (*found, "customer")  # this customer turns most substitutes down
        mistake = Mistake(p_accept, requested_id, substitute_id, aisle, outcome, found)
        entry = (p_accept, next(self._seq), mistake)
        if len(heap) < self.capacity:
            heapq.heappush(heap, entry)
        else:
            heapq.heapreplace(heap, entry)

    def worst(self) -> list[Mistake]:
        """Most confident first."""
        return [m for _, _, m in sorted(self._heap, key=lambda e: (-e[0], e[1]))]

    def theme_counts(self) -> Counter[str]:
        """How many of the kept mistakes show each theme ("none" when no theme fits)."""
        counts: Counter[str] = Counter()
        for _, _, mistake in self._heap:
            counts.update(mistake.themes or ("none",))
        return counts

    def aisle_counts(self) -> Counter[str]:
        return Counter(m.aisle for _, _, m in self._heap)
