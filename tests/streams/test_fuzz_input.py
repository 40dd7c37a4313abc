"""Bad input at volume, against a real worker: every bad message is dead-lettered with a reason,
every good one interleaved with them is processed, and the worker's memory stays bounded."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from online_learning.contract import DEAD_LETTER_MAX_PAYLOAD, decode_signal, product_payload
from online_learning.offline.instacart import load_instacart_products
from tests.conftest import signal_payload

pytestmark = pytest.mark.broker

MILK = [p for p in load_instacart_products() if p.aisle == "milk"][:40]
KNOWN = [p.item_id for p in MILK]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.text(min_size=5_000, max_size=20_000),  # huge strings
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "store_id",
        "item_id",
        "signal",
        "ts",
        "quantity",
        "event_id",
        "substitute_id",
        "outcome",
        "position",
    ]
)


@st.composite
def mangled_signal(draw: st.DrawFn) -> bytes:
    """A signal with some fields replaced by anything, dropped, or pointing at unknown ids."""
    payload = signal_payload("fuzz", draw(st.sampled_from(KNOWN)), "found", 1_700_000_000.0)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(field_names)
        if draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = draw(json_values)
    return orjson.dumps(payload)


bad_bytes = st.one_of(
    st.binary(min_size=0, max_size=300),  # random bytes
    mangled_signal(),  # wrong types, etc.
    st.integers(1025, 3000).map(lambda d: b"[" * d + b"]" * d),  # too deeply nested
    st.sampled_from(
        [
            b'{"ts": NaN}',
            b'{"store_id": "s", "item_id": "1", "signal": "found", "ts": Infinity}',
            b'{"ts": -1, "store_id": "s", "item_id": "1", "signal": "found"}',
        ]
    ),  # NaN, negative ts
    st.just(
        b'{"store_id": "fuzz", "item_id": "no-such-item", "signal": "not_found", "ts": 1}'
    ),  # unknown item
    st.just(
        b'{"store_id": "s", "item_id": "1", "signal": "found", "ts": 1,'
        b' "quantity": 123456789012345678901234567890}'
    ),  # an integer past 64 bits
)


def is_bad(raw: bytes) -> bool:
    """What the contract says of the payload (unknown items are refused by the worker)."""
    try:
        decoded = decode_signal(raw)
    except Exception:
        return True
    return decoded.item_id not in KNOWN


async def test_fuzzed_input_is_dead_lettered_and_good_input_still_processed(
    worker_factory: Any, kafka_io: Any
) -> None:
    worker = worker_factory()
    io = await kafka_io(worker.settings)
    s = worker.settings
    await io.follow(s.deadletter_topic)
    await io.follow(s.rankings_topic)
    for p in MILK:
        await io.send(s.catalog_topic, product_payload(p), key=p.item_id)
    rss_start = worker.rss()
    totals = {"bad": 0, "good": 0}

    async def send_batch(batch: list[bytes]) -> None:
        tag = uuid.uuid4().hex[:6]
        goods = []
        # Volume: ten 900 kB blobs a batch, 36 MB in all, so a worker that kept refused
        # payloads (in memory, or in a queue it never drains) would blow the bound below.
        for j in range(10):
            blob = (b"\xff" + tag.encode() + bytes([j])) * (900_000 // 8)
            await io.producer.send(s.signals_topic, key=b"fuzz", value=blob)
            totals["bad"] += 1
        for i, raw in enumerate(batch):
            await io.producer.send(s.signals_topic, key=b"fuzz", value=raw)
            totals["bad"] += is_bad(raw)
            totals["good"] += not is_bad(raw)
            if i % 10 == 0:  # a good stock-out every ten messages, at its own store
                store = f"good-{tag}-{i}"
                goods.append(store)
                await io.producer.send(
                    s.signals_topic,
                    key=store.encode(),
                    value=orjson.dumps(signal_payload(store, KNOWN[i % len(KNOWN)], "not_found")),
                )
        await io.producer.flush()
        rankings = await io.read(
            s.rankings_topic,
            lambda rs: {r["store_id"] for r in rs} >= set(goods),
            timeout=30,
        )
        assert {r["store_id"] for r in rankings} >= set(goods), "a good event was not processed"

    # Hypothesis calls its test synchronously and the broker I/O is async on the session's
    # loop, so the examples are drawn first and then sent, each batch in order.
    batches: list[list[bytes]] = []

    @settings(
        max_examples=4,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(st.lists(bad_bytes, min_size=100, max_size=200))
    def collect(batch: list[bytes]) -> None:
        batches.append(batch)

    collect()
    for batch in batches:
        await send_batch(batch)

    dead = await io.read(s.deadletter_topic, lambda r: len(r) >= totals["bad"], timeout=30)
    assert len(dead) == totals["bad"], (len(dead), totals)
    assert all(d["error"] for d in dead)
    blobs = [d for d in dead if d.get("payload_truncated")]
    assert len(blobs) == 10 * len(batches)  # too big to keep whole: head and size kept
    assert all(d["payload_size"] > DEAD_LETTER_MAX_PAYLOAD for d in blobs)
    assert worker.metric("fillrate_dead_letters_total") == totals["bad"]
    assert worker.process.poll() is None
    growth = worker.rss() - rss_start
    # Without the blobs the worker grows by about 30 MB here (state of the good events,
    # buffers); keeping the 36 MB of refused blobs would push it past the bound.
    assert growth < 64 * 2**20, f"worker RSS grew by {growth / 2**20:.0f} MiB"
