"""End to end against the real embedded broker: a real worker process, real topics."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import jsonschema
import orjson
import pytest

from online_learning.contract import Product, load_schema, product_payload
from online_learning.offline.instacart import load_instacart_products
from online_learning.rules import load_rules
from tests.conftest import feedback_payload, signal_payload
from tests.streams.conftest import same_topics

pytestmark = pytest.mark.broker

RANKING_SCHEMA = jsonschema.Draft202012Validator(load_schema("substitutions.rankings"))
DEADLETTER_SCHEMA = jsonschema.Draft202012Validator(load_schema("substitutions.deadletter"))


@pytest.fixture(scope="module")
def catalog() -> list[Product]:
    """Real Instacart items: the milk aisle and some beer (alcohol) and yogurt."""
    products = load_instacart_products()
    milk = [p for p in products if p.aisle == "milk"][:60]
    beer = [p for p in products if p.aisle == "beers coolers"][:10]
    yogurt = [p for p in products if p.aisle == "yogurt"][:20]
    return milk + beer + yogurt


async def publish_catalog(io: Any, products: list[Product]) -> None:
    for p in products:
        await io.send(io.settings.catalog_topic, product_payload(p), key=p.item_id)


def for_item(item_id: str, trigger: str | None = None, store: str | None = None) -> Any:
    def match(records: list[dict[str, Any]]) -> bool:
        return any(
            r["item_id"] == item_id
            and (trigger is None or r["trigger"] == trigger)
            and (store is None or r["store_id"] == store)
            for r in records
        )

    return match


def wait_for_metric(worker: Any, name: str, value: float, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.metric(name) < value:
        time.sleep(0.1)
    assert worker.metric(name) == value


def pick(records: list[dict[str, Any]], item_id: str, trigger: str, store: str) -> dict:
    found = [
        r
        for r in records
        if r["item_id"] == item_id and r["trigger"] == trigger and r["store_id"] == store
    ]
    assert found, f"no {trigger} ranking for {item_id} at {store} in {records}"
    return found[-1]


async def started(worker_factory: Any, kafka_io: Any, catalog: list[Product]) -> tuple[Any, Any]:
    worker = worker_factory()
    io = await kafka_io(worker.settings)
    await io.follow(worker.settings.rankings_topic)
    await io.follow(worker.settings.deadletter_topic)
    await publish_catalog(io, catalog)
    return worker, io


async def test_stock_out_yields_valid_ranking_of_same_aisle_available_rule_passing_items(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    worker, io = await started(worker_factory, kafka_io, catalog)
    milk = [p for p in catalog if p.aisle == "milk"]
    requested, *others = milk
    # Two candidates are known to be gone at this store: they must never be offered.
    gone = [others[0].item_id, others[1].item_id]
    for item_id in gone:
        await io.send(
            worker.settings.signals_topic, signal_payload("s1", item_id, "out_of_stock"), "s1"
        )
    await io.send(
        worker.settings.signals_topic, signal_payload("s1", requested.item_id, "not_found"), "s1"
    )

    records = await io.read(worker.settings.rankings_topic, for_item(requested.item_id))
    ranking = pick(records, requested.item_id, "stock_out", "s1")
    RANKING_SCHEMA.validate(ranking)
    subs = ranking["substitutes"]
    assert 0 < len(subs) <= 10
    by_id = {p.item_id: p for p in catalog}
    rules = load_rules()
    for s in subs:
        candidate = by_id[s["item_id"]]
        assert candidate.aisle == requested.aisle
        assert s["item_id"] != requested.item_id
        assert s["item_id"] not in gone
        assert s["p_available"] >= 0.5
        assert rules.violation(requested, candidate) is None
        assert s["score"] == pytest.approx(s["p_accept"] * s["p_available"], abs=1e-5)
    scores = [s["score"] for s in subs]
    if ranking["explored"]:  # a runner-up within the top 3 was put first, the rest in order
        assert scores[1:] == sorted(scores[1:], reverse=True)
        assert sorted(scores, reverse=True).index(scores[0]) in (1, 2)
        assert ranking["propensity"] == pytest.approx(0.025)
    else:
        assert scores == sorted(scores, reverse=True)
        assert ranking["propensity"] == pytest.approx(0.95 if len(subs) > 1 else 1.0)
    assert ranking["source_ts"] > 0 and ranking["ts"] >= ranking["source_ts"] - 5
    assert worker.metric("fillrate_rankings_out_total", trigger="stock_out") >= 1


async def test_substitute_going_out_of_stock_is_removed_by_a_reemitted_ranking(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    worker, io = await started(worker_factory, kafka_io, catalog)
    requested = next(p for p in catalog if p.aisle == "milk")
    topic = worker.settings.signals_topic
    await io.send(topic, signal_payload("s2", requested.item_id, "out_of_stock"), "s2")
    first = pick(
        await io.read(worker.settings.rankings_topic, for_item(requested.item_id)),
        requested.item_id,
        "stock_out",
        "s2",
    )
    top = first["substitutes"][0]["item_id"]
    await io.send(topic, signal_payload("s2", top, "out_of_stock"), "s2")
    records = await io.read(
        worker.settings.rankings_topic, for_item(requested.item_id, "candidate_stock_out")
    )
    again = pick(records, requested.item_id, "candidate_stock_out", "s2")
    RANKING_SCHEMA.validate(again)
    assert top not in [s["item_id"] for s in again["substitutes"]]
    assert again["substitutes"], "other candidates remain available"


async def test_feedback_moves_p_accept_and_a_repeated_event_id_does_not(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    worker, io = await started(worker_factory, kafka_io, catalog)
    requested = next(p for p in catalog if p.aisle == "milk")
    s = worker.settings
    await io.send(s.signals_topic, signal_payload("s3", requested.item_id, "not_found"), "s3")
    first = pick(
        await io.read(s.rankings_topic, for_item(requested.item_id)),
        requested.item_id,
        "stock_out",
        "s3",
    )
    top = first["substitutes"][0]
    # The same event 25 times: learned once, 24 duplicates ignored.
    event_id = "dup-" + uuid.uuid4().hex
    for _ in range(25):
        await io.send(
            s.feedback_topic,
            feedback_payload(
                "s3", requested.item_id, top["item_id"], "rejected", event_id=event_id
            ),
            "s3",
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and worker.metric("fillrate_feedback_duplicates_total") < 24:
        time.sleep(0.2)
    assert worker.metric("fillrate_feedback_learned_total") == 1
    assert worker.metric("fillrate_feedback_duplicates_total") == 24
    health = worker.health()
    assert health is not None and health["feedback_learned"] == 1
    # /ready: the same status without the digests, which hash the whole model
    ready = worker.health(path="/ready")
    assert ready is not None and ready["feedback_learned"] == 1
    assert {"model_digest", "popularity_digest"} <= health.keys()
    assert not {"model_digest", "popularity_digest"} & ready.keys()
    assert ready["model_version"] == health["model_version"]

    # Now many distinct rejections of that pair: its p_accept must fall.
    for _ in range(30):
        await io.send(
            s.feedback_topic,
            feedback_payload("s3", requested.item_id, top["item_id"], "rejected"),
            "s3",
        )
    # Feedback and signals are different topics, read by different agents: nothing orders
    # one after the other, so wait until the feedback is learned before the next stock-out.
    wait_for_metric(worker, "fillrate_feedback_learned_total", 31)
    await io.send(s.signals_topic, signal_payload("s4", requested.item_id, "not_found"), "s4")
    later = pick(
        await io.read(s.rankings_topic, for_item(requested.item_id, "stock_out", "s4")),
        requested.item_id,
        "stock_out",
        "s4",
    )
    p_later = {x["item_id"]: x["p_accept"] for x in later["substitutes"]}
    if top["item_id"] in p_later:
        assert p_later[top["item_id"]] < top["p_accept"]
    else:  # it fell out of the top 10 altogether
        assert len(later["substitutes"]) == len(first["substitutes"])
    assert later["model_version"] != first["model_version"]

    # And acceptances push it back up.
    before = worker.metric("fillrate_feedback_learned_total")
    for _ in range(60):
        await io.send(
            s.feedback_topic,
            feedback_payload("s3", requested.item_id, top["item_id"], "accepted"),
            "s3",
        )
    wait_for_metric(worker, "fillrate_feedback_learned_total", before + 60)
    await io.send(s.signals_topic, signal_payload("s5", requested.item_id, "not_found"), "s5")
    last = pick(
        await io.read(s.rankings_topic, for_item(requested.item_id, "stock_out", "s5")),
        requested.item_id,
        "stock_out",
        "s5",
    )
    assert worker.metric("fillrate_feedback_learned_total") == before + 60
    p_last = {x["item_id"]: x["p_accept"] for x in last["substitutes"]}
    assert p_last.get(top["item_id"], 0.0) > p_later.get(top["item_id"], 0.0)


async def test_bad_messages_are_dead_lettered_and_the_worker_keeps_going(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    worker, io = await started(worker_factory, kafka_io, catalog)
    s = worker.settings
    requested = next(p for p in catalog if p.aisle == "yogurt")
    bad = [
        (s.signals_topic, b"{not json", "not valid JSON"),
        (s.signals_topic, b"\xff\xfe\x00garbage", "not UTF-8"),
        (
            s.signals_topic,
            {"store_id": "s6", "item_id": requested.item_id, "signal": "lost", "ts": 1.0},
            "signal",
        ),
        (s.signals_topic, {"store_id": "s6", "item_id": requested.item_id}, "signal"),
        (s.signals_topic, signal_payload("s6", "no-such-item", "not_found"), "unknown item"),
        (s.feedback_topic, {"event_id": "x", "store_id": "s6"}, "item_id"),
        (
            s.feedback_topic,
            feedback_payload("s6", requested.item_id, "no-such-item", "accepted"),
            "unknown item",
        ),
        (s.catalog_topic, {"item_id": "broken", "name": 5}, "name"),
    ]
    for topic, value, _ in bad:
        await io.send(topic, value, "s6")
    await io.send(s.signals_topic, signal_payload("s6", requested.item_id, "not_found"), "s6")

    dead = await io.read(s.deadletter_topic, lambda r: len(r) >= len(bad))
    assert len(dead) == len(bad)
    for record in dead:
        DEADLETTER_SCHEMA.validate(record)
    for topic, _, reason in bad:
        assert any(d["topic"] == topic and reason in d["error"] for d in dead), (topic, reason)
    assert any(d["payload_encoding"] == "base64" for d in dead)
    # The good event after the bad ones was processed.
    ranking = pick(
        await io.read(s.rankings_topic, for_item(requested.item_id)),
        requested.item_id,
        "stock_out",
        "s6",
    )
    RANKING_SCHEMA.validate(ranking)
    assert worker.metric("fillrate_dead_letters_total") == len(bad)
    assert worker.process.poll() is None


async def test_a_worker_without_partitions_is_ready_on_standby(worker_factory: Any) -> None:
    # One partition, two workers in one group: the second gets nothing to do, and is healthy.
    first = worker_factory(partitions=1)
    second = worker_factory(partitions=1, **same_topics(first.settings))
    deadline = time.monotonic() + 20
    healths: list[Any] = []
    while time.monotonic() < deadline:
        healths = [first.health(), second.health()]
        if all(h and h["status"] == "ok" for h in healths) and sorted(
            h["assigned_partitions"] for h in healths
        ) == [0, 2]:
            break
        time.sleep(0.5)
    assert sorted(h["assigned_partitions"] for h in healths) == [0, 2], healths
    assert all(h["status"] == "ok" for h in healths)


async def test_a_10x_burst_grows_lag_that_drains_with_memory_bounded(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    """A steady stream the worker keeps up with, then a burst far above it and far larger than
    any buffer: the backlog waits in the broker (lag, visible in metrics), not in the worker."""
    worker, io = await started(worker_factory, kafka_io, catalog)
    s = worker.settings
    items = [p.item_id for p in catalog if p.aisle == "milk"]
    pad = "x" * 2_000  # an unknown field: the contract accepts and ignores it
    sent = 0

    async def send(n: int, pause_every: int = 0) -> float:
        nonlocal sent
        started_at = time.monotonic()
        for _ in range(n):
            store = f"lag-{sent % 7}"
            payload = signal_payload(store, items[sent % len(items)], "found", ts=1.0 + sent)
            payload["note"] = pad
            await io.producer.send(s.signals_topic, key=store.encode(), value=orjson.dumps(payload))
            sent += 1
            if pause_every and sent % pause_every == 0:
                await io.producer.flush()
                await asyncio.sleep(0.1)
        await io.producer.flush()
        return n / (time.monotonic() - started_at)

    def consumed() -> float:
        return worker.metric("fillrate_events_in_total", topic=s.signals_topic)

    steady_rate = await send(300, pause_every=20)  # about 200 events/s for 1.5 s
    deadline = time.monotonic() + 30
    while consumed() < sent and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # the gauges are refreshed every second
    assert worker.metric("fillrate_consumer_lag", topic=s.signals_topic) == 0
    rss_before = worker.rss()

    n = 100_000  # about 210 MB of messages
    burst_rate = await send(n)
    assert burst_rate > 10 * steady_rate, (burst_rate, steady_rate)
    lag_seen, rss_peak = 0.0, rss_before
    deadline = time.monotonic() + 180
    while consumed() < sent and time.monotonic() < deadline:
        assert worker.process.poll() is None, worker.log()[-2000:]
        lag_seen = max(lag_seen, worker.metric("fillrate_consumer_lag", topic=s.signals_topic))
        rss_peak = max(rss_peak, worker.rss())
        time.sleep(0.2)
    assert consumed() == sent
    assert lag_seen > 0, "the backlog never showed as lag"
    growth = rss_peak - rss_before
    print(
        f"steady {steady_rate:.0f}/s, burst {burst_rate:.0f}/s, lag peak {lag_seen:.0f}, "
        f"RSS {rss_before / 2**20:.0f} MiB + {growth / 2**20:.0f} MiB at peak"
    )
    # Far below the 210 MB backlog: Faust's and aiokafka's buffers are bounded.
    assert growth < 100 * 2**20, f"worker RSS grew by {growth / 2**20:.0f} MiB"
    time.sleep(1.5)
    assert worker.metric("fillrate_consumer_lag", topic=s.signals_topic) == 0
    assert worker.metric("fillrate_consumer_lag", topic=s.feedback_topic) == 0


async def test_reordered_signals_are_applied_by_event_time_not_arrival(
    worker_factory: Any, kafka_io: Any, catalog: list[Product]
) -> None:
    worker, io = await started(worker_factory, kafka_io, catalog)
    s = worker.settings
    item = next(p for p in catalog if p.aisle == "yogurt").item_id
    t0 = time.time()
    await io.send(s.signals_topic, signal_payload("s7", item, "in_stock", ts=t0 + 100), "s7")
    # arrives later but happened earlier: older than the restock, it must not cause a stock-out
    await io.send(s.signals_topic, signal_payload("s7", item, "not_found", ts=t0), "s7")
    await io.send(s.signals_topic, signal_payload("s7", item, "not_found", ts=t0 + 200), "s7")
    records = await io.read(s.rankings_topic, for_item(item, "stock_out", "s7"))
    stock_outs = [r for r in records if r["item_id"] == item and r["store_id"] == "s7"]
    assert [r["source_ts"] for r in stock_outs] == [t0 + 200]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and worker.metric("fillrate_stale_signals_total") < 1:
        time.sleep(0.2)
    assert worker.metric("fillrate_stale_signals_total") == 1
