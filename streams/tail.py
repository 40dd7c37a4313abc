"""``fillrate tail``: pretty-print rankings, and retirements, as they arrive.

The rankings topic is a table keyed by ``store_id:item_id``: a record with a null value (a
tombstone) says the key's live ranking has ended (a restock, ...), and tail prints it as a
retirement; with ``--json`` as ``{"key": ..., "retired": true}``, since a bare null would not
say which key.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from online_learning.contract import EventError, Ranking, decode_ranking
from streams.aiokafka_internals import stop_consumer
from streams.connection import KafkaConnection
from streams.settings import EMBEDDED, Settings

__all__ = ["format_ranking", "format_record", "format_retirement", "run_tail"]


def format_ranking(r: Ranking, names: dict[str, str] | None = None) -> str:
    """A ranking as a few readable lines.

    >>> print(format_ranking(Ranking("rk-1", "s1", "42", (), "no candidate", "v1", "stock_out",
    ...     0.0, 0.0)))
    s1  item 42  stock_out  model v1  (no substitutes: no candidate)
    >>> from online_learning.contract import Substitute
    >>> print(format_ranking(Ranking("rk-2", "s1", "42", (Substitute("7", 0.5, 0.625, 0.8),),
    ...     None, "v1", "stock_out", 0.0, 0.0), names={"7": "Oat Milk"}))
    s1  item 42  stock_out  model v1
       1.        7  score 0.500  accept 0.625  available 0.800  Oat Milk
    """
    names = names or {}
    head = (
        f"{r.store_id}  item {r.item_id}"
        + (f" {names[r.item_id]!r}" if r.item_id in names else "")
        + f"  {r.trigger}  model {r.model_version}"
    )
    if not r.substitutes:
        return f"{head}  (no substitutes: {r.reason})"
    lines = [head]
    for i, s in enumerate(r.substitutes, 1):
        lines.append(
            f"  {i:>2}. {s.item_id:>8}  score {s.score:.3f}"
            f"  accept {s.p_accept:.3f}  available {s.p_available:.3f}"
            + (f"  {names[s.item_id]}" if s.item_id in names else "")
        )
    return "\n".join(lines)


def format_retirement(key: str) -> str:
    """A tombstone of the rankings topic: the key's live ranking ended.

    >>> print(format_retirement("s1:42"))
    s1  item 42  retired: no live ranking (restocked, or no longer needed)
    """
    store_id, _, item_id = key.partition(":")
    return f"{store_id}  item {item_id}  retired: no live ranking (restocked, or no longer needed)"


def format_record(key: bytes | None, value: bytes | None, offset: int, as_json: bool) -> str:
    """One record of the rankings topic as tail prints it.

    >>> format_record(b"s1:42", None, 7, as_json=True)
    '{"key":"s1:42","retired":true}'
    >>> format_record(b"s1:42", b"{}", 8, as_json=False)  # doctest: +ELLIPSIS
    "(not a ranking at offset 8: substitutions.rankings: missing required field ...)"
    """
    text_key = (key or b"").decode("utf-8", "replace")
    if value is None:
        if as_json:
            return orjson.dumps({"key": text_key, "retired": True}).decode()
        return f"{time.strftime('%H:%M:%S')}  {format_retirement(text_key)}"
    if as_json:
        return value.decode("utf-8", "replace")
    try:
        ranking = decode_ranking(value)
    except EventError as exc:
        return f"(not a ranking at offset {offset}: {exc})"
    stamp = time.strftime("%H:%M:%S", time.localtime(ranking.ts))
    return f"{stamp}  {format_ranking(ranking)}"


def run_tail(settings: Settings, args: argparse.Namespace) -> int:
    if settings.broker in (None, EMBEDDED):
        print(
            "fillrate tail: no broker given; pass --broker or set FILLRATE_BROKER", file=sys.stderr
        )
        return 2

    async def main() -> int:
        consumer = AIOKafkaConsumer(
            **KafkaConnection.from_settings(settings).client_options(),
            group_id=None,
            enable_auto_commit=False,
        )
        try:
            await consumer.start()
        except Exception as exc:
            print(f"fillrate tail: cannot reach {settings.broker}: {exc}", file=sys.stderr)
            await consumer.stop()  # close what start() opened before it failed
            return 2
        seen = 0
        try:
            parts = consumer.partitions_for_topic(settings.rankings_topic)
            if not parts:
                print(
                    f"fillrate tail: topic {settings.rankings_topic} does not exist yet",
                    file=sys.stderr,
                )
                return 2
            tps = [TopicPartition(settings.rankings_topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            if args.from_beginning:
                await consumer.seek_to_beginning(*tps)
            else:
                await consumer.seek_to_end(*tps)
            while args.limit is None or seen < args.limit:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        if args.limit is not None and seen >= args.limit:
                            break
                        seen += 1
                        line = format_record(record.key, record.value, record.offset, args.json)
                        print(line, flush=True)
        finally:
            await stop_consumer(consumer)
        return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return 130
