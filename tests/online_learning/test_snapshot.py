"""Snapshots of the learned state: a worker restored from one and fed the rest of the learning
log holds exactly the model of a worker that replayed all of it; damaged, foreign or
mismatched snapshots are refused with SnapshotError (the caller then replays everything)."""

from __future__ import annotations

import dataclasses
import random
import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.acceptance_history import AcceptanceHistory
from online_learning.contract import DemandSummary, Feedback, Product
from online_learning.effects import LEVELS, EffectsConfig, Key, RandomEffects
from online_learning.engine import EngineConfig, FeedbackResult, SubstitutionEngine
from online_learning.features import FEATURES
from online_learning.monitoring import LearningMonitor
from online_learning.personal import CustomerTastes, TastesConfig
from online_learning.popularity import Popularity, PopularityConfig
from online_learning.recent_ids import RecentIds
from online_learning.snapshot import (
    SNAPSHOT_VERSION,
    SnapshotError,
    decode_state,
    encode_state,
    engine_snapshot,
    restore_engine,
)
from tests.conftest import milk

T0 = 1_700_000_000.0
BRANDS = ("acme", "dairyland", "oatside", None)
CATALOG: list[Product] = [
    dataclasses.replace(
        milk(
            f"milk-{i:02d}",
            f"{(BRANDS[i % 4] or 'Farm').title()} {('Whole', 'Skim', 'Oat', 'Goat')[i % 4]} Milk",
            2.0 + 0.25 * i,
            BRANDS[i % 4],
            size=(0.5, 1.0, 1.89)[i % 3],
            unit="l",
            tags=("organic",) if i % 5 == 0 else (),
        ),
        popularity=None if i % 3 else float(10 * i),
    )
    for i in range(24)
]
ITEMS = [p.item_id for p in CATALOG]
# Every effect level on, a small taste capacity (evictions happen), little seed weight (the
# stream's demand shows), so the log exercises every learned part.
CONFIG = EngineConfig(
    effects=EffectsConfig(levels=frozenset(LEVELS)),
    tastes=TastesConfig(capacity=12),
    popularity=PopularityConfig(seed_weight=50.0),
    explore_epsilon=0.0,
)


def learning_log(n: int, seed: int = 3) -> list[Feedback | DemandSummary]:
    """Feedback (with and without customers, some re-delivered) and demand summaries."""
    rng = random.Random(seed)
    out: list[Feedback | DemandSummary] = []
    sent: list[Feedback] = []
    for i in range(n):
        ts = T0 + 600.0 * i  # ~ a week of log in 1,000 records: the fading shows
        if sent and rng.random() < 0.08:
            out.append(rng.choice(sent[-50:]))  # a re-delivered event: a duplicate
        elif rng.random() < 0.1:
            counts = sorted({(rng.choice(ITEMS), rng.randint(1, 30)) for _ in range(4)})
            out.append(DemandSummary(ts, tuple(dict(counts).items())))
        else:
            requested, substitute = rng.sample(ITEMS, 2)
            customer = None if rng.random() < 0.2 else f"customer-{rng.randrange(20)}"
            outcome = rng.choice(("accepted", "rejected", "refunded"))
            event = Feedback(
                f"e{i}", "s1", requested, substitute, outcome, ts, customer_id=customer
            )
            sent.append(event)
            out.append(event)
    return out


def new_engine(**config: Any) -> SubstitutionEngine:
    engine = SubstitutionEngine(config=dataclasses.replace(CONFIG, **config), wall_clock=lambda: T0)
    engine.load_catalog(CATALOG)
    return engine


def feed(engine: SubstitutionEngine, records: list[Feedback | DemandSummary]) -> list[str]:
    """Apply records in log order; what each feedback event did and predicted (the model's and
    the content prior's P(accept), which the monitor scores)."""
    results = []
    for record in records:
        if isinstance(record, DemandSummary):
            engine.apply_demand(record)
        else:
            outcome = engine.on_feedback(record)
            results.append(f"{outcome.result.value} {outcome.p!r} {outcome.prior_p!r}")
    return results


def predictions(engine: SubstitutionEngine) -> list[float]:
    products = {p.item_id: p for p in CATALOG}
    pairs = [(ITEMS[i], ITEMS[(i * 7 + 3) % len(ITEMS)]) for i in range(len(ITEMS))]
    return [engine.p_accept(products[r], products[c]) for r, c in pairs if r != c]


def ranking(engine: SubstitutionEngine) -> tuple[str, ...]:
    from online_learning.contract import InventorySignal

    [ranked] = engine.on_signal(InventorySignal("s1", ITEMS[0], "not_found", T0 + 700_000.0))
    return ranked.substitute_ids()


