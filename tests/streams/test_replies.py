"""Personal replies on the real broker: a customer's choices and needs, a tombstone, a crash.

One worker reads ``customers.preferences`` as a table and answers ``substitutions.requests``
on ``substitutions.replies``: an empty reply for ``no_substitute``; the customer's available
picks first for ``specific``; only candidates with every needed tag for a customer's needs; the
store-level answer again once a tombstone removes the choice; a lactose-free item never
replaced by a regular one; a request naming an unknown item dead-lettered. Then a worker is
killed (SIGKILL) mid-stream and restarted: every request gets a reply, and a request answered
twice gets the same substitutes both times.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import jsonschema
import orjson
import pytest

from online_learning.contract import (
    CustomerNeeds,
    ItemChoice,
    PreferenceTombstone,
    SubstitutionRequest,
    encode_preference,
    load_schema,
    product_payload,
    request_payload,
)
from tests.conftest import feedback_payload, milk, signal_payload
from tests.streams.conftest import KafkaIO, wait_ready

pytestmark = pytest.mark.broker

REPLY_SCHEMA = jsonschema.Draft202012Validator(load_schema("substitutions.replies"))
CATALOG = [
    milk("whole", "Acme Whole Milk 1 gal", 3.99, "Acme"),
    milk("whole-2", "Dairyco Whole Milk 1 gal", 3.89, "Dairyco"),
    milk("lf", "Acme Lactose Free Whole Milk 1 gal", 4.49, "Acme"),
    milk("lf-2", "Dairyco Lactose Free Whole Milk 1 gal", 4.29, "Dairyco"),
    milk("oat", "Oatco Oat Milk 64 oz", 4.5, "Oatco"),
    milk("skim", "Acme Skim Milk 1 gal", 3.59, "Acme"),
]
NOW = time.time()


class Requests:
    """Sends requests with fresh ids and reads their replies."""

    def __init__(self, io: KafkaIO) -> None:
        self.io = io
        self.n = 0
        self.replies: dict[str, list[dict[str, Any]]] = defaultdict(list)

    async def send(self, customer: str, item: str, store: str = "s1", wait: bool = True) -> str:
        self.n += 1
        request = SubstitutionRequest(
            f"req-{self.n}", f"order-{self.n}", customer, store, item, NOW + self.n
        )
        payload = request_payload(request)
        if wait:
            await self.io.send(self.io.settings.requests_topic, payload, store)
        else:
            await self.io.producer.send(
                self.io.settings.requests_topic, key=store.encode(), value=orjson.dumps(payload)
            )
        return request.request_id

    async def reply(self, request_id: str, timeout: float = 15.0) -> dict[str, Any]:
        await self.collect(lambda: request_id in self.replies, timeout)
        assert request_id in self.replies, f"no reply to {request_id}"
        return self.replies[request_id][0]

    async def collect(self, done: Any, timeout: float) -> None:
        topic = self.io.settings.replies_topic
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            for record in await self.io.read(topic, timeout=0.3):
                REPLY_SCHEMA.validate(record)
                self.replies[record["request_id"]].append(record)


def ids(reply: dict[str, Any]) -> list[str]:
    return [s["item_id"] for s in reply["substitutes"]]


async def preference(io: KafkaIO, record: Any) -> None:
    key, value = encode_preference(record)
    await io.send(io.settings.preferences_topic, value, key.decode())


async def test_choices_needs_and_a_tombstone_shape_each_customers_reply(
    worker_factory: Any, kafka_io: Any
) -> None:
    worker = worker_factory(explore_epsilon=0.0)  # the same order for the same question
    s = worker.settings
    io = await kafka_io(s)
    await io.follow(s.replies_topic)
    await io.follow(s.deadletter_topic)
    for p in CATALOG:
        await io.send(s.catalog_topic, product_payload(p), p.item_id)
    await io.send(s.signals_topic, signal_payload("s1", "skim", "out_of_stock", NOW), "s1")
    await preference(io, ItemChoice("decliner", "whole", "no_substitute", (), NOW))
    await preference(io, ItemChoice("picker", "whole", "specific", ("skim", "oat", "lf"), NOW))
    await preference(io, CustomerNeeds("needy", frozenset({"lactose_free"}), NOW))
    await asyncio.sleep(0.5)  # the preferences reach the worker's table one fetch later
    requests = Requests(io)

    declined = await requests.reply(await requests.send("decliner", "whole"))
    assert declined["substitutes"] == [] and declined["reason"] == "customer_declined"

    picked = await requests.reply(await requests.send("picker", "whole"))
    assert ids(picked)[:2] == ["oat", "lf"]  # in the customer's order; skim is out of stock
    assert [x["source"] for x in picked["substitutes"][:2]] == ["customer", "customer"]
    assert "skim" not in ids(picked) and len(set(ids(picked))) == len(ids(picked))

    needy = await requests.reply(await requests.send("needy", "whole"))
    assert ids(needy) and set(ids(needy)) <= {"lf", "lf-2", "oat"}  # lactose free, all

    anyone = await requests.reply(await requests.send("anyone", "whole"))
    assert all(x["source"] == "model" for x in anyone["substitutes"])

    # The tombstone removes the picker's choice: best match again, as for anyone else.
    await preference(io, PreferenceTombstone("picker:whole"))
    await asyncio.sleep(0.5)
    again = await requests.reply(await requests.send("picker", "whole"))
    assert all(x["source"] == "model" for x in again["substitutes"])
    assert ids(again) == ids(anyone)

    # A lactose-free item is never replaced by a regular one, whoever asks.
    lactose_free = await requests.reply(await requests.send("anyone", "lf"))
    assert ids(lactose_free) and set(ids(lactose_free)) <= {"lf-2", "oat"}

    # An unknown item is refused, like a signal naming one.
    await requests.send("anyone", "ghost")
    dead = await io.read(s.deadletter_topic, lambda records: len(records) >= 1)
    assert "unknown item 'ghost'" in dead[0]["error"]
    assert worker.metric("fillrate_replies_total", kind="customer_choice") == 2
    assert worker.metric("fillrate_replies_empty_total", reason="customer_declined") == 1
    assert worker.metric("fillrate_request_to_reply_latency_seconds_count") == 6  # ghost: none
    # the worker's own part of it, for each reply and for the ranking of the skim stock-out
    assert worker.metric("fillrate_worker_latency_seconds_count", output="reply") == 6
    assert worker.metric("fillrate_worker_latency_seconds_count", output="ranking") >= 1
    # each fetch of the group consumer counted with its records: all those sent, at least
    sent = len(CATALOG) + 1 + 4 + 7  # the catalog, the signal, preferences, requests
    fetched = worker.metrics()
    records = fetched.value("fillrate_fetch_records_sum")
    assert 1 <= fetched.value("fillrate_fetch_records_count") <= records and records >= sent
    # the loop-lag probe has been waking up every 10 ms all along (seconds of it by now)
    assert worker.metric("fillrate_event_loop_lag_seconds_count") >= 50
    # and every garbage collection timed since it started (young ones many times a second)
    assert worker.metric("fillrate_gc_pause_seconds_count", generation="0") >= 1


async def test_every_request_gets_a_reply_across_a_kill_and_copies_are_identical(
    worker_factory: Any, kafka_io: Any
) -> None:
    worker = worker_factory()
    s = worker.settings
    io = await kafka_io(s)
    await io.follow(s.replies_topic)
    for p in CATALOG:
        await io.send(s.catalog_topic, product_payload(p), p.item_id)
    requests = Requests(io)
    sent: list[str] = []
    for i in range(60):
        sent.append(await requests.send(f"c{i % 7}", "whole", f"s{i % 4}", wait=False))
    await io.producer.flush()
    await requests.collect(lambda: len(requests.replies) >= len(sent), 20)
    worker.process.kill()  # SIGKILL, within the commit interval of the last replies
    worker.process.wait()
    # Feedback while it is down changes the model and the customers' tastes: a reply computed
    # again could differ from the one sent before the kill.
    for i in range(40):
        sub, outcome = ("lf", "accepted") if i % 2 else ("whole-2", "rejected")
        event = feedback_payload(f"s{i % 4}", "whole", sub, outcome)
        event["customer_id"] = f"c{i % 7}"
        await io.send(s.feedback_topic, event, event["store_id"])
    worker.start()
    wait_ready(worker)
    for i in range(60, 80):
        sent.append(await requests.send(f"c{i % 7}", "whole", f"s{i % 4}", wait=False))
    await io.producer.flush()
    await requests.collect(lambda: set(requests.replies) >= set(sent), 30)
    await requests.collect(lambda: False, 1.0)  # copies resent after the restart, if any

    assert set(requests.replies) == set(sent), "a request got no reply"
    for request_id, copies in requests.replies.items():
        first = copies[0]
        for copy in copies[1:]:
            assert copy["substitutes"] == first["substitutes"], request_id
            assert copy["propensity"] == first["propensity"], request_id
    resent = worker.metric("fillrate_replies_resent_total")
    copies = sum(len(c) - 1 for c in requests.replies.values())
    assert copies == resent  # every copy is a stored reply sent again, never a new one
    print(f"{copies} requests answered again after the kill, with the stored reply")
