"""The store-state changelog without a broker: import, re-delivery detection, hand-over."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from online_learning.contract import decode_entry, encode_availability, encode_live
from online_learning.engine import SubstitutionEngine
from streams.batch_produce import Record
from streams.state_changelog import REPLY_SLOTS, StoreState


async def nothing(partition: int, records: list[Record]) -> list[Any]:
    return []


def restored_state() -> tuple[SubstitutionEngine, StoreState]:
    engine = SubstitutionEngine()
    state = StoreState("unused:9092", "changelog", engine, nothing)
    availability: dict[tuple[str, str], list[Any]] = {}
    live: dict[tuple[str, str], list[str] | None] = {}
    for raw in (
        encode_availability("s1", "milk", (0.27, 100.0, False), 7),
        encode_availability("s1", "oat", (0.02, 90.0, True), 5),
        encode_availability("s1", "soy", (0.97, 95.0, False), 6),
        encode_live("s1", "milk", ("oat", "soy")),
        encode_live("s1", "soy", ("milk",)),  # retired without a tombstone: soy is back
        encode_live("s1", "rice", ("soy",)),
        encode_live("s1", "rice", None),  # tombstone: retired
    ):
        kind, store, item, value = decode_entry(*raw)
        (availability if kind == "a" else live)[(store, item)] = value
    state._import(0, availability, live)
    return engine, state


def test_import_puts_back_entries_exactly_and_only_live_rankings() -> None:
    engine, state = restored_state()
    assert engine.availability_entry("s1", "milk") == (0.27, 100.0, False)
    assert engine.availability_entry("s1", "oat") == (0.02, 90.0, True)
    assert engine.live_ranking("s1", "milk") == ("oat", "soy")
    assert engine.live_ranking("s1", "soy") is None
    assert engine.live_ranking("s1", "rice") is None
    assert engine.clock == 100.0
    assert state.store_partition == {"s1": 0}


def test_a_redelivered_signal_is_recognised_by_its_offset() -> None:
    _, state = restored_state()
    restored = state._import(0, {("s1", "milk"): [0.27, 100.0, False, 7]}, {})
    state._applied[0] = restored
    assert state.already_applied(0, 7, "s1", "milk")  # applied before the crash
    assert not state.already_applied(0, 7, "s1", "other")  # another key at that offset? no
    assert state.already_applied(0, 3, "s1", "milk")  # older still
    assert not state.already_applied(0, 8, "s1", "milk")  # past everything known
    assert 0 not in state._applied  # and no more checks for this partition


async def test_losing_a_partition_forgets_its_stores() -> None:
    engine, state = restored_state()
    state.owned = {0}
    state.on_assigned([1])
    state._restores[1].cancel()  # partition 1 would be restored from the broker
    stats = engine.stats()
    assert stats.availability_entries == 0 and stats.live_rankings == 0
    assert state.store_partition == {}
    assert state.owned == {1}


async def test_a_ranking_the_restore_does_not_bring_back_gets_its_tombstone_written() -> None:
    engine, state = restored_state()
    sent: list[tuple[int, list[Record]]] = []

    async def send(partition: int, records: list[Record]) -> list[Any]:
        sent.append((partition, records))
        return []

    state.send = send
    # soy is believed on the shelf again: the old owner never wrote its tombstones
    retired = engine.take_retired()
    assert retired == {("s1", "soy"): "not_restored"}
    state.retired(retired)
    await state.flush()
    await state.written()
    assert sent == [(0, [encode_live("s1", "soy", None)])]


async def test_replies_and_counted_offsets_written_are_what_a_restore_reads_back() -> None:
    # What flush writes for a partition, decoded as _read decodes it, is what the next owner
    # of the partition answers and skips with.
    written: list[Record] = []

    async def send(partition: int, records: list[Record]) -> list[Any]:
        written.extend(records)
        return []

    engine = SubstitutionEngine()
    state = StoreState("unused:9092", "changelog", engine, send)
    state.on_assigned([0])
    state._restores[0].cancel()  # no broker here: nothing to restore
    state.replied("requests", 0, 41, b"o1", b'{"request_id":"r1","substitutes":[]}')
    state.replied("requests", 0, 41 + REPLY_SLOTS, b"o2", b'{"request_id":"r2"}')  # same slot
    state.counted("orders", 0, 17)
    await state.write_replies()
    await state.flush()
    await state.written()

    replies: dict[int, tuple[bytes, bytes]] = {}
    counted: dict[str, int] = {}
    latest = {key: value for key, value in written}  # compaction keeps a key's last value
    for key, value in latest.items():
        assert key is not None
        kind, topic, _slot, decoded = decode_entry(key, value)
        if kind == "q":
            offset, reply_key, payload = decoded
            replies[offset] = (reply_key.encode(), orjson.dumps(payload))
        elif kind == "c":
            counted[topic] = decoded
    assert replies == {41 + REPLY_SLOTS: (b"o2", b'{"request_id":"r2"}')}  # the slot reused
    assert counted == {"orders": 17}

    successor = StoreState("unused:9092", "changelog", SubstitutionEngine(), send)
    successor._stored_replies[("requests", 0)] = replies
    successor._counted[("orders", 0)] = counted["orders"]
    assert successor.stored_reply("requests", 0, 41 + REPLY_SLOTS) == (
        b"o2",
        b'{"request_id":"r2"}',
    )
    assert successor.stored_reply("requests", 0, 41) is None  # older than the slots keep
    assert successor.already_counted("orders", 0, 17)
    assert not successor.already_counted("orders", 0, 18)


async def test_state_is_written_only_once_the_rankings_before_it_have_left() -> None:
    # A state record that reached the broker ahead of its ranking would, after a crash between
    # the two, mark the signal applied while the ranking never left: lost for good.
    sent: list[Record] = []

    async def send(partition: int, records: list[Record]) -> list[Any]:
        sent.extend(records)
        return []

    loop = asyncio.get_running_loop()
    ranking: asyncio.Future[None] = loop.create_future()  # a ranking on its way to the broker

    async def undelivered_rankings() -> tuple[asyncio.Future[None], ...]:
        return () if ranking.done() else (ranking,)

    state = StoreState("unused:9092", "changelog", SubstitutionEngine(), send, undelivered_rankings)
    state.applied(0, 5, "s1", "milk", was_live=True)  # its ranking retired: a tombstone to write
    await asyncio.wait_for(state.flush(), 5)  # the stream is not held up
    state.applied(0, 6, "s1", "oat", was_live=True)
    await asyncio.wait_for(state.flush(), 5)  # a later flush: after the first, in order
    await asyncio.sleep(0.05)
    assert not sent, "state written before the ranking it came from left"
    writing = asyncio.ensure_future(state.written())
    await asyncio.sleep(0.05)
    assert not writing.done()
    ranking.set_result(None)
    await asyncio.wait_for(writing, 5)
    assert sent == [encode_live("s1", "milk", None), encode_live("s1", "oat", None)]

    # Nothing of the stores' state to write: nothing waits.
    await asyncio.wait_for(state.flush(), 5)
    await asyncio.wait_for(state.written(), 5)


async def test_replies_go_through_their_own_send_and_the_other_state_through_send() -> None:
    state_records: list[Record] = []
    reply_records: list[Record] = []

    async def send(partition: int, records: list[Record]) -> list[Any]:
        state_records.extend(records)
        return []

    async def send_replies(partition: int, records: list[Record]) -> list[Any]:
        reply_records.extend(records)
        return []

    state = StoreState(
        "unused:9092", "changelog", SubstitutionEngine(), send, send_replies=send_replies
    )
    state.on_assigned([0])
    state._restores[0].cancel()  # no broker here: nothing to restore
    state.replied("requests", 0, 41, b"o1", b'{"request_id":"r1","substitutes":[]}')
    state.counted("orders", 0, 17)
    await state.write_replies()
    await state.flush()
    await state.written()
    assert [decode_entry(*record)[0] for record in reply_records] == ["q"]
    assert [decode_entry(*record)[0] for record in state_records] == ["c"]
