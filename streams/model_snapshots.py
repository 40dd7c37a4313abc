"""Model snapshots on a compacted topic, so a worker starts from one and replays only the tail.

A snapshot (:mod:`online_learning.snapshot`) holds everything the learning log taught the
engine up to one log offset. It can be larger than a Kafka message, so it travels in chunks
of :data:`CHUNK_BYTES` on the app's ``<app_id>-model-snapshots`` topic (one partition,
compacted), in one of two slots that alternate, and a manifest record names the slot, the
chunk count and the log offset::

    key b"manifest"        value {"slot": "a", "chunks": 3, "offset": 125000, "bytes": ...}
    key b"a/0" ... b"a/2"  the snapshot's bytes, in order
    key b"b/0" ...         the previous snapshot, until the next one overwrites them

A new snapshot is written to the slot the manifest does not name, every chunk delivered
before the manifest that names it, so a crash while writing leaves the previous snapshot
whole. Chunks of a slot beyond the new count get tombstones: with compaction the topic holds
at most two snapshots, whatever the history length.

Reading takes the latest value of every key among the topic's last :data:`TAIL_RECORDS`
records (the newest snapshot is the last thing written; compaction never cleans the active
segment, so older snapshots can linger there) and reassembles the manifest's slot; if the
newest snapshot is not whole in that window, the whole topic is read. The snapshot's own
checksum (online_learning/snapshot.py) catches a torn or damaged one, and the caller replays
the whole log instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from online_learning.snapshot import SnapshotError
from streams.batch_produce import Record
from streams.connection import KafkaConnection
from streams.replay import TopicReplay

__all__ = ["CHUNK_BYTES", "TAIL_RECORDS", "Manifest", "SnapshotTopic"]

log = logging.getLogger("fillrate.snapshots")

CHUNK_BYTES = 512 * 1024
"""Bytes of snapshot per record: well under the 1 MiB a Kafka topic and producer accept."""
MANIFEST_KEY = b"manifest"
TAIL_RECORDS = 4_096
"""Records read back from the topic's end for the newest snapshot: its chunks, its manifest
and the tombstones after it, for a snapshot of up to about 2 GiB."""

Write = Callable[[list[Record]], Awaitable[list["asyncio.Future[Any]"]]]
"""Queue records, in order, on the snapshots topic's one partition; their delivery futures."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """Which slot holds the newest snapshot, in how many chunks, taken at which log offset."""

    slot: str
    chunks: int
    offset: int
    size: int

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {"slot": self.slot, "chunks": self.chunks, "offset": self.offset, "bytes": self.size}
        )

    @classmethod
    def from_bytes(cls, value: bytes) -> Manifest:
        try:
            raw = orjson.loads(value)
            manifest = cls(
                str(raw["slot"]), int(raw["chunks"]), int(raw["offset"]), int(raw["bytes"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SnapshotError(f"unreadable snapshot manifest: {exc!r}") from exc
        if manifest.slot not in ("a", "b") or manifest.chunks < 1:
            raise SnapshotError(f"impossible snapshot manifest: {manifest}")
        return manifest


def chunk_key(slot: str, index: int) -> bytes:
    return f"{slot}/{index}".encode()


class SnapshotTopic:
    """Reads the newest snapshot and writes new ones, as the module docstring says."""

    def __init__(
        self,
        connection: KafkaConnection | str,
        topic: str,
        write: Write,
        tail_records: int = TAIL_RECORDS,
    ) -> None:
        self.connection = connection
        self.topic = topic
        self.write_records = write
        self.tail_records = tail_records
        self.records_read = 0  # by read(), all told
        self.manifest: Manifest | None = None  # the newest one read or written
        self._chunks_in: dict[str, int] = {"a": 0, "b": 0}  # chunk keys each slot holds

    async def read(self) -> tuple[Manifest, bytes] | None:
        """The newest snapshot and its manifest; None if the topic holds none.

        Reads the last ``tail_records`` records first: the newest snapshot is the last thing
        written, so the older ones compaction has not removed yet (it never touches the active
        segment) are not read at every start. If the newest is not whole there (larger than
        that, or its manifest not found), the whole topic is read.

        Raises :class:`SnapshotError` if the manifest names chunks the topic does not hold.
        """
        latest, partial = await self._latest(self.tail_records)
        if partial and not _whole(latest):
            latest, _ = await self._latest(None)
        for slot in ("a", "b"):
            present = [key for key, value in latest.items() if value is not None]
            # after a partial read, what the older slot holds before the window is not
            # counted: its stale chunks beyond a later write's count may then outlive it
            self._chunks_in[slot] = sum(1 for key in present if key.startswith(f"{slot}/".encode()))
        raw = latest.get(MANIFEST_KEY)
        if raw is None:
            return None
        manifest = Manifest.from_bytes(raw)
        parts = _parts(latest, manifest)
        missing = [i for i, part in enumerate(parts) if part is None]
        if missing:
            raise SnapshotError(
                f"snapshot at log offset {manifest.offset} lacks chunks {missing[:5]} of"
                f" {manifest.chunks} in slot {manifest.slot!r}"
            )
        data = b"".join(part for part in parts if part is not None)
        if len(data) != manifest.size:
            raise SnapshotError(
                f"snapshot at log offset {manifest.offset} has {len(data):,} bytes, its"
                f" manifest says {manifest.size:,}"
            )
        self.manifest = manifest
        return manifest, data

    async def _latest(self, tail: int | None) -> tuple[dict[bytes, bytes | None], bool]:
        """The latest value of every key among the topic's last ``tail`` records (None: all
        of them), and whether that left earlier records unread."""
        latest: dict[bytes, bytes | None] = {}
        async with TopicReplay(self.connection, self.topic, [0], max_records=50) as replay:
            end = max(replay.end.values(), default=0)
            start = 0 if tail is None else max(0, end - tail)
            if start:
                replay.seek(0, start)
            async for records in replay.backlog():
                self.records_read += len(records)
                for record in records:
                    if record.key is not None:
                        latest[record.key] = record.value
        return latest, start > 0

    async def write(self, data: bytes, offset: int) -> Manifest:
        """Write ``data``, taken at log ``offset``, to the free slot, then point the manifest
        at it, then drop what the slot held beyond it. Returns once all of it is delivered;
        raises if a chunk was not (the previous snapshot stays the newest)."""
        slot = "b" if self.manifest is not None and self.manifest.slot == "a" else "a"
        chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
        await _delivered(
            await self.write_records([(chunk_key(slot, i), c) for i, c in enumerate(chunks)])
        )
        manifest = Manifest(slot, len(chunks), offset, len(data))
        await _delivered(await self.write_records([(MANIFEST_KEY, manifest.to_bytes())]))
        stale = range(len(chunks), self._chunks_in[slot])
        if stale:
            await _delivered(await self.write_records([(chunk_key(slot, i), None) for i in stale]))
        self._chunks_in[slot] = len(chunks)
        self.manifest = manifest
        return manifest


def _whole(latest: Mapping[bytes, bytes | None]) -> bool:
    """Do ``latest`` values hold a readable manifest and every chunk it names?"""
    raw = latest.get(MANIFEST_KEY)
    if raw is None:
        return False
    try:
        manifest = Manifest.from_bytes(raw)
    except SnapshotError:
        return False
    return None not in _parts(latest, manifest)


def _parts(latest: Mapping[bytes, bytes | None], manifest: Manifest) -> list[bytes | None]:
    """The chunks ``manifest`` names, in order, as ``latest`` holds them (None: missing)."""
    return [latest.get(chunk_key(manifest.slot, i)) for i in range(manifest.chunks)]


async def _delivered(futures: list[asyncio.Future[Any]]) -> None:
    if not futures:
        raise SnapshotError("the snapshot's records could not be queued")
    await asyncio.gather(*futures)  # raises the first delivery failure
