"""Every way a live ranking ends is handed over once, with why; nothing else counts as an end.

The worker turns these into tombstones on the rankings topic (its table consumers drop the key)
and on its changelog, so the keys the engine holds live are exactly a table of the topic.
"""

from __future__ import annotations

from online_learning.availability import AvailabilityConfig
from online_learning.contract import CatalogTombstone, InventorySignal
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.rules import load_rules
from tests.online_learning.test_engine import CATALOG, MILK, T0, WALL, feedback, signal


def make_engine(half_life_s: float = 4 * 3600.0) -> SubstitutionEngine:
    return SubstitutionEngine(
        rules=load_rules(),
        config=EngineConfig(),
        availability=AvailabilityConfig(half_life_s=half_life_s),
        products=CATALOG,
        wall_clock=lambda: WALL,
    )


def test_a_restock_or_a_sighting_retires_the_ranking_once() -> None:
    engine = make_engine()
    engine.on_signal(signal(MILK, ts=T0))
    engine.on_signal(signal("oat", ts=T0))
    assert engine.take_retired() == {}
    engine.on_signal(signal(MILK, "in_stock", ts=T0 + 1))
    engine.on_signal(signal("oat", "found", ts=T0 + 1))
    assert engine.take_retired() == {("s1", MILK): "restock", ("s1", "oat"): "restock"}
    assert engine.take_retired() == {}  # handed over once
    assert engine.live_keys() == []


def test_a_signal_that_leaves_the_item_missing_retires_nothing() -> None:
    engine = make_engine()
    engine.on_signal(signal(MILK, ts=T0))
    engine.on_signal(signal(MILK, "out_of_stock", ts=T0 + 1))
    engine.on_signal(signal(MILK, "not_found", ts=T0 + 2))
    engine.on_signal(signal(MILK, "in_stock", ts=T0 - 5))  # stale: older than the state
    assert engine.take_retired() == {}
    assert engine.live_keys() == [("s1", MILK)]


def test_a_re_emitted_ranking_is_no_retirement() -> None:
    engine = make_engine()
    engine.on_signal(signal(MILK, ts=T0))
    # the substitute it offers first goes out: the ranking is replaced, not ended
    first = engine.live_ranking("s1", MILK)
    assert first is not None
    engine.on_signal(signal(first[0], "out_of_stock", ts=T0 + 1))
    assert engine.take_retired() == {}
    assert ("s1", MILK) in engine.live_keys()


def test_retired_then_ranked_again_before_the_hand_over_is_live() -> None:
    engine = make_engine()
    engine.on_signal(signal(MILK, ts=T0))
    engine.on_signal(signal(MILK, "in_stock", ts=T0 + 1))
    engine.on_signal(signal(MILK, "out_of_stock", ts=T0 + 2))
    # a tombstone sent after the new ranking would delete a live key from every table
    assert engine.take_retired() == {}
    assert engine.live_keys() == [("s1", MILK)]


def test_a_miss_that_aged_out_is_retired_by_the_model_update_pass() -> None:
    engine = make_engine(half_life_s=60.0)
    engine.on_signal(signal(MILK, ts=T0))
    engine.on_signal(signal("yogurt-greek", "out_of_stock", ts=T0))  # held: never ages out
    # an hour later (stream time) the miss has relaxed back to the prior, over the threshold
    engine.on_signal(InventorySignal("s2", "oat", "found", T0 + 3600))
    engine.on_feedback(feedback("oat"))
    engine.refresh()
    assert engine.take_retired() == {("s1", MILK): "aged_out"}
    assert engine.live_keys() == [("s1", "yogurt-greek")]


def test_an_item_that_left_the_catalog_is_retired_by_the_model_update_pass() -> None:
    engine = make_engine()
    engine.on_signal(signal("yogurt-greek", ts=T0))
    engine.on_signal(signal(MILK, ts=T0))
    engine.apply_catalog(CatalogTombstone("yogurt-greek"))
    engine.on_feedback(feedback("oat"))
    engine.refresh()
    assert engine.take_retired() == {("s1", "yogurt-greek"): "not_in_catalog"}
    assert engine.live_keys() == [("s1", MILK)]


def test_a_restore_that_finds_the_item_available_retires_the_ranking() -> None:
    engine = make_engine()
    engine.restore_availability("s1", MILK, 0.27, T0, False)
    engine.restore_availability("s1", "oat", 0.95, T0, False)
    assert engine.restore_live_ranking("s1", MILK, ("milk-skim-gal",))
    assert not engine.restore_live_ranking("s1", "oat", ("oat-gf",))
    assert engine.take_retired() == {("s1", "oat"): "not_restored"}
    assert engine.live_keys() == [("s1", MILK)]


def test_stores_that_move_away_are_forgotten_not_retired() -> None:
    engine = make_engine()
    engine.on_signal(signal(MILK, ts=T0))
    engine.on_signal(InventorySignal("s2", MILK, "not_found", T0))
    engine.on_signal(InventorySignal("s2", MILK, "in_stock", T0 + 1))  # retired, not handed over
    engine.forget_stores({"s1", "s2"})
    # the new owner has the key live (s1) or retires it itself (s2): no tombstone from here
    assert engine.take_retired() == {}
    assert engine.live_keys() == []
