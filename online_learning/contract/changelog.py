"""The state changelog record: availability entries and live rankings, as key and value bytes.

The worker writes one record per piece of per-store state it learned to a compacted topic and
reads them back when the group gives it a partition (``streams/state_changelog.py``); the
latest record of each key is the state. Keys are JSON arrays ``[kind, store, item]`` with kind
``"a"`` (an availability entry) or ``"r"`` (a live ranking); a ``None`` value is a tombstone.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["decode_entry", "encode_availability", "encode_live"]


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


def decode_entry(key: bytes, value: bytes | None) -> tuple[str, str, str, Any]:
    """(kind, store, item, value or None) of a changelog record; kind is "a" or "r".

    >>> decode_entry(*encode_availability("s1", "milk", (0.27, 10.0, False), 41))
    ('a', 's1', 'milk', [0.27, 10.0, False, 41])
    """
    kind, store_id, item_id = orjson.loads(key)
    return kind, store_id, item_id, None if value is None else orjson.loads(value)
