"""The live-ranking books on their own: what is live, what offers what, what ended and why."""

from __future__ import annotations

import gc

from hypothesis import given
from hypothesis import strategies as st

from online_learning.live_rankings import LiveKey, LiveRankings

MILK: LiveKey = ("s1", "milk")
RICE: LiveKey = ("s1", "rice")
OAT: LiveKey = ("s1", "oat")


def test_a_remembered_ranking_is_live_with_its_substitutes() -> None:
    live = LiveRankings()
    live.remember(MILK, ("oat", "soy"))
    live.remember(("s2", "milk"), ("soy",))
    assert MILK in live and ("s2", "milk") in live and RICE not in live
    assert len(live) == 2
    assert live.substitutes(MILK) == ("oat", "soy")
    assert live.substitutes(RICE) is None
    # the reverse index is per store: s2's ranking is not re-ranked for s1's soy
    assert live.offering("s1", "soy") == ["milk"]
    assert live.offering("s2", "soy") == ["milk"]
    assert live.offering("s1", "rice") == []


def test_offering_is_sorted_whatever_the_order_rankings_arrived_in() -> None:
    live = LiveRankings()
    for item in ["rice", "milk", "oat"]:
        live.remember(("s1", item), ("soy",))
    assert live.offering("s1", "soy") == ["milk", "oat", "rice"]


def test_a_re_rank_replaces_the_substitutes_and_moves_the_key_last() -> None:
    live = LiveRankings()
    live.remember(MILK, ("oat", "soy"))
    live.remember(RICE, ("quinoa",))
    live.remember(MILK, ("soy", "almond"))
    assert live.substitutes(MILK) == ("soy", "almond")
    assert live.offering("s1", "oat") == []  # no longer offered: not re-ranked when oat runs out
    assert live.offering("s1", "almond") == ["milk"]
    assert list(live) == [RICE, MILK]  # the refresh pass visits keys in this order
    assert live.take_retired() == {}  # replaced, not ended: no tombstone


def test_retired_keys_are_handed_over_once_in_the_order_they_ended() -> None:
    live = LiveRankings()
    for key in [MILK, RICE, OAT]:
        live.remember(key, ("soy",))
    live.end(OAT, "restock")
    live.end(MILK, "aged_out")
    live.end(RICE, "not_in_catalog")
    assert list(live.take_retired().items()) == [
        (OAT, "restock"),
        (MILK, "aged_out"),
        (RICE, "not_in_catalog"),
    ]
    assert live.take_retired() == {}
    assert len(live) == 0 and live.offering("s1", "soy") == []


def test_a_key_ended_then_ranked_again_before_the_hand_over_is_not_retired() -> None:
    live = LiveRankings()
    live.remember(MILK, ("oat",))
    live.end(MILK, "restock")
    live.remember(MILK, ("soy",))  # a new miss, or a restore
    assert live.take_retired() == {}
    assert live.substitutes(MILK) == ("soy",)


def test_ending_a_key_again_keeps_its_place_and_takes_the_new_reason() -> None:
    live = LiveRankings()
    live.remember(MILK, ("oat",))
    live.remember(RICE, ("oat",))
    live.end(MILK, "restock")
    live.end(RICE, "restock")
    live.end(MILK, "not_restored")  # not live any more: only the reason changes
    assert list(live.take_retired().items()) == [(MILK, "not_restored"), (RICE, "restock")]


def test_a_key_that_was_never_live_can_end() -> None:
    # A restart's restore that finds the item available again retires a key it never made live,
    # so the tombstone the previous owner could not write is written.
    live = LiveRankings()
    live.end(OAT, "not_restored")
    assert OAT not in live
    assert live.take_retired() == {OAT: "not_restored"}


def test_a_dropped_ranking_is_neither_live_nor_retired() -> None:
    live = LiveRankings()
    live.remember(MILK, ("oat",))
    live.drop(MILK)
    live.drop(RICE)  # not live: nothing to do
    assert MILK not in live and live.offering("s1", "oat") == []
    assert live.take_retired() == {}


def test_forgotten_stores_lose_their_live_and_retired_keys_and_no_others() -> None:
    live = LiveRankings()
    live.remember(("s1", "milk"), ("oat",))
    live.remember(("s2", "milk"), ("oat",))
    live.remember(("s3", "milk"), ("oat",))
    live.remember(("s1", "rice"), ("oat",))
    live.end(("s1", "rice"), "restock")
    live.remember(("s3", "rice"), ("oat",))
    live.end(("s3", "rice"), "restock")
    live.forget_stores({"s1", "s2"})
    assert list(live) == [("s3", "milk")]
    assert live.offering("s1", "oat") == [] and live.offering("s2", "oat") == []
    assert live.offering("s3", "oat") == ["milk"]
    assert live.take_retired() == {("s3", "rice"): "restock"}  # s1's is its new owner's call


_keys = st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["a", "b", "c", "d"]))
_ids = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=4, unique=True).map(tuple)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("remember"), _keys, _ids),
        st.tuples(st.just("end"), _keys, st.just(())),
        st.tuples(st.just("drop"), _keys, st.just(())),
        st.tuples(st.just("forget"), _keys, st.just(())),
    ),
    max_size=30,
)


@given(_ops)
def test_the_reverse_index_always_matches_the_live_rankings(
    ops: list[tuple[str, LiveKey, tuple[str, ...]]],
) -> None:
    live = LiveRankings()
    model: dict[LiveKey, tuple[str, ...]] = {}
    for op, key, ids in ops:
        if op == "remember":
            live.remember(key, ids)
            model.pop(key, None)
            model[key] = ids
        elif op == "end":
            live.end(key, "restock")
            model.pop(key, None)
        elif op == "drop":
            live.drop(key)
            model.pop(key, None)
        else:
            live.forget_stores({key[0]})
            model = {k: v for k, v in model.items() if k[0] != key[0]}
    assert list(live) == list(model)
    for store in ["s1", "s2"]:
        for sub in "abcde":
            expected = sorted(item for (s, item), ids in model.items() if s == store and sub in ids)
            assert live.offering(store, sub) == expected
    assert not set(live.take_retired()) & set(model)  # a live key is never also retired


def test_the_reverse_index_leaves_the_cyclic_gc_s_books() -> None:
    # A serving worker holds one entry per (store, offered item), tens of thousands: as sets,
    # every full collection walked them all (docs/performance.md, garbage-collection stalls).
    live = LiveRankings()
    for i in range(50):
        live.remember(("s1", f"item{i}"), ("oat", "soy", f"only{i}"))
    live.remember(("s1", "item7"), ("soy", "rice"))
    live.drop(("s1", "item3"))
    gc.collect()
    index = live._offered_in
    assert not [entry for entry in (*index, *index.values()) if gc.is_tracked(entry)]
    assert live.offering("s1", "soy") == sorted(f"item{i}" for i in range(50) if i != 3)
