"""Which rankings are live, what they offer, and why the ones that ended did.

A *live ranking* is the substitutes a worker last published for a (store, requested item)
that is out of stock. The engine decides when one starts, changes or ends;
:class:`LiveRankings` keeps the books: the substitute ids of each live ranking, the reverse
index a stock signal needs (which live rankings at a store offer this substitute, so they can
be re-ranked without it), and the reasons of the rankings that ended and have not been handed
to the worker yet (each becomes a tombstone on the rankings topic, in the order they ended).

A ranking that stops being live without ending (its store moved to another worker) is
dropped without a reason: the key is still live, on its new owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

__all__ = ["LiveKey", "LiveRankings"]

LiveKey: TypeAlias = tuple[str, str]  # (store id, requested item id)


class LiveRankings:
    """The live rankings of one worker, with the reverse index and the retired keys.

    >>> live = LiveRankings()
    >>> live.remember(("s1", "milk"), ("oat", "soy"))
    >>> live.remember(("s1", "rice"), ("soy",))
    >>> live.offering("s1", "soy")  # soy ran out: these rankings must be re-ranked
    ['milk', 'rice']
    >>> live.end(("s1", "milk"), "restock")
    >>> live.offering("s1", "soy"), len(live)
    (['rice'], 1)
    >>> live.take_retired(), live.take_retired()
    ({('s1', 'milk'): 'restock'}, {})
    """

    def __init__(self) -> None:
        # (store, requested item) -> substitute ids, in the order the keys became live
        self._live: dict[LiveKey, tuple[str, ...]] = {}
        # (store, substitute) -> requested items whose live ranking at that store offers it,
        # as the keys of a dict (an ordered set with O(1) add and remove: a popular
        # substitute is offered by a hundred live rankings at a store, and a re-rank moves
        # each of its ten). Not sets: a dict of strings stays out of the cyclic GC's books
        # (a set never does), and there is one per (store, offered item), tens of thousands,
        # which every full collection would walk.
        self._offered_in: dict[tuple[str, str], dict[str, None]] = {}
        # (store, requested item) -> why its live ranking ended, in the order they ended
        self._retired: dict[LiveKey, str] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[LiveKey]:
        """The live keys, in the order they became live (a re-rank moves its key last)."""
        return iter(self._live)

    def substitutes(self, key: LiveKey) -> tuple[str, ...] | None:
        """Substitute ids of the live ranking of ``key``, or None if it has none."""
        return self._live.get(key)

    def offering(self, store_id: str, substitute_id: str) -> list[str]:
        """Requested items whose live ranking at ``store_id`` offers ``substitute_id``, sorted."""
        return sorted(self._offered_in.get((store_id, substitute_id), ()))

    def remember(self, key: LiveKey, substitute_ids: tuple[str, ...]) -> None:
        """Make ``key`` live with these substitutes (a new ranking, a re-rank or a restore).

        It replaces the key's previous ranking, and a key that ended since the last
        :meth:`take_retired` is live again, so it is no longer retired.
        """
        self.drop(key)
        self._retired.pop(key, None)
        self._live[key] = substitute_ids
        store_id, item_id = key
        offered_in = self._offered_in
        for sub in substitute_ids:
            holders = offered_in.get((store_id, sub))
            if holders is None:
                offered_in[(store_id, sub)] = {item_id: None}
            else:
                holders[item_id] = None

    def end(self, key: LiveKey, why: str) -> None:
        """The ranking of ``key`` ended: drop it and note ``why`` for :meth:`take_retired`.

        A key noted already keeps its place in the order and takes the new reason.
        """
        self.drop(key)
        self._retired[key] = why

    def drop(self, key: LiveKey) -> None:
        """Forget the live ranking of ``key``, if any, without retiring it."""
        store_id, item_id = key
        offered_in = self._offered_in
        for sub in self._live.pop(key, ()):
            holders = offered_in.get((store_id, sub))
            if holders is not None:
                holders.pop(item_id, None)
                if not holders:
                    del offered_in[(store_id, sub)]

    def take_retired(self) -> dict[LiveKey, str]:
        """The keys whose ranking ended since the last call, in the order they ended, with
        why; a key made live again before the call is not among them."""
        retired, self._retired = self._retired, {}
        return retired

    def forget_stores(self, store_ids: set[str] | frozenset[str]) -> None:
        """Drop the live rankings of these stores and their retired keys, unhanded: another
        worker owns the stores now and decides whether their rankings ended."""
        for key in [k for k in self._live if k[0] in store_ids]:
            self.drop(key)
        for key in [k for k in self._retired if k[0] in store_ids]:
            del self._retired[key]