@pytest.fixture(scope="module")
def log() -> list[Feedback | DemandSummary]:
    return learning_log(1000)


@pytest.mark.parametrize("cut", [0, 1, 400, 999, 1000])
def test_restored_engine_fed_the_tail_equals_a_full_replay(
    log: list[Feedback | DemandSummary], cut: int
) -> None:
    full = new_engine()
    full_results = feed(full, log)
    assert any(r.startswith("duplicate") for r in full_results)

    head = new_engine()
    feed(head, log[:cut])
    data = engine_snapshot(head, {"offset": cut, "learned": 7})

    restored = new_engine()
    assert restore_engine(restored, data) == {"offset": cut, "learned": 7}
    tail_results = feed(restored, log[cut:])

    assert restored.model_digest() == full.model_digest()
    assert restored.popularity_digest() == full.popularity_digest()
    assert tail_results == full_results[len(full_results) - len(tail_results) :]
    assert predictions(restored) == predictions(full)
    assert restored.tastes is not None and full.tastes is not None
    assert restored.tastes.digest() == full.tastes.digest()
    assert ranking(restored) == ranking(full)


def test_a_duplicate_from_before_the_snapshot_is_still_a_duplicate(
    log: list[Feedback | DemandSummary],
) -> None:
    head = new_engine()
    feed(head, log[:500])
    restored = new_engine()
    restore_engine(restored, engine_snapshot(head, {}))
    before = next(r for r in log[:500] if isinstance(r, Feedback))
    digest = restored.model_digest()
    assert restored.on_feedback(before).result is FeedbackResult.DUPLICATE
    assert restored.model_digest() == digest


def test_a_bounded_dedup_window_keeps_only_the_newest_ids(
    log: list[Feedback | DemandSummary],
) -> None:
    head = new_engine()
    feed(head, log[:500])
    restored = new_engine()
    restore_engine(restored, engine_snapshot(head, {}, dedup_window=10))
    events = [r for r in log[:500] if isinstance(r, Feedback)]
    assert restored.has_learned(events[-1].event_id)
    assert not restored.has_learned(events[0].event_id)  # older than the window


def test_the_learned_state_survives_a_restart_into_an_idle_engine() -> None:
    """A snapshot of an engine that learned nothing restores to one equal to a fresh one."""
    fresh = new_engine()
    restored = new_engine()
    restore_engine(restored, engine_snapshot(new_engine(), {}))
    assert restored.model_digest() == fresh.model_digest()
    assert restored.popularity_digest() == fresh.popularity_digest()


@pytest.mark.parametrize("codec", ["none", "zlib", "lzma"])
def test_every_codec_restores_the_same_model(
    log: list[Feedback | DemandSummary], codec: str
) -> None:
    head = new_engine()
    feed(head, log[:300])
    restored = new_engine()
    restore_engine(restored, engine_snapshot(head, {}, codec=codec))
    assert restored.model_digest() == head.model_digest()


@pytest.fixture(scope="module")
def snapshot(log: list[Feedback | DemandSummary]) -> bytes:
    head = new_engine()
    feed(head, log[:300])
    return engine_snapshot(head, {"offset": 300})


def damaged(data: bytes) -> Iterator[tuple[str, bytes]]:
    yield "empty", b""
    yield "header only", data[:20]
    yield "truncated body", data[:-1]
    yield "one byte longer", data + b"\x00"
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    yield "a flipped bit", bytes(flipped)
    yield "another format", b"PK\x03\x04" + data[4:]
    version = bytearray(data)
    struct.pack_into(">H", version, 8, SNAPSHOT_VERSION + 1)
    yield "a newer version", bytes(version)


@pytest.mark.parametrize("case", [name for name, _ in damaged(b"x" * 64)])
def test_damaged_snapshots_are_refused_and_leave_the_engine_alone(
    snapshot: bytes, case: str
) -> None:
    data = dict(damaged(snapshot))[case]
    engine = new_engine()
    digest = engine.model_digest()
    with pytest.raises(SnapshotError):
        restore_engine(engine, data)
    assert engine.model_digest() == digest
    assert engine.model.n_learned == 0


def test_a_snapshot_of_another_learning_configuration_is_refused(snapshot: bytes) -> None:
    other = new_engine(tastes=TastesConfig(capacity=12, shrink=3.0))
    with pytest.raises(SnapshotError, match="configuration"):
        restore_engine(other, snapshot)
    without_tastes = new_engine(tastes=None)
    with pytest.raises(SnapshotError, match="configuration"):
        restore_engine(without_tastes, snapshot)


