"""Popularity through the engine: workers that see different signals but share one learning log
hold the same popularity and learn the same model; a restart from the log gets it back; the
catalog's figure seeds it; a cached candidate block never serves an old value."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from online_learning.contract import (
    CatalogTombstone,
    DemandSummary,
    Feedback,
    InventorySignal,
    decode_demand,
    encode_demand,
)
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.popularity import PopularityConfig
from online_learning.rules import load_rules
from tests.conftest import milk

T0 = 1_700_000_000.0
MILK = "milk-whole-gal"
CATALOG = [
    dataclasses.replace(milk(MILK, "Acme Whole Milk 1 gal", 3.99, "acme"), popularity=900.0),
    dataclasses.replace(
        milk("milk-2pct", "Acme Reduced Fat Milk 1 gal", 3.89, "acme"), popularity=300.0
    ),
    milk("milk-skim", "Acme Skim Milk 1 gal", 3.79, "acme"),
    milk("milk-half", "Dairyland Whole Milk 64 fl oz", 2.49, "dairyland"),
    milk("oat", "Oatside Oat Milk 64 fl oz", 4.29, "oatside"),
    milk("oat-2", "Oatside Barista Oat Milk 64 fl oz", 4.49, "oatside"),
]
ITEMS = [p.item_id for p in CATALOG]
# Little seed weight, so that the stream's demand shows within a test's few hundred looks.
CONFIG = EngineConfig(popularity=PopularityConfig(seed_weight=50.0), explore_epsilon=0.0)


def make_engine(**config: Any) -> SubstitutionEngine:
    return SubstitutionEngine(
        rules=load_rules(),
        config=dataclasses.replace(CONFIG, **config),
        products=CATALOG,
        wall_clock=lambda: 0.0,
    )


def signal(store: str, item: str, kind: str, ts: float) -> InventorySignal:
    return InventorySignal(store, item, kind, ts)


def feedback(n: int, store: str, item: str, sub: str) -> Feedback:
    outcome = "accepted" if n % 3 else "rejected"
    return Feedback(f"fb-{n}", store, item, sub, outcome, T0 + 600.0 + n)


LogRecord = Feedback | DemandSummary


def replay(engine: SubstitutionEngine, log: list[LogRecord]) -> None:
    """What a learning-log reader does with each record, in log order."""
    for record in log:
        if isinstance(record, Feedback):
            engine.on_feedback(record)
        else:
            engine.apply_demand(record)


def through_the_log(summary: DemandSummary | None) -> list[LogRecord]:
    """A worker's summary as the other workers read it back: encoded, split, decoded."""
    if summary is None:
        return []
    return [decode_demand(value) for _, value in encode_demand(summary, max_items=2)]


def test_signals_are_counted_for_the_log_and_change_nothing_until_it_comes_back() -> None:
    engine = make_engine()
    before = (engine.popularity_digest(), [engine.popularity_of(i) for i in ITEMS])
    for kind, ts in (("found", T0), ("not_found", T0 + 5), ("out_of_stock", T0 + 9)):
        engine.apply_signal(signal("s1", "oat", kind, ts))
    engine.apply_signal(signal("s2", "oat", "found", T0 + 2))
    engine.apply_signal(signal("s2", "milk-half", "in_stock", T0 + 3))
    engine.apply_signal(signal("s1", "oat", "found", T0 + 1))  # stale for availability
    assert (engine.popularity_digest(), [engine.popularity_of(i) for i in ITEMS]) == before
    summary = engine.take_demand()
    # found and not_found are looks, stock reports are not; a stale look is still a look
    assert summary == DemandSummary(T0 + 5, (("oat", 4),))
    assert engine.take_demand() is None
    engine.apply_demand(summary)
    assert engine.popularity_of("oat") > before[1][ITEMS.index("oat")]


