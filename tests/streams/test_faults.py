"""Faults against real worker processes and the real embedded broker; each fails if data is lost.

- kill -9 of one of two workers mid-stream,
- a restart of the whole group,
- the broker frozen (SIGSTOP) for longer than the session timeout, then resumed,
- a worker added mid-stream.

What "lost" means here is checked three ways: every expected ranking arrives (exactly once where
the design promises it), every valid feedback event is learned exactly once by every worker
(count and an order-free digest of the event ids, against what the test sent), and the store
state in the changelog equals a reference computed from the signals the test sent, so a signal
applied twice (a ``not_found`` compounds) or not at all shows.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from online_learning.availability import AvailabilityState
from online_learning.contract import Product, product_payload
from online_learning.offline.instacart import load_instacart_products
from streams.embedded_broker import EmbeddedBroker
from streams.learning_log import event_ids_digest
from tests.conftest import feedback_payload, signal_payload
from tests.streams.conftest import (
    KafkaIO,
    WorkerProcess,
    same_topics,
    wait_ready,
    worker_settings,
)

pytestmark = pytest.mark.broker

PARTITIONS = 2


@pytest.fixture(scope="module")
def catalog() -> list[Product]:
    products = load_instacart_products()
    return [p for p in products if p.aisle == "milk"][:80]


def partition_of(store: str) -> int:
    """The signal partition of a store (the producers' default partitioner, keyed by store)."""
    return int(DefaultPartitioner()(store.encode(), list(range(PARTITIONS)), None))


def stores_by_partition(n_each: int, prefix: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    i = 0
    while any(len(v) < n_each for v in out.values()):
        store = f"{prefix}{i}"
        if len(out[partition_of(store)]) < n_each:
            out[partition_of(store)].append(store)
        i += 1
    return out


class Stream:
    """Sends signals and feedback, and remembers them for the reference checks."""

    def __init__(self, io: KafkaIO, catalog: list[Product]) -> None:
        self.io = io
        self.items = [p.item_id for p in catalog]
        self.availability = AvailabilityState()  # the reference: every signal applied once
        self.live: set[tuple[str, str]] = set()
        self.stock_outs: set[tuple[str, str, float]] = set()  # (store, item, source_ts) due
        self.feedback_ids: list[str] = []
        self.ts = time.time()

    def next_ts(self) -> float:
        self.ts += 0.001
        return round(self.ts, 3)

    async def signal(self, store: str, item: str, kind: str, wait: bool = True) -> float:
        ts = self.next_ts()
        change = self.availability.observe(store, item, kind, ts)
        assert change is not None
        if change[1] < 0.5 and (store, item) not in self.live:
            self.live.add((store, item))
            self.stock_outs.add((store, item, ts))
        elif change[1] >= 0.5:
            self.live.discard((store, item))
        value = orjson.dumps(signal_payload(store, item, kind, ts))
        if wait:
            await self.io.send(self.io.settings.signals_topic, value, store)
        else:
            await self.io.producer.send(
                self.io.settings.signals_topic, key=store.encode(), value=value
            )
        return ts

    async def feedback(self, store: str, i: int, wait: bool = True) -> None:
        item, sub = self.items[i % 40], self.items[40 + (i * 7) % 40]
        event = feedback_payload(store, item, sub, "accepted" if i % 3 else "rejected")
        self.feedback_ids.append(event["event_id"])
        if wait:
            await self.io.send(self.io.settings.feedback_topic, event, store)
        else:
            await self.io.producer.send(
                self.io.settings.feedback_topic, key=store.encode(), value=orjson.dumps(event)
            )

    def expected_digest(self) -> str:
        return event_ids_digest(self.feedback_ids)


async def read_state(io: KafkaIO, kind: str = "a") -> dict[tuple[str, str], Any]:
    """The store-state changelog's entries of one kind, latest per key: availability ("a"),
    or live rankings ("r": the substitute ids, None once retired)."""
    topic = io.settings.state_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=io.settings.bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        state: dict[tuple[str, str], list[Any]] = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(pos >= end[tp] for pos, tp in zip(positions, tps, strict=True)):
                break
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    entry_kind, store, item = orjson.loads(r.key)
                    if entry_kind == kind:
                        state[(store, item)] = None if r.value is None else orjson.loads(r.value)
        return state
    finally:
        await consumer.stop()


def assert_state_matches(
    changelog: dict[tuple[str, str], list[Any]], reference: AvailabilityState
) -> None:
    """Every signal applied exactly once: the changelog's entries equal the reference's."""
    expected = {
        (store, item): (p, ts, held)
        for store, items in reference.snapshot().items()
        for item, (p, ts, held) in items.items()
    }
    got = {key: (v[0], v[1], v[2]) for key, v in changelog.items()}
    missing = expected.keys() - got.keys()
    assert not missing, f"state lost for {sorted(missing)[:5]}"
    wrong = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    assert not wrong, f"state differs (applied twice or not at all): {list(wrong.items())[:5]}"


async def assert_rankings_match_live_state(io: KafkaIO, seen: list[dict[str, Any]]) -> None:
    """No ranking lost: read as a table (the latest ranking of each key), the rankings topic
    offers what the changelog's live rankings hold, key by key. ``seen``: every ranking read
    since the test began, in the order read (a key's rankings share a partition, so in the
    order published). A re-rank in flight may differ for a moment; a lost ranking stays."""
    deadline = time.monotonic() + 15
    while True:
        seen = seen + await io.read(io.settings.rankings_topic, timeout=1.0)
        latest = {
            (r["store_id"], r["item_id"]): [s["item_id"] for s in r["substitutes"]] for r in seen
        }
        live = {key: subs for key, subs in (await read_state(io, "r")).items() if subs is not None}
        differ = {
            key: (latest.get(key), subs) for key, subs in live.items() if latest.get(key) != subs
        }
        if not differ or time.monotonic() > deadline:
            break
    assert live, "no live rankings in the changelog to compare"
    assert not differ, f"(topic's latest, changelog's live) differ: {list(differ.items())[:3]}"


def peers(factory: Any, n: int, *, static: bool = False, **overrides: Any) -> list[WorkerProcess]:
    """Start ``n`` workers of one group, one after the other.

    One at a time: two fresh members joining Tansu's group coordinator at the same instant
    sometimes loop in join/rejoin without ever syncing (seen with Tansu 0.6.0). ``static``
    gives worker i the static member id ``w{i}`` (KIP-345), as a deployment that restarts
    its workers in place would.
    """

    def ids(i: int) -> dict[str, Any]:
        return {"group_instance_id": f"w{i}"} if static else {}

    first = factory(**overrides, **ids(0))
    shared = {**overrides, **same_group(first)}
    return [first] + [factory(**shared, **ids(i)) for i in range(1, n)]


def same_group(worker: WorkerProcess) -> dict[str, Any]:
    settings = worker.settings
    return {**same_topics(settings), "explore_epsilon": settings.explore_epsilon}


def wait_until(check: Any, timeout: float, what: str, workers: Any = ()) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    state = describe(list(workers)) if workers else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: {value!r} {state}")


def settled(workers: list[WorkerProcess], partitions: int = PARTITIONS) -> bool:
    """Every worker ready, the signal partitions split among them, no restore under way."""
    healths = [w.health() for w in workers]
    if not all(h and h["status"] == "ok" and not h["restoring"] for h in healths):
        return False
    owned = sorted(p for h in healths if h for p in h["signal_partitions"])
    return owned == list(range(partitions))


def health(worker: WorkerProcess) -> dict[str, Any]:
    """/health, retried: a worker on a busy machine can take over a second to answer."""
    return wait_until(worker.health, 20, "an answer from /health")  # type: ignore[no-any-return]


def describe(workers: list[WorkerProcess]) -> str:
    keys = ("status", "signal_partitions", "restoring", "feedback_learned", "feedback_digest")
    return repr([{k: h.get(k) for k in keys} if h else None for h in (w.health() for w in workers)])


def learned_all(workers: list[WorkerProcess], stream: Stream) -> bool:
    healths = [w.health() for w in workers]
    return all(
        h
        and h["feedback_learned"] == len(stream.feedback_ids)
        and h["feedback_digest"] == stream.expected_digest()
        for h in healths
    )


async def publish_catalog(io: KafkaIO, products: list[Product]) -> None:
    for p in products:
        await io.send(io.settings.catalog_topic, product_payload(p), key=p.item_id)


def rankings_of(records: list[dict[str, Any]], trigger: str) -> Counter[tuple[str, str, float]]:
    return Counter(
        (r["store_id"], r["item_id"], r["source_ts"]) for r in records if r["trigger"] == trigger
    )


async def test_kill_9_of_one_worker_moves_its_stores_with_their_state(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    a, b = peers(worker_factory, 2, partitions=PARTITIONS)
    wait_until(lambda: settled([a, b]), 30, "two workers sharing the partitions", [a, b])
    io = await kafka_io(a.settings)
    await io.follow(a.settings.rankings_topic)
    await publish_catalog(io, catalog)
    stream = Stream(io, catalog)
    stores = stores_by_partition(3, "k")
    victim = b if health(b)["signal_partitions"] == [1] else a
    survivor = a if victim is b else b
    victim_stores = stores[health(victim)["signal_partitions"][0]]
    all_stores = [s for group in stores.values() for s in group]
    requested, gone = stream.items[0], stream.items[1]

    # Phase 1: a held stock-out and a live ranking at every store, feedback from every store.
    for store in all_stores:
        await stream.signal(store, gone, "out_of_stock")
        await stream.signal(store, requested, "not_found")
    for i in range(40):
        await stream.feedback(all_stores[i % len(all_stores)], i)
    due = set(stream.stock_outs)
    records = await io.read(
        a.settings.rankings_topic, lambda r: set(rankings_of(r, "stock_out")) >= due, timeout=30
    )
    first = {
        r["store_id"]: r
        for r in records
        if r["trigger"] == "stock_out" and r["item_id"] == requested
    }
    assert set(first) == set(all_stores)
    wait_until(
        lambda: learned_all([a, b], stream), 30, "both workers learning all feedback", [a, b]
    )
    # A burst the victim processes right before it dies (likely not committed yet: these are
    # delivered again to the survivor, which must not apply them twice).
    burst_items = stream.items[10:30]
    for item in burst_items:
        for store in victim_stores:
            await stream.signal(store, item, "not_found", wait=False)
    await io.producer.flush()
    expected_in = len(burst_items) * len(victim_stores) + 2 * len(victim_stores)
    wait_until(
        lambda: (
            victim.metric("fillrate_events_in_total", topic=a.settings.signals_topic) >= expected_in
        ),
        30,
        "the victim consuming the burst",
    )
    victim.process.kill()  # SIGKILL: no revoke, no flush, no commit
    killed_at = time.monotonic()
    victim.process.wait()
    # What the victim published before it died: the live ranking of each of its stores is the
    # last one for the requested item (one output partition per key keeps their order).
    records += await io.read(a.settings.rankings_topic, timeout=1.0)
    live_before = {
        r["store_id"]: r for r in records if r["item_id"] == requested and r["store_id"] in first
    }

    # Phase 2: the victim's stores keep going; state from before the kill must be there.
    fresh = stream.items[5]
    top_ts = {}
    for store in victim_stores:
        await stream.signal(store, requested, "not_found")  # live already: no new stock_out
        top = live_before[store]["substitutes"][0]["item_id"]
        top_ts[store] = await stream.signal(store, top, "out_of_stock")  # re-emits the ranking
        await stream.signal(store, fresh, "not_found")  # a new stock-out
    for i in range(40, 80):
        await stream.feedback(all_stores[i % len(all_stores)], i)

    def arrived(r: list[dict[str, Any]]) -> bool:
        return all(
            any(x["store_id"] == s and x["item_id"] == fresh for x in r) for s in victim_stores
        )

    after = await io.read(a.settings.rankings_topic, arrived, timeout=60)
    failover_s = time.monotonic() - killed_at
    assert arrived(after), "rankings for the dead worker's stores stopped"
    assert failover_s < 30, f"rankings for its stores resumed only after {failover_s:.1f}s"
    print(f"\nrankings for the killed worker's stores resumed {failover_s:.1f}s after kill -9")

    for store in victim_stores:
        # Still live after the move (the stock-out check below: no second stock_out), and
        # re-emitted without the item that just went out of stock.
        again = [
            r
            for r in after
            if r["store_id"] == store
            and r["item_id"] == requested
            and r["source_ts"] == top_ts[store]
        ]
        ranked = [
            (r["trigger"], r["source_ts"], [x["item_id"] for x in r["substitutes"]])
            for r in records + after
            if r["store_id"] == store and r["item_id"] == requested
        ]
        assert [r["trigger"] for r in again] == ["candidate_stock_out"], (store, top_ts, ranked)
        subs = [s["item_id"] for s in again[0]["substitutes"]]
        top = live_before[store]["substitutes"][0]["item_id"]
        assert top not in subs and gone not in subs, "restored availability was not used"
    # Nothing applied twice, nothing lost: stock-outs once each, state equals the reference.
    after += await io.read(
        a.settings.rankings_topic,
        lambda r: set(rankings_of(records + after + r, "stock_out")) >= stream.stock_outs,
        timeout=30,
    )
    stock_outs = rankings_of(records + after, "stock_out")
    assert set(stock_outs) == stream.stock_outs, "a stock-out ranking was lost (or invented)"
    # Outputs are at least once across a kill -9: a ranking published in the instant before
    # the kill whose state record was not delivered yet is published again by the survivor.
    # Only signals in flight at the kill (the burst) may do that.
    twice = {key for key, n in stock_outs.items() if n > 1}
    assert all(n <= 2 for n in stock_outs.values()), stock_outs.most_common(3)
    assert all(store in victim_stores and item in burst_items for store, item, _ in twice)
    print(f"stock-out rankings published twice across the kill: {len(twice)}")
    wait_until(
        lambda: learned_all([survivor], stream), 30, "the survivor learning everything", [survivor]
    )
    wait_until(lambda: settled([survivor]), 10, "the survivor owning every partition", [survivor])
    assert_state_matches(await read_state(io), stream.availability)
    await assert_rankings_match_live_state(io, records + after)
    found = health(survivor)
    assert found["restored_entries"] > 0
    print(
        f"survivor: {found['restored_entries']} state entries restored, "
        f"{found['signals_already_applied']} re-delivered signals skipped"
    )


def restart_group(
    factory: Any, like: WorkerProcess, n: int, attempts: int = 3, static: bool = False
) -> list[WorkerProcess]:
    """Start ``n`` workers in ``like``'s group once all its old members are gone.

    Tansu 0.6.0 sometimes leaves a re-formed group of *dynamic* members looping in JoinGroup
    (generation N, never elected leader, never synced). With static member ids it has
    re-formed at the first attempt in every run so far; a retry (the new group stopped and
    started again after the session timeout) stays as a guard, and a group that never forms
    fails the test.
    """
    wait = like.settings.session_timeout_s + 1
    for attempt in range(attempts):
        # Past the session timeout, so Tansu's coordinator is done with the old members.
        time.sleep(wait)
        mark = len(factory.started)
        try:
            workers = peers(factory, n, static=static, partitions=PARTITIONS, **same_group(like))
            wait_until(lambda ws=workers: settled(ws), 30, "the restarted group", workers)
            return workers
        except AssertionError as exc:
            print(f"restart attempt {attempt + 1}: the group did not form: {str(exc)[-2500:]}")
            for w in factory.started[mark:]:
                w.process.terminate()  # all at once, then wait for each
            for w in factory.started[mark:]:
                w.stop()
    pytest.fail(f"the restarted group did not form in {attempts} attempts (Tansu JoinGroup loop)")


async def test_whole_group_restart_brings_state_back_and_ranks_the_same(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    # Greedy rankings: the check below compares a list before and after, item by item, and an
    # exploring ranking's order is a draw of its ranking id (tested elsewhere).
    a, b = peers(worker_factory, 2, static=True, partitions=PARTITIONS, explore_epsilon=0.0)
    wait_until(lambda: settled([a, b]), 30, "two workers sharing the partitions", [a, b])
    io = await kafka_io(a.settings)
    await io.follow(a.settings.rankings_topic)
    await publish_catalog(io, catalog)
    stream = Stream(io, catalog)
    stores = [s for group in stores_by_partition(2, "r").values() for s in group]
    requested, gone = stream.items[0], stream.items[1]
    for i in range(60):
        await stream.feedback(stores[i % len(stores)], i)
    wait_until(
        lambda: learned_all([a, b], stream), 30, "both workers learning all feedback", [a, b]
    )
    for store in stores:
        await stream.signal(store, gone, "out_of_stock")
        await stream.signal(store, requested, "not_found")
    records = await io.read(
        a.settings.rankings_topic, lambda r: set(rankings_of(r, "stock_out")) >= stream.stock_outs
    )
    before = {
        r["store_id"]: r
        for r in records
        if r["trigger"] == "stock_out" and r["item_id"] == requested
    }
    healths = [health(a), health(b)]
    model = {(h["model_digest"], h["model_version"]) for h in healths}
    assert len(model) == 1, f"the two workers hold different models: {healths}"
    popularity = {h["popularity_digest"] for h in healths}
    assert len(popularity) == 1, f"the two workers learned popularity differently: {healths}"

    for w in (a, b):
        w.process.terminate()
    for w in (a, b):
        assert w.process.wait(30) == 0, w.log()[-2000:]
    restarted = restart_group(worker_factory, a, 2, static=True)
    wait_until(
        lambda: learned_all(restarted, stream), 30, "the model rebuilt from the log", restarted
    )
    for h in (health(w) for w in restarted):
        assert (h["model_digest"], h["model_version"]) in model

    for store in stores:
        await stream.signal(store, requested, "not_found")  # still live: no new stock_out
        await stream.signal(store, before[store]["substitutes"][0]["item_id"], "out_of_stock")
    # every store's ranking of the requested item (the held item's rankings may offer the
    # same substitute and be re-emitted too: counting all of them would stop the read early)
    after = await io.read(
        a.settings.rankings_topic,
        lambda r: (
            {
                x["store_id"]
                for x in r
                if x["trigger"] == "candidate_stock_out" and x["item_id"] == requested
            }
            >= set(stores)
        ),
    )
    time.sleep(1.5)  # a model-update pass runs every 0.5 s: it must find nothing to change
    after += await io.read(a.settings.rankings_topic, timeout=0.5)
    for store in stores:
        again = [r for r in after if r["store_id"] == store and r["item_id"] == requested]
        assert [r["trigger"] for r in again] == ["candidate_stock_out"], again
        old, new = before[store]["substitutes"], again[0]["substitutes"]
        # Same model, same availability: the old list without its first item, same scores.
        assert new[: len(old) - 1] == old[1:], (old, new)
        assert again[0]["model_version"] == before[store]["model_version"]
    # Tansu keeps rebalancing a group of static members; each rebalance hands back the
    # messages since the last commit, and none of them may be applied twice.
    print("re-delivered and skipped:", [w.metric("fillrate_redelivered_total") for w in restarted])
    assert_state_matches(await read_state(io), stream.availability)
    await assert_rankings_match_live_state(io, records + after)


async def test_broker_frozen_then_back_workers_report_it_and_lose_nothing(
    catalog: list[Product], tmp_path: Path
) -> None:
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        settings = worker_settings(broker, partitions=PARTITIONS)
        worker = WorkerProcess(settings, tmp_path / "worker.log").start()
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, linger_ms=1)
        await producer.start()
        io = KafkaIO(settings, producer)
        try:
            wait_ready(worker)
            await io.follow(settings.rankings_topic)
            await publish_catalog(io, catalog)
            stream = Stream(io, catalog)
            stores = [s for group in stores_by_partition(3, "o").values() for s in group]
            await stream.signal(stores[0], stream.items[0], "not_found")
            await stream.feedback(stores[0], 0)
            await io.read(settings.rankings_topic, lambda r: len(r) >= 1)
            assert worker.metric("fillrate_broker_up") == 1

            broker.pause()
            paused_at = time.monotonic()
            wait_until(lambda: worker.metric("fillrate_broker_up") == 0, 15, "broker_up 0")
            # Producers keep writing during the outage (buffered in their client).
            for store in stores:
                await stream.signal(store, stream.items[3], "not_found", wait=False)
            for i in range(1, 21):
                await stream.feedback(stores[i % len(stores)], i, wait=False)
            time.sleep(max(0.0, 9.0 - (time.monotonic() - paused_at)))  # > session timeout
            broker.resume()
            await producer.flush()

            wait_until(lambda: worker.metric("fillrate_broker_up") == 1, 30, "broker_up 1")
            records = await io.read(
                settings.rankings_topic,
                lambda r: (
                    {x["store_id"] for x in r if x["item_id"] == stream.items[3]} == set(stores)
                ),
                timeout=60,
            )
            assert {x["store_id"] for x in records if x["item_id"] == stream.items[3]} == set(
                stores
            ), "a stock-out sent during the outage got no ranking"
            wait_until(lambda: learned_all([worker], stream), 30, "all feedback learned", [worker])
            assert worker.metric("fillrate_broker_connection_errors_total") >= 1
            log = worker.log()
            assert "unreachable" in log and "reachable again" in log, log[-3000:]
            assert worker.process.poll() is None
            assert_state_matches(await read_state(io), stream.availability)
        finally:
            await producer.stop()
            for consumer in io.consumers.values():
                await consumer.stop()
            worker.stop()


async def test_a_worker_added_mid_stream_takes_partitions_without_loss_or_double_apply(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    a = worker_factory(partitions=PARTITIONS)
    io = await kafka_io(a.settings)
    await io.follow(a.settings.rankings_topic)
    await publish_catalog(io, catalog)
    stream = Stream(io, catalog)
    stores = [s for group in stores_by_partition(4, "m").values() for s in group]
    sent = 0

    async def produce(rounds: int, pause: float) -> None:
        nonlocal sent
        for r in range(rounds):
            for store in stores:
                await stream.signal(store, stream.items[r % 60], "not_found", wait=False)
                await stream.signal(store, stream.items[(r + 7) % 60], "found", wait=False)
                sent += 2
            await stream.feedback(stores[r % len(stores)], r, wait=False)
            await io.producer.flush()
            await asyncio.sleep(pause)

    # Stream for ~12 s; a second worker joins after ~3 s (started in a thread: it blocks).
    producing = asyncio.ensure_future(produce(120, 0.1))
    await asyncio.sleep(3)
    b = await asyncio.to_thread(worker_factory, partitions=PARTITIONS, **same_group(a))
    await producing
    wait_until(lambda: settled([a, b]), 30, "the two workers sharing the partitions", [a, b])
    assert all(len(health(w)["signal_partitions"]) == 1 for w in (a, b))

    def consumed() -> bool:
        topic = a.settings.signals_topic
        return a.metric("fillrate_events_in_total", topic=topic) + b.metric(
            "fillrate_events_in_total", topic=topic
        ) - a.metric("fillrate_signals_already_applied_total") - b.metric(
            "fillrate_signals_already_applied_total"
        ) >= sent and learned_all([a, b], stream)

    wait_until(consumed, 60, "every signal and feedback event processed")
    records = await io.read(
        a.settings.rankings_topic,
        lambda r: set(rankings_of(r, "stock_out")) >= stream.stock_outs,
        timeout=30,
    )
    stock_outs = rankings_of(records, "stock_out")
    assert set(stock_outs) == stream.stock_outs, "a stock-out ranking was lost (or invented)"
    assert all(n == 1 for n in stock_outs.values()), stock_outs.most_common(3)
    assert_state_matches(await read_state(io), stream.availability)
    await assert_rankings_match_live_state(io, records)
    digests = {health(w)["model_digest"] for w in (a, b)}
    assert len(digests) == 1, "the two workers learned differently"


async def _send_one(servers: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not a signal", key=b"store-1")
    finally:
        await producer.stop()


def test_a_worker_told_to_stop_while_the_broker_is_gone_exits_within_its_stop_timeout(
    tmp_path: Path,
) -> None:
    """Leaving the group waits for the broker; with the broker gone that wait has no end, so
    the worker cuts it short after stop_timeout_s instead of waiting for a SIGKILL."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        settings = worker_settings(broker, stop_timeout_s=3.0)
        worker = WorkerProcess(settings, tmp_path / "worker.log").start()
        try:
            wait_ready(worker)
            # A message processed and not yet committed: stopping has an offset to commit, as
            # a worker under load has (with nothing to commit, leaving the group can sometimes
            # fail fast against a dead broker instead of waiting).
            asyncio.run(_send_one(settings.bootstrap_servers, settings.signals_topic))
            wait_until(
                lambda: (
                    worker.metric("fillrate_events_in_total", topic=settings.signals_topic) >= 1
                ),
                30,
                "the worker took the message",
            )
            broker.kill()
            assert worker.process is not None
            worker.process.terminate()
            code = worker.process.wait(timeout=30)
        finally:
            worker.stop()
    assert code == 3
    assert "did not stop within 3s (stop_timeout_s" in (tmp_path / "worker.log").read_text()
