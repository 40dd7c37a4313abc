"""The Faust internals the worker relies on, on the pinned Faust: the group consumer gets the
configured fetch wait instead of Faust's fixed 1,500 ms; the worker's clock for a message
starts when its fetch response arrived; batches are handed over as soon as the records the
consumer fetched are in, never larger than asked, each event once, and acked."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from faust.types import TP, Message

from streams.aiokafka_internals import fetched_at, stamp_fetches
from streams.embedded_broker import EmbeddedBroker, free_port
from streams.faust_internals import (
    Deliveries,
    DeliveryMonitor,
    deliver_in_place,
    received_at,
    stamp_delivery,
)
from streams.run_worker import BoundedStopWorker
from streams.settings import Settings
from streams.worker import build_worker

TAKE_APP = Path(__file__).with_name("take_batches_app.py")


async def _group_consumer_wait(settings: Settings) -> int:
    worker = build_worker(settings)
    thread = worker.app.consumer._thread  # Faust's aiokafka consumer thread (not started)
    consumer = thread._create_worker_consumer(worker.app.transport)
    wait = consumer._fetch_max_wait_ms
    await consumer.stop()  # never started: only releases what __init__ took
    return int(wait)


async def test_worker_consumer_uses_the_configured_fetch_wait() -> None:
    settings = Settings.load({"broker": "kafka://127.0.0.1:1", "fetch_wait_ms": 7}, environ={})
    assert await _group_consumer_wait(settings) == 7


async def test_default_fetch_wait_is_short() -> None:
    # 40 ms: far below Faust's 1,500, and under load on Tansu it beat 10 ms
    # (docs/performance.md, "Latency: the worker's own and stock-out to ranking")
    settings = Settings.load({"broker": "kafka://127.0.0.1:1"}, environ={})
    assert settings.fetch_wait_ms == 40
    assert await _group_consumer_wait(settings) == 40


def test_a_negative_fetch_wait_is_refused() -> None:
    from streams.settings import SettingsError

    with pytest.raises(SettingsError, match="fetch_wait_ms"):
        Settings.load({"fetch_wait_ms": -1}, environ={})


async def test_the_worker_clock_starts_when_the_fetch_arrived_not_when_delivered() -> None:
    """A fetch response can wait whole in the consumer, and its records wait to be delivered
    one by one between the agents' batches: both waits are the worker's, and count."""
    app = faust.App("t-fetched", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    handed: list[float | None] = []

    async def conductor(message: Message) -> None:  # stands for Faust's Conductor.on_message
        handed.append(message.time_in)

    arrived = time.monotonic() - 0.25  # the response came in a quarter of a second ago
    record = ConsumerRecord("t", 0, 5, 1, 0, b"k", b"v", None, 1, 1, ())
    record._fillrate_fetched_at = arrived  # type: ignore[attr-defined]  # as getall marks it
    fetch = {TopicPartition("t", 0): [record]}
    consumer: Any = app.consumer

    async def next_records(timeout: float) -> tuple[dict[Any, Any], set[Any]]:
        return fetch, set(fetch)

    consumer.callback = conductor
    consumer._wait_next_records = next_records
    stamp_delivery(app)
    records, _ = await consumer._wait_next_records(1.0)
    assert records is fetch
    message = Message("t", 0, 5, 1.0, 0, None, b"k", b"v", None)
    await consumer.callback(message)
    assert received_at(message) == arrived and handed == [arrived]
    # a record of a partition the fetch did not hold: stamped as it is delivered
    other = Message("t", 1, 0, 1.0, 0, None, b"k", b"v", None)
    before = time.monotonic()
    await consumer.callback(other)
    stamp = received_at(other)
    assert stamp is not None and before <= stamp <= time.monotonic()


@pytest.mark.broker
async def test_consumer_records_carry_when_their_fetch_response_arrived(
    broker: EmbeddedBroker,
) -> None:
    stamp_fetches()
    tag = uuid.uuid4().hex[:8]
    topic = f"t-{tag}-fetched"
    bootstrap = broker.url.removeprefix("kafka://")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(20):
            await producer.send_and_wait(topic, str(i).encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        before = time.monotonic()
        got: list[Any] = []
        stamps: list[float | None] = []
        while len(got) < 20:
            for records in (await consumer.getmany(timeout_ms=2000, max_records=7)).values():
                got += records
                stamps.append(fetched_at(records))
            await asyncio.sleep(0.05)  # the app busy: what was fetched waits
        after = time.monotonic()
    finally:
        await consumer.stop()
    assert [r.value for r in got] == [str(i).encode() for i in range(20)]
    assert all(s is not None and before <= s <= after for s in stamps), stamps
    # at most 7 a call: the lists of one response carry its arrival, earlier than handed out
    assert len(stamps) >= 3 and stamps == sorted(stamps)  # type: ignore[type-var]
    assert fetched_at([]) is None


async def test_the_worker_clock_starts_at_delivery_for_a_record_of_no_known_fetch() -> None:
    app = faust.App("t-stamp", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    handed: list[float | None] = []

    async def conductor(message: Message) -> None:  # stands for Faust's Conductor.on_message
        handed.append(message.time_in)

    app.consumer.callback = conductor  # type: ignore[attr-defined]
    stamp_delivery(app)
    message = Message("t", 0, 5, 1.0, 0, None, b"k", b"v", None)
    before = time.monotonic()
    await app.consumer.callback(message)  # type: ignore[attr-defined]
    delivered = received_at(message)
    assert delivered is not None and before <= delivered <= time.monotonic()
    assert handed == [delivered]
    # a stream takes it later: Faust's Monitor would stamp it again there; this one keeps it
    await asyncio.sleep(0.01)
    app.monitor.on_message_in(TP("t", 0), 5, message)
    assert received_at(message) == delivered
    assert app.monitor.messages_received_total == 1  # Faust's own counts still kept


async def test_the_consumer_delivers_in_place_while_its_flow_runs() -> None:
    """Faust's drain loop hands each message over through wait_first(callback(message),
    suspend_flow.wait()): four tasks per message. Flowing, the callback runs in the loop's
    own task, and its result comes back as wait_first's would."""
    app = faust.App("t-in-place", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    deliver_in_place(app)
    consumer: Any = app.consumer
    ran_in: list[asyncio.Task[Any] | None] = []

    async def callback(message: str) -> str:
        ran_in.append(asyncio.current_task())
        return message.upper()

    results = await consumer.wait_first(callback("m"), consumer.suspend_flow.wait())
    assert ran_in == [asyncio.current_task()]
    assert (results.results, results.stopped) == (["M"], False)


async def test_a_suspended_flow_still_gives_up_a_blocked_delivery() -> None:
    """While a rebalance suspends the flow, a delivery goes through Faust's wait_first, which
    gives up a callback blocked on a full queue as soon as the suspension is seen."""
    app = faust.App("t-suspended", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    deliver_in_place(app)
    consumer: Any = app.consumer
    consumer.suspend_flow.set()
    never = asyncio.Event()
    ran_in: list[asyncio.Task[Any] | None] = []

    async def blocked(message: str) -> None:
        ran_in.append(asyncio.current_task())
        await never.wait()

    results = await asyncio.wait_for(
        consumer.wait_first(blocked("m"), consumer.suspend_flow.wait()), timeout=2.0
    )
    assert ran_in and ran_in[0] is not asyncio.current_task()  # in a task of its own
    assert len(results.done) == 1 and results.done[0] is not None  # the suspension won


async def test_other_waits_of_the_consumer_are_faust_s_own() -> None:
    app = faust.App("t-other-waits", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    deliver_in_place(app)
    consumer: Any = app.consumer
    ran_in: list[asyncio.Task[Any] | None] = []

    async def one() -> int:
        ran_in.append(asyncio.current_task())
        return 1

    async def other() -> None:
        await asyncio.Event().wait()

    results = await consumer.wait_first(one(), other())
    assert ran_in and ran_in[0] is not asyncio.current_task()  # wait_first's task
    assert results.results == [1]


def test_stamp_delivery_refuses_an_app_with_faust_s_own_monitor() -> None:
    with pytest.raises(TypeError, match="DeliveryMonitor"):
        stamp_delivery(faust.App("t-plain", broker="kafka://127.0.0.1:1"))


async def _next_line(process: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), deadline - time.monotonic())
        assert line, "the take_batches app exited"
        _, mark, rest = line.decode().partition("take {")
        if mark:
            decoded: dict[str, Any] = json.loads("{" + rest)
            return decoded


async def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


@pytest.mark.broker
async def test_take_batches_hands_over_at_once_bounded_each_event_once_and_acked(
    broker: EmbeddedBroker,
) -> None:
    tag = uuid.uuid4().hex[:8]
    topic, group = f"t-{tag}-take", f"test-{tag}-take"
    bootstrap = broker.url.removeprefix("kafka://")
    within = 30.0  # Faust's take_events would hold a lone message for up to this long
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(TAKE_APP),
        "--broker",
        broker.url,
        "--topic",
        topic,
        "--app-id",
        group,
        "--web-port",
        str(free_port()),
        "--max",
        "3",
        "--within",
        str(within),
        stdout=asyncio.subprocess.PIPE,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        assert await _next_line(process, 60) == {"ready": True}
        for i in range(7):  # arrive together
            await producer.send(topic, f"v{i}".encode(), partition=0)
        await producer.flush()
        values: list[str] = []
        while len(values) < 7:
            batch = await _next_line(process, 30)
            assert 1 <= len(batch["values"]) <= 3  # never more than asked for
            values.extend(batch["values"])
        assert values == [f"v{i}" for i in range(7)]  # each once, in order

        await asyncio.sleep(1.0)  # the agent is idle now
        sent = time.time()
        await producer.send_and_wait(topic, b"lone", partition=0)
        batch = await _next_line(process, within)
        assert batch["values"] == ["lone"]
        assert batch["waiting"] == 0  # every record fetched is in a batch handed over
        waited = batch["at"] - sent
        assert waited < 5.0, f"a lone message waited {waited:.1f} s for its batch"

        # every event acked once its batch was handed over: Faust commits past the last
        tp = TopicPartition(topic, 0)
        deadline = time.monotonic() + 20
        committed = None
        while time.monotonic() < deadline:
            committed = await _committed(bootstrap, group, tp)
            if committed == 8:
                break
            await asyncio.sleep(0.5)
        assert committed == 8
    finally:
        await producer.stop()
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def _batch_sizes(broker: EmbeddedBroker, records: int, *options: str) -> list[int]:
    """The sizes of the batches a take_batches app (at most 500 each) hands over of
    ``records`` already in its topic when it starts."""
    tag = uuid.uuid4().hex[:8]
    topic, group = f"t-{tag}-backlog", f"test-{tag}-backlog"
    producer = AIOKafkaProducer(bootstrap_servers=broker.url.removeprefix("kafka://"))
    await producer.start()
    try:
        for i in range(records):
            await producer.send(topic, f"v{i}".encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(TAKE_APP),
        *("--broker", broker.url, "--topic", topic, "--app-id", group),
        *("--web-port", str(free_port()), "--max", "500", *options),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert await _next_line(process, 60) == {"ready": True}
        sizes: list[int] = []
        values: list[str] = []
        while len(values) < records:
            batch = await _next_line(process, 20)  # a backlog is never held for behind_within
            sizes.append(len(batch["values"]))
            values.extend(batch["values"])
        assert values == [f"v{i}" for i in range(records)]  # each once, in order
        return sizes
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


@pytest.mark.broker
async def test_take_batches_fills_its_batches_while_the_consumer_is_behind(
    broker: EmbeddedBroker,
) -> None:
    # A backlog of 3,000: cut after 0.5 ms, a batch holds what Faust delivered by then
    short = await _batch_sizes(broker, 3000, "--within", "0.0005")
    assert statistics.median(short) < 500, short
    # ... unless the consumer holds more than the batch has room for: then it fills up
    # (a batch that holds the rest of a fetch is handed over at once, full or not)
    behind = await _batch_sizes(broker, 3000, "--within", "0.0005", "--behind-within", "30")
    assert sum(size for size in behind if size == 500) >= 1500, behind
    assert len(behind) < len(short), (behind, short)


def test_deliveries_count_what_a_fetch_has_left_and_tell_when_a_topic_is_all_delivered() -> None:
    deliveries = Deliveries()
    told: list[str] = []
    deliveries.listeners.append(told.append)
    deliveries.fetched({TP("a", 0): [1, 2], TP("a", 1): [3], TP("b", 0): [4]})
    assert (deliveries.undelivered("a"), deliveries.undelivered("b")) == (3, 1)
    deliveries.delivered("a")
    deliveries.delivered("b")
    assert told == ["b"]
    deliveries.delivered("a")
    deliveries.delivered("a")
    assert told == ["b", "a"] and deliveries.undelivered("a") == 0
    deliveries.delivered("a")  # a record from before this fetch: never below 0, told once
    assert told == ["b", "a"] and deliveries.undelivered("a") == 0
    deliveries.fetched({TP("b", 0): [5, 6]})  # the next fetch replaces the counts
    assert (deliveries.undelivered("a"), deliveries.undelivered("b")) == (0, 2)
    deliveries.fetched(None)  # a fetch that timed out
    assert deliveries.undelivered("b") == 0


def test_deliveries_tell_each_fetch_s_size_and_not_an_empty_one() -> None:
    deliveries = Deliveries()
    sizes: list[int] = []
    deliveries.fetched({TP("a", 0): [1, 2]})  # nobody asked yet
    deliveries.on_fetch = sizes.append
    deliveries.fetched({TP("a", 0): [1, 2, 3], TP("b", 1): [4]})
    deliveries.fetched({})
    deliveries.fetched(None)
    deliveries.fetched({TP("a", 0): [5]})
    assert sizes == [4, 1]


async def test_stamp_delivery_counts_each_fetch_down_as_the_consumer_delivers() -> None:
    app = faust.App("t-count", broker="kafka://127.0.0.1:1", Monitor=DeliveryMonitor)
    message = Message("t", 0, 5, 1.0, 0, None, b"k", b"v", None)
    left: list[int] = []

    async def conductor(delivered: Message) -> None:
        left.append(deliveries.undelivered("t"))  # counted down once it is in the queue

    async def fetch(timeout: float) -> tuple[dict[TP, list[Message]], None]:
        return {TP("t", 0): [message, message]}, None

    app.consumer.callback = conductor  # type: ignore[attr-defined]
    app.consumer._wait_next_records = fetch  # type: ignore[attr-defined]
    deliveries = stamp_delivery(app)
    await app.consumer._wait_next_records(1.0)  # type: ignore[attr-defined]
    assert deliveries.undelivered("t") == 2
    await app.consumer.callback(message)  # type: ignore[attr-defined]
    await app.consumer.callback(message)  # type: ignore[attr-defined]
    assert left == [2, 1] and deliveries.undelivered("t") == 0


@pytest.mark.parametrize("level", ["WARNING", "ERROR"])
def test_the_worker_keeps_the_root_log_level_faust_s_spinner_would_set_to_debug(
    level: str,
) -> None:
    """At WARNING and above Faust's own worker sets the root logger to DEBUG for its spinner,
    so every debug call of aiokafka builds a record; the worker's keeps the level asked for."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    loop = asyncio.new_event_loop()
    app = faust.App(f"t-{uuid.uuid4().hex[:8]}", broker="kafka://127.0.0.1:1", autodiscover=False)
    try:
        found = {}
        kwargs: dict[str, Any] = {
            "loglevel": level,
            "quiet": True,
            "redirect_stdouts": False,
            "loop": loop,
        }
        workers = {
            "Worker": faust.Worker(app, **kwargs),
            "BoundedStopWorker": BoundedStopWorker(30.0, app, **kwargs),
        }
        for name, worker in workers.items():
            worker._setup_logging()  # what execute_from_commandline runs first (mode/worker.py)
            found[name] = (
                root.level,
                logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG),
            )
            root.setLevel(saved[0])
            root.handlers[:] = saved[1]
        assert found["Worker"] == (logging.DEBUG, True)  # what the worker would inherit
        assert found["BoundedStopWorker"] == (logging.getLevelName(level), False)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        loop.close()
