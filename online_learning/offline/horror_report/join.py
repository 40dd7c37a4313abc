"""Join each feedback event to the offer that preceded it, to learn what the model expected.

Feedback names its offer in one of three ways, tried in this order:

1. ``ranking_id``: the ``substitutions.rankings`` event the shopper offered from;
2. ``order_id`` and the requested ``item_id``: the ``substitutions.replies`` event answering
   that order's request for that item (replies carry no ranking id; feedback carries no
   request id);
3. neither: the latest ranking of the store for the requested item published before the
   feedback (the rankings topic is a table keyed by ``store_id:item_id``).

Each way yields the offer's ``p_accept`` for the substitute the customer was given; a
substitute the offer did not list (the shopper's own pick) joins to nothing.

>>> from online_learning.contract import Feedback, Ranking, Substitute
>>> offers = OfferIndex()
>>> offers.add_ranking(Ranking("rk-1", "s1", "milk", (Substitute("oat", 0.5, 0.9, 0.8),),
...     None, "v1", "stock_out", ts=10.0, source_ts=9.0))
>>> fb = Feedback("e1", "s1", "milk", "oat", "rejected", ts=20.0, ranking_id="rk-1")
>>> offers.offer_for(fb)
Offer(p_accept=0.9, position=0, via='ranking', ts=10.0)
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from online_learning.contract import Feedback, Ranking, Reply, ReplySubstitute, Substitute

__all__ = ["Offer", "OfferIndex", "Verdict", "join"]

# How far back through one store's rankings of an item a feedback event looks for the
# substitute (way 3): far enough for a few refreshes, bounded for a busy key.
STORE_RANKING_LOOKBACK = 50


@dataclass(frozen=True, slots=True)
class Offer:
    """What the model said of one substitute when it was offered."""

    p_accept: float
    position: int  # 0-based place in the offer's list
    via: str  # "ranking", "reply" or "store_ranking": which way the join found it
    ts: float  # when the offer was published


# substitute id -> (p_accept, position)
_Listed = dict[str, tuple[float, int]]


def _listed(substitutes: Sequence[Substitute | ReplySubstitute]) -> _Listed:
    out: _Listed = {}
    for position, s in enumerate(substitutes):
        out.setdefault(s.item_id, (s.p_accept, position))
    return out


class OfferIndex:
    """Rankings and replies, indexed the three ways feedback can refer to them.

    ``answered``: the feedback to be joined, if known before the offers are read; then only
    the offers it can refer to are kept (a day of rankings outweighs its feedback many times).
    """

    def __init__(self, answered: Iterable[Feedback] | None = None) -> None:
        self._wanted: tuple[set[str], set[tuple[str, str]], set[tuple[str, str]]] | None = None
        if answered is not None:
            ids: set[str] = set()
            orders: set[tuple[str, str]] = set()
            keys: set[tuple[str, str]] = set()
            for fb in answered:
                if fb.ranking_id is not None:
                    ids.add(fb.ranking_id)
                if fb.order_id is not None:
                    orders.add((fb.order_id, fb.item_id))
                keys.add((fb.store_id, fb.item_id))
            self._wanted = (ids, orders, keys)
        self._by_ranking: dict[str, tuple[float, _Listed]] = {}
        self._by_order: dict[tuple[str, str], tuple[float, _Listed]] = {}
        # (store, requested item) -> rankings by publication time: (ts, seq, listed)
        self._by_key: dict[tuple[str, str], list[tuple[float, int, _Listed]]] = {}
        self._seq = 0
        self.rankings = 0
        self.replies = 0

    def add_ranking(self, ranking: Ranking) -> None:
        self.rankings += 1
        if self._wanted is not None and not (
            ranking.ranking_id in self._wanted[0]
            or (ranking.store_id, ranking.item_id) in self._wanted[2]
        ):
            return
        listed = _listed(ranking.substitutes)
        self._by_ranking[ranking.ranking_id] = (ranking.ts, listed)
        self._seq += 1
        bisect.insort(
            self._by_key.setdefault((ranking.store_id, ranking.item_id), []),
            (ranking.ts, self._seq, listed),
            key=lambda entry: (entry[0], entry[1]),
        )

    def add_reply(self, reply: Reply) -> None:
        self.replies += 1
        key = (reply.order_id, reply.item_id)
        if self._wanted is not None and key not in self._wanted[1]:
            return
        # a re-sent request gets a second reply: the later one is what the shopper saw last
        known = self._by_order.get(key)
        if known is None or known[0] <= reply.ts:
            self._by_order[key] = (reply.ts, _listed(reply.substitutes))

    def offer_for(self, feedback: Feedback) -> Offer | None:
        """The offer ``feedback`` answers, or None when none listed its substitute."""
        sub = feedback.substitute_id
        if feedback.ranking_id is not None:
            found = self._by_ranking.get(feedback.ranking_id)
            if found is not None and sub in found[1]:
                p, position = found[1][sub]
                return Offer(p, position, "ranking", found[0])
        if feedback.order_id is not None:
            found = self._by_order.get((feedback.order_id, feedback.item_id))
            if found is not None and sub in found[1]:
                p, position = found[1][sub]
                return Offer(p, position, "reply", found[0])
        history = self._by_key.get((feedback.store_id, feedback.item_id))
        if history:
            # the latest ranking published at or before the feedback that lists the substitute
            at = bisect.bisect_right(history, feedback.ts, key=lambda entry: entry[0])
            for i in range(at - 1, max(at - STORE_RANKING_LOOKBACK, 0) - 1, -1):
                ts, _, listed = history[i]
                if sub in listed:
                    p, position = listed[sub]
                    return Offer(p, position, "store_ranking", ts)
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One feedback event with what the customer said and the offer it answered (None when
    no offer read lists its substitute).

    ``comment`` and ``reasons`` are the customer's own words and reason codes, as sent: untrusted
    text, escaped by each renderer.
    """

    feedback: Feedback
    offer: Offer | None = None
    comment: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def p_accept(self) -> float | None:
        return None if self.offer is None else self.offer.p_accept

    @property
    def mistaken(self) -> bool:
        """Rejected or refunded: the customer did not keep the substitute."""
        return self.feedback.outcome != "accepted"


def join(
    feedback: Iterable[tuple[Feedback, str | None, tuple[str, ...]]], offers: OfferIndex
) -> list[Verdict]:
    """Each (feedback, comment, reasons) joined to its offer, in the order given."""
    return [
        Verdict(fb, offers.offer_for(fb), comment, reasons) for fb, comment, reasons in feedback
    ]