def test_an_engine_that_already_learned_is_refused(
    snapshot: bytes, log: list[Feedback | DemandSummary]
) -> None:
    engine = new_engine()
    feed(engine, log[:5])
    with pytest.raises(SnapshotError, match="learned nothing"):
        restore_engine(engine, snapshot)


def unchanged(engine: SubstitutionEngine, fresh: SubstitutionEngine) -> bool:
    return (
        engine.model_digest() == fresh.model_digest()
        and engine.popularity_digest() == fresh.popularity_digest()
        and predictions(engine) == predictions(fresh)
        and len(engine.seen_feedback) == 0
        and engine.features.history.items == {}
    )


@pytest.mark.parametrize("part", ["tastes", "history", "popularity", "seen_feedback"])
def test_a_state_that_does_not_fit_is_refused_and_leaves_the_engine_alone(
    snapshot: bytes, log: list[Feedback | DemandSummary], part: str
) -> None:
    """A well-formed snapshot whose parts do not fit (a bug, or a crafted record): the same
    engine can replay the whole log instead."""
    state = decode_state(snapshot)
    if part == "tastes":
        state["tastes"]["hessian"] = state["tastes"]["hessian"][:, :2]
    elif part == "history":
        state["history"]["pair_counts"] = state["history"]["pair_counts"][:-1]
    elif part == "popularity":
        state["popularity"]["demand"] = state["popularity"]["demand"][:-1]
    else:
        state["seen_feedback"]["ids"].append(17)
    engine = new_engine()
    with pytest.raises(SnapshotError, match="does not fit"):
        restore_engine(engine, encode_state(state))
    assert unchanged(engine, new_engine())
    full = new_engine()
    feed(engine, log)
    feed(full, log)
    assert engine.model_digest() == full.model_digest()
    assert engine.popularity_digest() == full.popularity_digest()


def test_a_state_whose_model_digest_differs_is_refused(snapshot: bytes) -> None:
    state = decode_state(snapshot)
    state["model"]["intercept"] += 1e-9
    engine = new_engine()
    with pytest.raises(SnapshotError, match="digest"):
        restore_engine(engine, encode_state(state))
    assert unchanged(engine, new_engine())


def test_object_arrays_cannot_be_snapshotted() -> None:
    with pytest.raises(TypeError):
        encode_state({"ids": np.array(["a", "b"], dtype=object)})


# -- round trips of the small classes ------------------------------------------------------------
ids = st.text("abcdef0123456789-", min_size=1, max_size=6)
finite = st.floats(-1e6, 1e6, allow_nan=False)
brands = st.sampled_from(BRANDS)


def round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """Through the byte format, as a snapshot carries it."""
    return decode_state(encode_state(state))


@settings(max_examples=40, deadline=None)
@given(st.lists(ids, max_size=30), st.integers(1, 10), st.lists(ids, max_size=5))
def test_recent_ids_round_trip(added: list[str], capacity: int, later: list[str]) -> None:
    original, copy = RecentIds(capacity), RecentIds(capacity)
    for i in added:
        original.add(i)
    copy.load_state(round_trip(original.state()))
    assert [copy.add(i) for i in later] == [original.add(i) for i in later]
    assert original.state() == copy.state()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(ids, ids, st.booleans()), max_size=30))