def test_two_workers_and_a_restart_hold_the_same_popularity_and_model_from_one_log() -> None:
    a, b = make_engine(), make_engine()  # a owns store s1, b owns s2: they see other signals
    log: list[LogRecord] = []
    for minute in range(6):
        ts = T0 + 60.0 * minute
        for i, item in enumerate(ITEMS):
            for _ in range(minute + i):
                a.apply_signal(signal("s1", item, "found", ts))
        a.apply_signal(signal("s1", "milk-skim", "not_found", ts))  # a ranks milk-skim at s1
        b.apply_signal(signal("s2", "oat-2", "not_found", ts))  # b ranks oat-2 at s2
        b.apply_signal(signal("s2", "oat", "found", ts))
        # the log interleaves both workers' summaries with the feedback of both
        new = through_the_log(a.take_demand())
        new.append(feedback(2 * minute, "s1", "milk-skim", "milk-half"))
        new += through_the_log(b.take_demand())
        new.append(feedback(2 * minute + 1, "s2", "oat-2", "oat"))
        log += new
        replay(a, new)  # a keeps up with the log; b reads it all at the end
    replay(b, log)
    restarted = make_engine()  # a worker restarted: it has the log and nothing else
    replay(restarted, log)
    seeds_only = make_engine()
    assert a.popularity_digest() == b.popularity_digest() == restarted.popularity_digest()
    assert a.model_digest() == b.model_digest() == restarted.model_digest()
    values = [[e.popularity_of(i) for i in ITEMS] for e in (a, b, restarted, seeds_only)]
    assert values[0] == values[1] == values[2] != values[3]  # learned, and learned alike
    requested, candidate = a.catalog.get("oat-2"), a.catalog.get("oat")
    assert requested is not None and candidate is not None
    assert a.p_accept(requested, candidate) == restarted.p_accept(requested, candidate)


def test_the_catalog_figure_seeds_popularity_and_follows_its_updates() -> None:
    engine = make_engine()
    assert engine.popularity_of(MILK) == pytest.approx(1.0)  # 900 is the largest figure
    assert 0.0 < engine.popularity_of("milk-2pct") < 1.0
    assert engine.popularity_of("oat") == 0.0  # no figure, no looks yet
    oat = engine.catalog.get("oat")
    assert oat is not None
    engine.apply_catalog(dataclasses.replace(oat, popularity=9000.0))  # the grocer sends one
    assert engine.popularity_of("oat") == pytest.approx(1.0)
    assert engine.popularity_of(MILK) < 1.0
    engine.apply_catalog(CatalogTombstone("oat"))
    assert engine.popularity_of(MILK) == pytest.approx(1.0)
    loaded = SubstitutionEngine(config=CONFIG)
    loaded.load_catalog(CATALOG)  # a worker's start: the backlog at once
    assert loaded.popularity_digest() == make_engine().popularity_digest()


def test_a_learned_feedback_event_is_a_look_at_its_requested_item_and_a_repeat_is_not() -> None:
    engine = make_engine()
    before = engine.popularity_of("milk-skim")
    event = feedback(1, "s1", "milk-skim", "milk-half")
    engine.on_feedback(event)
    after = engine.popularity_of("milk-skim")
    assert after > before
    assert engine.popularity_of("milk-half") == 0.0  # offered, not asked for
    digest = engine.popularity_digest()
    engine.on_feedback(event)
    assert engine.popularity_digest() == digest


def test_a_cached_candidate_block_ranks_with_the_popularity_of_now() -> None:
    engine = make_engine()
    first = engine.on_signal(signal("s1", MILK, "not_found", T0))[0]
    p_oat = next(s.p_accept for s in first.substitutes if s.item_id == "oat")
    engine.apply_demand(DemandSummary(T0 + 60, (("oat", 5000),)))  # after the block was built
    again = engine.on_signal(signal("s2", MILK, "not_found", T0 + 61))[0]  # the cached block
    p_oat_now = next(s.p_accept for s in again.substitutes if s.item_id == "oat")
    requested, oat = engine.catalog.get(MILK), engine.catalog.get("oat")
    assert requested is not None and oat is not None
    assert p_oat_now > p_oat  # the prior likes popular items
    assert p_oat_now == pytest.approx(engine.p_accept(requested, oat), rel=1e-12)
