"""Snapshots of what the learning log taught an engine, so a restart replays only the tail.

Every worker builds its model by applying the shared learning log in order (feedback events
and demand summaries). Replaying a long log takes minutes; a snapshot taken at a log offset
holds everything that replay changed, and a restarted worker loads the newest snapshot and
applies only the records after its offset, ending with the same :meth:`model_digest` and
:meth:`popularity_digest` as a full replay.

What a snapshot holds (everything ``on_feedback`` and ``apply_demand`` change):

- the River model: weights in River's order, intercept, the optimizer's step count and
  squared-gradient sums, the count of events learned; and its hashed interaction weights
  (:mod:`online_learning.interactions`): the slots that learned, with their FTRL sums (z, n),
  from which their weights follow;
- the random effects' (S, W) sums per key and level;
- the acceptance history (accepted / offered per candidate and per pair);
- popularity's learned demand and the clock it fades by (seeds come from the catalog);
- the customers' tastes, in eviction order;
- the feedback ids remembered for de-duplication, in eviction order (optionally only the
  newest ``dedup_window`` of them: see :func:`engine_snapshot`);
- the engine's stream clock;
- ``extra``: whatever the caller adds, given back by :func:`restore_engine`: the log offset
  the snapshot was taken at, the log reader's counters and its digest of event ids, and the
  monitor's scores (:meth:`~online_learning.monitoring.LearningMonitor.state`).

Not in it: the catalog, availability and live rankings (other topics rebuild them), the
demand this worker counted but has not published yet, and stale-signal counts.

The format cannot run code (no pickle: snapshots travel on a shared topic)::

    header  magic b"FRSNAP01", version u16, codec u8, pad u8, body length u64,
            blake2b-256 of the body (32 bytes)
    body    compressed (codec 1: zlib, 2: lzma, 0: none) payload
    payload meta length u32, meta (orjson), then every array's raw bytes back to back

``meta`` is the state tree with each NumPy array replaced by ``{"__array__": i}`` and a table
of (dtype, shape, offset) per array; non-finite floats are ``{"__float__": "inf"}`` and the
like (JSON has none), and a list of two or more strings without newlines is one string,
``{"__lines__": "a\\nb"}`` (a million ids encode and split far faster so). Anything that
does not check out (magic, version, length, checksum, decompression, dtype, shape, or a
different learning configuration) raises :class:`SnapshotError`, and the caller replays the
whole log instead.

Size and time (``benchmarks/bench_snapshot.py``, the state of 1,000,000 feedback events over
the real catalog, on 2 shared and busy cores): 122 MB before compression, 41.5 MB with zlib
(the de-duplication ids 19.3 MB, the tastes of 100,000 customers 15.4 MB, the history's
887,000 pairs 5.5 MB), 39.3 MB with lzma for 3 to 9 times zlib's encoding time: zlib is the
default. Capturing the state took 2 to 6 s, restoring it 6 to 11 s; replaying the same
events took 430 to 600 us each (7 to 10 minutes). The ids and customers are bounded by their
capacities, so the size grows past that only with the pairs seen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import lzma
import math
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import orjson

from online_learning.effects import RandomEffects
from online_learning.engine import SubstitutionEngine
from online_learning.features import FEATURES
from online_learning.personal import CustomerTastes
from online_learning.recent_ids import RecentIds

__all__ = [
    "CODECS",
    "SNAPSHOT_VERSION",
    "SnapshotError",
    "decode_state",
    "decode_state_in_bulk",
    "encode_state",
    "engine_snapshot",
    "engine_state",
    "restore_decoded",
    "restore_engine",
]

SNAPSHOT_VERSION = 2  # 2: the acceptance history by item code, in columns
MAGIC = b"FRSNAP01"
_HEADER = struct.Struct(">8sHBxQ32s")
_META_LENGTH = struct.Struct(">I")
CODECS = {"none": 0, "zlib": 1, "lzma": 2}
# Only plain numeric dtypes, little-endian as written: an object dtype could not be read from
# raw bytes anyway, and a whitelist makes a crafted snapshot fail early and clearly.
_DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "|b1"})
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class SnapshotError(ValueError):
    """The snapshot cannot be used (damaged, another version or another configuration): replay
    the whole log instead."""


def engine_snapshot(
    engine: SubstitutionEngine,
    extra: Mapping[str, Any],
    *,
    codec: str = "zlib",
    dedup_window: int | None = None,
) -> bytes:
    """Everything the learning log taught ``engine``, and ``extra``, as bytes:
    ``encode_state(engine_state(engine, extra, dedup_window), codec)``.

    ``extra``: JSON-able values and NumPy arrays (the caller's own state at the same offset).
    ``dedup_window``: keep only the newest this many feedback ids for de-duplication (None:
    all the engine remembers). A duplicate older than that, arriving after a restore, would
    be learned twice: choose a window longer than any re-delivery (see
    ``benchmarks/bench_snapshot.py`` for what the ids cost).
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; known: {sorted(CODECS)}")
    return encode_state(engine_state(engine, extra, dedup_window), codec)


def engine_state(
    engine: SubstitutionEngine, extra: Mapping[str, Any], dedup_window: int | None = None
) -> dict[str, Any]:
    """The state tree :func:`engine_snapshot` encodes: copies, not views, so a worker can take
    it between two records (it must not learn meanwhile) and encode it in another thread
    (:func:`encode_state`; compression and checksum release the GIL) while it learns on."""
    tastes = engine.tastes
    effects = engine.effects
    with _no_cyclic_gc():
        return {
            "config": _config_key(engine),
            "model_digest": engine.model_digest(),
            "clock": engine.clock,
            "model": engine.model.state(),
            "effects": None if effects is None else effects.state(),
            "history": engine.features.history.state(),
            "popularity": engine.popularity.state(),
            "tastes": None if tastes is None else tastes.state(),
            "seen_feedback": engine.seen_feedback.state(dedup_window),
            "extra": dict(extra),
        }


def restore_engine(engine: SubstitutionEngine, data: bytes) -> Mapping[str, Any]:
    """Load a snapshot into ``engine`` (fresh: nothing learned yet; the catalog may be loaded)
    and return its ``extra``; then apply the log from the snapshot's offset on.

    Raises :class:`SnapshotError`, leaving the engine as it was, if the bytes are damaged or
    of another format version, if they were taken with another learning configuration, if
    the state does not fit the engine, or if the restored model's digest differs from the
    one recorded at the snapshot: replay the whole log into the same engine then.
    """
    with _no_cyclic_gc():
        return _restore(engine, decode_state(data))


def decode_state_in_bulk(data: bytes) -> dict[str, Any]:
    """:func:`decode_state` with the cyclic collector off (it builds millions of objects, none
    of them garbage); safe to call in another thread while the catalog loads."""
    with _no_cyclic_gc():
        return decode_state(data)


def restore_decoded(engine: SubstitutionEngine, state: dict[str, Any]) -> Mapping[str, Any]:
    """:func:`restore_engine` for a state already decoded (:func:`decode_state_in_bulk`):
    the same checks, the same :class:`SnapshotError`."""
    with _no_cyclic_gc():
        return _restore(engine, state)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for a bulk capture or load: it creates millions of lists and
    strings, none of them garbage, and each collection they trigger walks the whole heap
    (restoring 400,000 events' state: 3.1 to 5.6 s with it, 2.1 to 2.5 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _restore(engine: SubstitutionEngine, state: dict[str, Any]) -> Mapping[str, Any]:
    try:
        config, expected = state["config"], _config_key(engine)
    except (KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot without its configuration: {exc!r}") from exc
    if config != expected:
        raise SnapshotError(
            "snapshot taken with another learning configuration "
            f"(snapshot {config!r}, engine {expected!r})"
        )
    if engine.model.n_learned or len(engine.seen_feedback) or engine.refresh_pass.learned_since:
        raise SnapshotError("restore_engine needs an engine that has learned nothing yet")
    model, history, popularity = engine.model, engine.features.history, engine.popularity
    # What is loaded in place is saved first (small on a fresh engine), so that any failure
    # puts it back; the other parts are loaded into new objects and swapped in at the end.
    before = model.state(), history.state(), popularity.state()
    try:
        effects = tastes = None
        if engine.config.effects is not None:
            effects = RandomEffects(engine.config.effects)
            effects.load_state(state["effects"])
        if engine.config.tastes is not None:
            tastes = CustomerTastes(engine.config.tastes)
            tastes.load_state(state["tastes"])
        seen = RecentIds(engine.seen_feedback.capacity)
        seen.load_state(state["seen_feedback"])
        clock, extra, digest = float(state["clock"]), state["extra"], state["model_digest"]
        if not isinstance(extra, Mapping):
            raise TypeError("extra is not a mapping")
        model.load_state(state["model"])
        history.load_state(state["history"])
        popularity.load_state(state["popularity"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        _put_back(engine, before)
        raise SnapshotError(f"snapshot state does not fit this engine: {exc!r}") from exc
    swapped = engine.effects, engine.tastes, engine.seen_feedback
    engine.effects, engine.tastes, engine.seen_feedback = effects, tastes, seen
    if engine.model_digest() != digest:
        engine.effects, engine.tastes, engine.seen_feedback = swapped
        _put_back(engine, before)
        raise SnapshotError("the restored model's digest differs from the snapshot's")
    engine.clock = max(engine.clock, clock)
    # To the engine, the snapshot's events were just learned, as in a full replay: its live
    # rankings are due a model-update pass.
    engine.refresh_pass.learned(engine.model.n_learned)
    return extra


def _put_back(engine: SubstitutionEngine, before: tuple[Any, Any, Any]) -> None:
    model, history, popularity = before
    engine.model.load_state(model)
    engine.features.history.load_state(history)
    engine.popularity.load_state(popularity)


def _config_key(engine: SubstitutionEngine) -> str:
    """What shapes what an engine learns from the log: a snapshot loads only where it is equal."""
    config = engine.config
    parts = (FEATURES, engine.model.config_key(), config.effects, config.tastes, config.popularity)
    return repr(_stable(parts))


def _stable(value: Any) -> Any:
    """``value`` with every set sorted and every dataclass a tuple of its fields: a repr that
    is the same in every process (a frozenset's order follows the process's string hashes).

    >>> from online_learning.effects import EffectsConfig
    >>> _stable(frozenset({"switch", "brand"}))
    ('brand', 'switch')
    >>> _stable(EffectsConfig()) == _stable(EffectsConfig())
    True
    """
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(_stable(v) for v in value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, _stable(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, (list, tuple)):
        return tuple(_stable(v) for v in value)
    return value


# -- the byte format -------------------------------------------------------------------------------
def encode_state(state: Mapping[str, Any], codec: str = "zlib") -> bytes:
    """A state tree (dicts with string keys, lists, str, int, float, bool, None, arrays) as
    snapshot bytes."""
    arrays: list[np.ndarray[Any, Any]] = []
    tree = _pack(state, arrays)
    table = []
    offset = 0
    for array in arrays:
        dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
        if dtype.str not in _DTYPES:
            raise TypeError(f"cannot snapshot an array of dtype {array.dtype}")
        table.append([dtype.str, list(array.shape), offset])
        offset += array.nbytes
    meta = orjson.dumps({"state": tree, "arrays": table})
    parts = [_META_LENGTH.pack(len(meta)), meta]
    parts += [np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes() for a in arrays]
    payload = b"".join(parts)
    body = _compress(payload, codec)
    digest = hashlib.blake2b(body, digest_size=32).digest()
    header = _HEADER.pack(MAGIC, SNAPSHOT_VERSION, CODECS[codec], len(body), digest)
    return header + body


def decode_state(data: bytes) -> dict[str, Any]:
    """The state tree of snapshot bytes; :class:`SnapshotError` for anything that does not
    check out."""
    if len(data) < _HEADER.size:
        raise SnapshotError(f"snapshot truncated: {len(data)} bytes, header {_HEADER.size}")
    magic, version, codec, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"not a fillrate snapshot (magic {magic!r})")
    if version != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot format version {version}, this reads {SNAPSHOT_VERSION}")
    body = memoryview(data)[_HEADER.size :]
    if len(body) != length:
        raise SnapshotError(f"snapshot body of {len(body)} bytes, header says {length}")
    if hashlib.blake2b(body, digest_size=32).digest() != digest:
        raise SnapshotError("snapshot checksum mismatch: the body is damaged")
    payload = _decompress(bytes(body), codec)
    if len(payload) < _META_LENGTH.size:
        raise SnapshotError("snapshot payload truncated")
    (meta_length,) = _META_LENGTH.unpack_from(payload)
    start = _META_LENGTH.size + meta_length
    if start > len(payload):
        raise SnapshotError("snapshot payload truncated inside its metadata")
    try:
        meta = orjson.loads(payload[_META_LENGTH.size : start])
        arrays = [_array(payload, start, *entry) for entry in meta["arrays"]]
        state = _unpack(meta["state"], arrays)
    except SnapshotError:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise SnapshotError(f"snapshot payload malformed: {exc!r}") from exc
    if not isinstance(state, dict):
        raise SnapshotError("snapshot state is not a mapping")
    return state


def _array(payload: bytes, start: int, dtype: str, shape: list[int], offset: int) -> Any:
    if dtype not in _DTYPES:
        raise SnapshotError(f"snapshot array of dtype {dtype!r}")
    if any(not isinstance(n, int) or n < 0 for n in shape) or not isinstance(offset, int):
        raise SnapshotError(f"snapshot array of shape {shape!r} at {offset!r}")
    count = math.prod(shape)
    begin = start + offset
    end = begin + count * np.dtype(dtype).itemsize
    if offset < 0 or end > len(payload):
        raise SnapshotError("snapshot array runs past the payload")
    # a copy: writable, aligned, and independent of the payload
    return np.frombuffer(payload, dtype=dtype, count=count, offset=begin).reshape(shape).copy()


def _pack(value: Any, arrays: list[np.ndarray[Any, Any]]) -> Any:
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"__array__": len(arrays) - 1}
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("snapshot mappings need string keys")
        return {k: _pack(v, arrays) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > 1 and all(type(v) is str for v in value):
            # long lists of ids: one string is far cheaper to encode and split than a list
            lines = "\n".join(value)
            if lines.count("\n") == len(value) - 1:  # no id holds a newline itself
                return {"__lines__": lines}
        return [_pack(v, arrays) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def _unpack(value: Any, arrays: list[Any]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "__array__" in value:
            return arrays[value["__array__"]]
        if len(value) == 1 and "__float__" in value:
            return _NON_FINITE[value["__float__"]]
        if len(value) == 1 and "__lines__" in value:
            lines: str = value["__lines__"]
            return lines.split("\n")
        return {k: _unpack(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, arrays) for v in value]
    return value


def _compress(payload: bytes, codec: str) -> bytes:
    if codec == "zlib":
        return zlib.compress(payload, 1)
    if codec == "lzma":
        return lzma.compress(payload, preset=1)
    return payload


def _decompress(body: bytes, codec: int) -> bytes:
    try:
        if codec == CODECS["zlib"]:
            return zlib.decompress(body)
        if codec == CODECS["lzma"]:
            return lzma.decompress(body)
    except (zlib.error, lzma.LZMAError) as exc:
        raise SnapshotError(f"snapshot body does not decompress: {exc!r}") from exc
    if codec == CODECS["none"]:
        return body
    raise SnapshotError(f"unknown snapshot codec {codec}")
