"""The state changelog record: availability entries, live rankings and counted offsets.

The worker writes one record per piece of per-store state it learned to a compacted topic and
reads them back when the group gives it a partition (``streams/state_changelog.py``); the
latest record of each key is the state. Keys are JSON arrays ``[kind, store, item]`` with kind
``"a"`` (an availability entry) or ``"r"`` (a live ranking); a ``None`` value is a tombstone.
Kind ``"c"`` is the offset up to which an input partition of the same number was counted
(completed orders): its key is ``["c", topic, ""]``, so ``store`` holds the topic's name.
Kind ``"q"`` is a reply sent to the request at an offset of the requests partition of the same
number, in one of a fixed number of slots: key ``["q", topic, slot]``, value
``[offset, reply key, reply payload]``; a request handled again after a crash gets the same
reply from it.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "decode_entry",
    "encode_availability",
    "encode_counted",
    "encode_live",
    "encode_reply_slot",
]


def encode_availability(
    store_id: str, item_id: str, entry: tuple[float, float, bool], offset: int
) -> tuple[bytes, bytes]:
    """One availability record: key ["a", store, item], value [p, ts, held, signal offset].

    >>> encode_availability("s1", "milk", (0.27, 10.0, False), 41)
    (b'["a","s1","milk"]', b'[0.27,10.0,false,41]')
    """
    p, ts, held = entry
    return orjson.dumps(["a", store_id, item_id]), orjson.dumps([p, ts, held, offset])


def encode_live(
    store_id: str, item_id: str, substitutes: tuple[str, ...] | None
) -> tuple[bytes, bytes | None]:
    """One live-ranking record: its substitute ids, or a tombstone once it was retired.

    >>> encode_live("s1", "milk", ("oat", "soy"))
    (b'["r","s1","milk"]', b'["oat","soy"]')
    >>> encode_live("s1", "milk", None)
    (b'["r","s1","milk"]', None)
    """
    key = orjson.dumps(["r", store_id, item_id])
    return key, None if substitutes is None else orjson.dumps(list(substitutes))


def encode_counted(topic: str, offset: int) -> tuple[bytes, bytes]:
    """The offset up to which this partition number of ``topic`` was counted.

    >>> encode_counted("orders.completed", 7)
    (b'["c","orders.completed",""]', b'7')
    >>> decode_entry(*encode_counted("orders.completed", 7))
    ('c', 'orders.completed', '', 7)
    """
    return orjson.dumps(["c", topic, ""]), orjson.dumps(offset)


def encode_reply_slot(
    topic: str, slot: int, offset: int, key: bytes, value: bytes
) -> tuple[bytes, bytes]:
    """The reply (``key``, ``value``: its message) to the request at ``offset`` of ``topic``.

    ``value`` is the reply's JSON payload, embedded as it is.

    >>> record = encode_reply_slot("requests", 7, 1031, b"o1", b'{"request_id":"r1"}')
    >>> record
    (b'["q","requests","7"]', b'[1031,"o1",{"request_id":"r1"}]')
    >>> decode_entry(*record)
    ('q', 'requests', '7', [1031, 'o1', {'request_id': 'r1'}])
    """
    return (
        orjson.dumps(["q", topic, str(slot)]),
        b"[" + orjson.dumps(offset) + b"," + orjson.dumps(key.decode()) + b"," + value + b"]",
    )


def decode_entry(key: bytes, value: bytes | None) -> tuple[str, str, str, Any]:
    """(kind, store, item, value or None) of a changelog record; kind "a", "r", "c" or "q".

    >>> decode_entry(*encode_availability("s1", "milk", (0.27, 10.0, False), 41))
    ('a', 's1', 'milk', [0.27, 10.0, False, 41])
    """
    kind, store_id, item_id = orjson.loads(key)
    return kind, store_id, item_id, None if value is None else orjson.loads(value)
