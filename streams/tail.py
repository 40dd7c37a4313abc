"""``fillrate tail``: pretty-print rankings as they arrive."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.settings import Settings

__all__ = ["format_ranking", "run_tail"]


def format_ranking(r: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """A ranking as a few readable lines.

    >>> print(format_ranking({"store_id": "s1", "item_id": "42", "trigger": "stock_out",
    ...     "model_version": "v1", "substitutes": [], "reason": "no candidate", "ts": 0}))
    s1  item 42  stock_out  model v1  (no substitutes: no candidate)
    """
    names = names or {}
    head = (
        f"{r.get('store_id')}  item {r.get('item_id')}"
        + (f" {names[r['item_id']]!r}" if r.get("item_id") in names else "")
        + f"  {r.get('trigger')}  model {r.get('model_version')}"
    )
    subs = r.get("substitutes") or []
    if not subs:
        return f"{head}  (no substitutes: {r.get('reason')})"
    lines = [head]
    for i, s in enumerate(subs, 1):
        lines.append(
            f"  {i:>2}. {s.get('item_id'):>8}  score {s.get('score', 0):.3f}"
            f"  accept {s.get('p_accept', 0):.3f}  available {s.get('p_available', 0):.3f}"
            + (f"  {names[s['item_id']]}" if s.get("item_id") in names else "")
        )
    return "\n".join(lines)


def run_tail(settings: Settings, args: argparse.Namespace) -> int:
    if settings.broker is None:
        print(
            "fillrate tail: no broker given; pass --broker or set FILLRATE_BROKER", file=sys.stderr
        )
        return 2

    async def main() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
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
                        if args.json:
                            print(record.value.decode("utf-8", "replace"), flush=True)
                            continue
                        try:
                            ranking = orjson.loads(record.value)
                        except orjson.JSONDecodeError:
                            print(f"(not JSON at offset {record.offset})", flush=True)
                            continue
                        stamp = time.strftime("%H:%M:%S", time.localtime(ranking.get("ts", 0)))
                        print(f"{stamp}  {format_ranking(ranking)}", flush=True)
        finally:
            await consumer.stop()
        return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return 130
