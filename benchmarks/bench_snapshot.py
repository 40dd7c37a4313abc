"""Snapshots of the learned state against replaying the learning log: size, write and restore.

A restarted worker rebuilds its model by replaying the whole learning log (``on_feedback`` per
event). With a snapshot (online_learning/snapshot.py) it loads the newest one and replays only
the tail. This prints, for the state of ``--events`` learned feedback events over the real
catalog (default customer tastes, effects and a de-duplication window of 1,000,000 ids):

1. the replay baseline: ``on_feedback`` per event on a fresh engine whose features are built
   (the catalog reader builds them before the replay starts), timed on the first
   ``--replay`` events and scaled linearly to the whole log (and to 5,000,000 events);
2. the state of all ``--events`` events, built cheaply: each learned part's own update
   (de-duplication ids, acceptance history, effects, popularity, the model, customer tastes)
   for every event, which is what ``on_feedback`` changes without the feature building and
   scoring that make a replay slow (the model takes ``--replay`` real steps: its state is 15
   weights whatever the count);
3. the snapshot: bytes before and after compression (zlib and lzma), the bytes of each part
   (the de-duplication ids dominate), time to write and to restore into a fresh engine;
4. what that means for the restart target (ready within 15 s with 5,000,000 events in the
   log): restore time, and how often a snapshot must be taken so that restore plus the tail's
   replay fits in 15 s;
5. the ids' share at smaller de-duplication windows (``dedup_window``).

    .venv/bin/python benchmarks/bench_snapshot.py                  # 1,000,000 events
    .venv/bin/python benchmarks/bench_snapshot.py --quick          # 20,000 events, 5,000 items
    .venv/bin/python benchmarks/bench_snapshot.py --events N --replay M
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Iterable, Iterator

import numpy as np

from online_learning.contract import Feedback, Product
from online_learning.engine import SubstitutionEngine
from online_learning.features import FloatArray, pair_features
from online_learning.offline.simulation import SimConfig, Simulation
from online_learning.snapshot import decode_state, encode_state, engine_state, restore_engine

T0 = 1_700_000_000.0
TARGET_S = 15.0
TARGET_EVENTS = 5_000_000


def feedback_stream(
    products: list[Product], n: int, n_customers: int, seed: int
) -> Iterator[Feedback]:
    """Same-aisle substitutions, uuid event ids, customers skewed (some order far more often),
    one event a second: the shape of the live feedback stream (made as it is read, so that
    millions of events need not be held at once)."""
    rng = random.Random(seed)
    by_aisle: dict[str, list[Product]] = {}
    for p in products:
        by_aisle.setdefault(p.aisle, []).append(p)
    aisles = [items for items in by_aisle.values() if len(items) > 1]
    for i in range(n):
        requested, substitute = rng.sample(aisles[rng.randrange(len(aisles))], 2)
        customer = f"customer-{int(n_customers * rng.random() ** 2):07d}"
        outcome = "accepted" if rng.random() < 0.6 else "rejected"
        yield Feedback(
            uuid.UUID(int=rng.getrandbits(128)).hex,
            "store-001",
            requested.item_id,
            substitute.item_id,
            outcome,
            T0 + i,
            customer_id=customer,
        )


def feedback_log(products: list[Product], n: int, n_customers: int, seed: int) -> list[Feedback]:
    """:func:`feedback_stream` as a list."""
    return list(feedback_stream(products, n, n_customers, seed))


def replay(engine: SubstitutionEngine, log: list[Feedback]) -> float:
    start = time.perf_counter()
    for event in log:
        engine.on_feedback(event)
    return time.perf_counter() - start


def build_cheaply(engine: SubstitutionEngine, log: Iterable[Feedback], model_steps: int) -> float:
    """What ``on_feedback`` changes, part by part, without building and scoring features for
    the model (the first ``model_steps`` events only: River's part does not grow). The hashed
    interaction weights, which grow with the keys seen, are then filled to their largest
    state (every slot learned) when the log is longer than ``model_steps``."""
    start = time.perf_counter()
    catalog, history, popularity = engine.catalog, engine.features.history, engine.popularity
    effects, tastes, seen = engine.effects, engine.tastes, engine.seen_feedback
    rng = random.Random(1)
    # the tastes learn from real pair rows, the first thousand events' in turn: building every
    # event's row is most of what makes a replay slow, and the state's size is what counts
    rows: list[FloatArray] = []
    for i, event in enumerate(log):
        requested, substitute = catalog.get(event.item_id), catalog.get(event.substitute_id)
        assert requested is not None and substitute is not None
        if len(rows) < 1000:
            rows.append(engine.features.pair_vector(requested, substitute))
        if not seen.add(event.event_id):
            continue
        y = event.outcome == "accepted"
        if i < model_steps:
            row, keys = engine.features.pair_row(requested, substitute)
            engine.model.learn_one(pair_features(row), y, keys)
        else:
            row = rows[i % len(rows)]
            engine.model.n_learned += 1
        if tastes is not None and event.customer_id is not None:
            tastes.learn_one(event.customer_id, row, y, rng.gauss(0.0, 1.0))
        history.update(requested.item_id, substitute.item_id, y)
        if effects is not None:
            effects.update(engine.effect_key(requested, substitute), y, rng.gauss(0.0, 1.0))
        popularity.observe(requested.item_id, 1.0, event.ts)
        engine.clock = max(engine.clock, event.ts)
    interactions = engine.model.interactions
    if interactions is not None and engine.model.n_learned > model_steps:
        slots = np.arange(interactions.size)
        draw = np.random.default_rng(1)
        interactions.load_state(
            {
                "slots": slots,
                "z": draw.normal(0.0, 1.0, slots.size),
                "n": draw.exponential(1.0, slots.size),
                "n_learned": engine.model.n_learned,
            }
        )
    return time.perf_counter() - start


def fresh_engine(sim: Simulation, warm: bool = False) -> SubstitutionEngine:
    """An engine with the catalog; ``warm``: every pool's features built, as the worker's
    catalog reader does before the learning log is replayed (not needed to restore)."""
    engine = SubstitutionEngine(products=sim.catalog_events(), wall_clock=lambda: T0)
    if warm:
        engine.warm_features()
    return engine


def mb(n: int) -> str:
    return f"{n / 1e6:8.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--replay", type=int, default=10_000, help="events replayed for real")
    parser.add_argument("--customers", type=int, default=200_000, help="distinct customers")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 2,000 replayed")
    args = parser.parse_args()
    if args.quick:
        args.events, args.replay, args.customers = 20_000, 2_000, 5_000
    args.replay = min(args.replay, args.events)

    # --quick: a 5,000-item catalog, so that the smoke test stays short
    limit = 5_000 if args.quick else None
    sim = Simulation(SimConfig(seed=7, n_stores=20, n_customers=2000, catalog_limit=limit))
    products = [p for p in sim.catalog_events() if isinstance(p, Product)]
    log = feedback_log(products, args.events, args.customers, seed=7)
    print(f"catalog: {len(products):,} items; log: {args.events:,} feedback events")

    baseline = fresh_engine(sim, warm=True)
    replay_s = replay(baseline, log[: args.replay])
    per_event = replay_s / args.replay
    print(
        f"\n1. replay baseline: {args.replay:,} events in {replay_s:.1f} s = "
        f"{per_event * 1e6:.0f} us/event -> {per_event * args.events:.0f} s for "
        f"{args.events:,}, {per_event * TARGET_EVENTS:.0f} s for {TARGET_EVENTS:,} (linear)"
    )

    engine = fresh_engine(sim, warm=True)
    build_s = build_cheaply(engine, log, args.replay)
    tastes = engine.tastes
    print(
        f"\n2. state of {args.events:,} events built part by part in {build_s:.1f} s: "
        f"{len(engine.seen_feedback):,} ids, {len(engine.features.history.pairs):,} pairs, "
        f"{len(engine.features.history.items):,} candidates, "
        f"{len(tastes) if tastes is not None else 0:,} customers with tastes"
    )

    print("\n3. snapshot: capture (blocks learning), encode (another thread can), decode, load")
    snapshots = {}
    for codec in ("none", "zlib", "lzma"):
        start = time.perf_counter()
        state = engine_state(engine, {"offset": args.events})
        capture_s = time.perf_counter() - start
        data = encode_state(state, codec)
        encode_s = time.perf_counter() - start - capture_s
        del state
        snapshots[codec] = data
        restored = fresh_engine(sim)
        start = time.perf_counter()
        decode_state(data)
        decode_s = time.perf_counter() - start
        start = time.perf_counter()
        restore_engine(restored, data)
        restore_s = time.perf_counter() - start
        assert restored.model_digest() == engine.model_digest()
        assert restored.popularity_digest() == engine.popularity_digest()
        print(
            f"   {codec:>5}: {mb(len(data))}, capture {capture_s:4.1f} s, encode "
            f"{encode_s:4.1f} s; restore {restore_s:4.1f} s, of which decode {decode_s:4.1f} s "
            "(digests equal)"
        )
    state = decode_state(snapshots["none"])
    print("   bytes by part (uncompressed | zlib):")
    for part in ("seen_feedback", "tastes", "history", "effects", "popularity", "model"):
        alone = {part: state[part]}
        raw, packed = len(encode_state(alone, "none")), len(encode_state(alone, "zlib"))
        print(f"   {part:>14}: {mb(raw)} | {mb(packed)}")

    zlib_restore = restore_s_of(sim, snapshots["zlib"])
    budget = TARGET_S - zlib_restore
    interval = int(budget / per_event) if budget > 0 else 0
    print(
        f"\n4. restart target ({TARGET_S:.0f} s, {TARGET_EVENTS:,} events in the log): "
        f"a full replay takes ~{per_event * TARGET_EVENTS:.0f} s; a zlib snapshot restores "
        f"in {zlib_restore:.1f} s (its size is bounded: 1M ids, 100k customers, the pairs), "
        f"leaving {budget:.1f} s for the tail: snapshot at least every {interval:,} events"
    )

    print("\n5. de-duplication window (dedup_window): ids kept, zlib bytes of the ids")
    for window in (1_000_000, 100_000, 10_000):
        kept = engine.seen_feedback.state(window)
        print(f"   {window:>9,}: {len(kept['ids']):>9,} ids, {mb(len(encode_state(kept)))}")


def restore_s_of(sim: Simulation, data: bytes) -> float:
    restored = fresh_engine(sim)
    start = time.perf_counter()
    restore_engine(restored, data)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