def test_acceptance_history_round_trip(updates: list[tuple[str, str, bool]]) -> None:
    original, copy = AcceptanceHistory(), AcceptanceHistory()
    copy.codes(["unrelated", "items", "coded", "first"])  # codes a block holds stay valid
    for r, c, y in updates:
        original.update(r, c, y)
    copy.load_state(round_trip(original.state()))
    assert copy.items == original.items and copy.pairs == original.pairs
    names = sorted({c for _, c, _ in updates} | {"never"})
    item = np.zeros(len(names))
    pair = np.zeros(len(names))
    item_copy, pair_copy = np.zeros(len(names)), np.zeros(len(names))
    positions = {name: row for row, name in enumerate(names)}
    for r in {r for r, _, _ in updates}:
        original.fill_codes(r, original.codes(names), positions, item, pair)
        copy.fill_codes(r, copy.codes(names), positions, item_copy, pair_copy)
        assert item.tolist() == item_copy.tolist() and pair.tolist() == pair_copy.tolist()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(ids, ids, brands, brands, st.booleans(), finite),
        max_size=30,
    )
)
def test_random_effects_round_trip(
    updates: list[tuple[str, str, str | None, str | None, bool, float]],
) -> None:
    config = EffectsConfig(levels=frozenset(LEVELS))
    original, copy = RandomEffects(config), RandomEffects(config)
    keys = [Key(r, c, "aisle", rb, cb) for r, c, rb, cb, _, _ in updates]
    for key, (*_, y, logit) in zip(keys, updates, strict=True):
        original.update(key, y, logit / 1e5)
    copy.load_state(round_trip(original.state()))
    assert copy.summary() == original.summary()
    for key in keys:
        assert copy.offset(key) == original.offset(key)
        positions = {key.candidate_id: 0}
        codes = np.array([0 if key.candidate_brand else -1])
        brand_names = [key.candidate_brand or ""]
        args = (key.requested_id, key.requested_brand, "aisle", positions, codes, brand_names)
        assert copy.offsets(*args).tolist() == original.offsets(*args).tolist()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(ITEMS), st.integers(1, 50), st.floats(0, 90 * 86_400.0)),
        max_size=30,
    )
)
def test_popularity_round_trip(looks: list[tuple[str, int, float]]) -> None:
    seeds = {ITEMS[0]: 50.0, ITEMS[1]: 5.0}
    original = Popularity(PopularityConfig(seed_weight=10.0), seeds)
    copy = Popularity(PopularityConfig(seed_weight=10.0), seeds)
    for item, count, dt in looks:
        original.observe(item, count, T0 + dt)
    copy.load_state(round_trip(original.state()))
    assert copy.digest() == original.digest()
    assert [copy.value(i) for i in ITEMS] == [original.value(i) for i in ITEMS]
    original.observe(ITEMS[2], 3, T0 + 100 * 86_400.0)
    copy.observe(ITEMS[2], 3, T0 + 100 * 86_400.0)
    assert [copy.value(i) for i in ITEMS] == [original.value(i) for i in ITEMS]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 2**32 - 1), st.booleans(), finite),
        max_size=25,
    ),
    st.integers(1, 5),
)
def test_customer_tastes_round_trip(
    events: list[tuple[int, int, bool, float]], capacity: int
) -> None:
    config = TastesConfig(capacity=capacity)
    original, copy = CustomerTastes(config), CustomerTastes(config)
    rows = {s: np.random.default_rng(s).normal(size=len(FEATURES)) for _, s, _, _ in events}
    for customer, seed, y, logit in events:
        original.learn_one(f"c{customer}", rows[seed], y, logit / 1e6)
    copy.load_state(round_trip(original.state()))
    assert copy.digest() == original.digest()
    for customer, seed, y, logit in events[:5]:  # learning goes on alike, evictions too
        original.learn_one(f"c{customer + 3}", rows[seed], y, logit / 1e6)
        copy.learn_one(f"c{customer + 3}", rows[seed], y, logit / 1e6)
    assert copy.digest() == original.digest()
    for customer in range(10):
        assert copy.weights(f"c{customer}") == original.weights(f"c{customer}")


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.booleans()), max_size=40),
    st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.booleans()), max_size=10),
)
def test_learning_monitor_round_trip(
    before: list[tuple[float, float, bool]], after: list[tuple[float, float, bool]]
) -> None:
    """The scores a dashboard shows continue across a restore, as after a full replay."""
    from types import SimpleNamespace

    original, copy = LearningMonitor(window=8), LearningMonitor(window=8)
    for p, prior, y in before:
        original.observe(SimpleNamespace(p=p, prior_p=prior, accepted=y))
    copy.load_state(round_trip(original.state()))
    for p, prior, y in after:
        for monitor in (original, copy):
            monitor.observe(SimpleNamespace(p=p, prior_p=prior, accepted=y))
    a, b = original.snapshot(), copy.snapshot()
    same = ("log_loss", "prior_log_loss", "roc_auc", "acceptance_rate", "observed")
    assert repr([getattr(b, f) for f in same]) == repr([getattr(a, f) for f in same])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=4), max_size=6), st.lists(finite | st.just(float("inf"))))
def test_lists_of_strings_and_floats_round_trip_exactly(
    strings: list[str], floats: list[float]
) -> None:
    """Ids are packed as one newline-joined string unless one holds a newline itself."""
    state = {"ids": strings, "floats": floats, "nested": [strings, {"x": None}]}
    assert decode_state(encode_state(state)) == state


def test_a_snapshot_taken_in_one_process_loads_in_another() -> None:
    # The learning configuration a snapshot records must read the same in every process:
    # a frozenset's repr follows the process's string hashes (PYTHONHASHSEED).
    import os
    import subprocess
    import sys

    code = (
        "from online_learning.engine import SubstitutionEngine\n"
        "from online_learning.snapshot import _config_key\n"
        "print(_config_key(SubstitutionEngine()))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1, keys
