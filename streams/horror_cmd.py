"""``fillrate horror``: error analysis of a deployment's own topics over a time range.

Reads the feedback of ``--since`` .. ``--until`` (by record time) and the whole catalog (names,
and the pairs' structural themes), then the rankings and replies published from
``--offer-lookback`` before it, keeping only the offers that feedback refers to (a day of
rankings outweighs its feedback many times); joins each feedback event to its offer and
reports the most confidently wrong substitutions and their themes
(online_learning/offline/horror_report). A summary goes to stdout, progress to stderr, the
full report to ``--out`` (``.html`` or ``.md``).

Where each topic's reading starts is asked of the broker by time (``offsets_for_times``);
reading stops at the partitions' end as found at start, or once a partition's records are
stamped more than ``CLOCK_SKEW_S`` past ``--until``. Records are kept by their own timestamps,
so a broker that answers the time lookup loosely (the embedded Tansu 0.6.0 answers offset 0)
costs reading time, never correctness.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition

from online_learning.contract import (
    CatalogTombstone,
    EventError,
    Feedback,
    Product,
    decode_catalog,
    decode_feedback,
    decode_ranking,
    decode_reply,
)
from online_learning.offline.horror_report.join import OfferIndex
from streams.aiokafka_internals import stop_consumer
from streams.arg_types import positive_int
from streams.connection import KafkaConnection, check_connection
from streams.replay import RawRecord, TopicReplay
from streams.settings import EMBEDDED, Settings

if TYPE_CHECKING:
    from online_learning.offline.horror_report import HorrorReport

__all__ = ["add_horror_flags", "parse_moment", "read_topics", "run_horror"]

# Producers stamp records with their own clocks: a partition is read this far past --until
# before its newer records are taken to be all later ones.
CLOCK_SKEW_S = 300.0
PROGRESS_EVERY_S = 1.0
WHOLE_FETCH = 10_000_000  # records per fetch: more than any fetch's bytes can hold
REPORT_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_moment(text: str, now: float) -> float:
    """A point in time as epoch seconds: a duration ago (``24h``, ``30m``, ``7d``), an ISO
    8601 time (UTC unless it says otherwise), ``now``, or epoch seconds.

    >>> parse_moment("2h", now=10_000.0)
    2800.0
    >>> parse_moment("1970-01-01T01:00:00", now=0.0)
    3600.0
    >>> parse_moment("1700000000", now=0.0)
    1700000000.0
    >>> parse_moment("yesterday", now=0.0)
    Traceback (most recent call last):
    ValueError: not a time: 'yesterday' (a duration such as 24h, an ISO 8601 time, epoch seconds)
    """
    if text.strip().lower() == "now":
        return now
    duration = _DURATION.match(text.lower())
    if duration:
        return now - float(duration.group(1)) * _UNITS[duration.group(2)]
    with contextlib.suppress(ValueError):
        seconds = float(text)
        if math.isfinite(seconds) and 0 <= seconds < 1e11:
            return seconds
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise ValueError(
        f"not a time: {text!r} (a duration such as 24h, an ISO 8601 time, epoch seconds)"
    )


def _report_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in REPORT_FORMATS:
        raise argparse.ArgumentTypeError(
            f"the report is HTML or Markdown: name it .html or .md, got {text!r}"
        )
    return path


def add_horror_flags(parser: argparse.ArgumentParser) -> None:
    """The command's own flags (the connection and topic flags come from the settings)."""
    parser.add_argument(
        "--since",
        default="24h",
        help="start of the range: a duration ago (24h, 90m, 7d), an ISO 8601 time (UTC unless"
        " it says otherwise) or epoch seconds (default: 24h)",
    )
    parser.add_argument(
        "--until", default="now", help="end of the range, as --since (default: now)"
    )
    parser.add_argument(
        "--offer-lookback",
        default="6h",
        help="read rankings and replies from this long before --since: the offers feedback"
        " early in the range answers (default: 6h)",
    )
    parser.add_argument(
        "--out",
        type=_report_path,
        default=None,
        metavar="PATH",
        help="write the full report here: report.html (with charts) or report.md",
    )
    parser.add_argument(
        "--top", type=positive_int, default=10, help="worst mistakes printed (default: 10)"
    )
    parser.add_argument(
        "--keep",
        type=positive_int,
        default=500,
        help="the most confident mistakes the themes are counted over (default: 500)",
    )


# -- reading --------------------------------------------------------------------------------


@dataclass
class Read:
    """What the topics held in the range, decoded; ``bad`` counts records that were not."""

    feedback: list[tuple[Feedback, str | None, tuple[str, ...]]] = field(default_factory=list)
    offers: OfferIndex = field(default_factory=OfferIndex)
    products: dict[str, Product] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)  # per topic, read in the range
    bad: dict[str, int] = field(default_factory=dict)


class Progress:
    """A line on stderr at most every ``every`` seconds while a topic is read: rewritten in
    place on a terminal, a new line (ten times rarer) in a log."""

    def __init__(self, stream: TextIO | None = None, every: float = PROGRESS_EVERY_S) -> None:
        self.stream = sys.stderr if stream is None else stream  # the one of now, not of import
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every if self.interactive else every * 10
        self._last = time.monotonic()  # nothing to say about the first moments

    def __call__(self, topic: str, done: int, total: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.every:
            return
        self._last = now
        share = f" ({min(done / total, 1.0):.0%})" if total else ""
        end = "\r" if self.interactive and not final else "\n"
        print(f"fillrate horror: {topic}: {done:,} records read{share}", end=end, file=self.stream)
        self.stream.flush()


async def _layout(
    connection: KafkaConnection, topics: Iterable[str], starts_ms: dict[str, int]
) -> tuple[dict[str, list[int]], dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Each topic's partitions (empty: it does not exist), where to start reading each partition
    (the first offset stamped at or after the topic's start time) and its end now."""
    consumer = AIOKafkaConsumer(
        **connection.client_options(), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = {t: sorted(consumer.partitions_for_topic(t) or ()) for t in topics}
        tps = [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps) if tps else {}
        starts: dict[TopicPartition, int] = {}
        for topic, ps in partitions.items():
            if not ps:
                continue
            wanted = [TopicPartition(topic, p) for p in ps]
            if starts_ms.get(topic, 0) <= 0:
                starts.update(await consumer.beginning_offsets(wanted))
                continue
            found = await consumer.offsets_for_times({tp: starts_ms[topic] for tp in wanted})
            for tp in wanted:
                at = found.get(tp)
                starts[tp] = ends[tp] if at is None else at.offset  # None: nothing that late
    finally:
        await stop_consumer(consumer)  # right after start when no topic exists
    return partitions, starts, ends


async def _read_topic(
    connection: KafkaConnection,
    topic: str,
    partitions: list[int],
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    stop_ms: int | None,
    keep: Callable[[RawRecord], None],
    progress: Progress,
) -> None:
    """Hand every record of ``topic`` from ``starts`` to ``ends`` to ``keep`` (a partition
    stops early once its records are stamped after ``stop_ms``)."""
    total = sum(
        max(ends[TopicPartition(topic, p)] - starts[TopicPartition(topic, p)], 0)
        for p in partitions
    )
    done = 0
    # Every record a fetch brought, at once: a partition counts as read once its position
    # passes the end found at start, and on a broker that reports the end as the start of the
    # last batch (Tansu 0.6.0) a batch cut by max_records would lose its tail.
    async with TopicReplay(
        connection, topic, partitions, max_records=WHOLE_FETCH, fetch_max_wait_ms=100
    ) as replay:
        finished: set[TopicPartition] = set()
        for tp in replay.partitions:
            replay.seek(tp.partition, starts[tp])
            if starts[tp] >= ends[tp]:
                finished.add(tp)
        consumer = replay.consumer
        while True:
            for tp in replay.partitions:
                if tp not in finished and await consumer.position(tp) >= ends[tp]:
                    finished.add(tp)
            if len(finished) == len(replay.partitions):
                break
            records = await replay.fetch()
            for record in records:
                tp = TopicPartition(record.topic, record.partition)
                if tp in finished:
                    continue
                if stop_ms is not None and record.timestamp > stop_ms:
                    finished.add(tp)
                    consumer.pause(tp)  # its later records are later still
                    continue
                done += 1
                keep(record)
            progress(topic, done, total)
    progress(topic, done, total, final=True)


async def read_topics(
    settings: Settings,
    since: float,
    until: float,
    offer_lookback: float,
    progress: Progress | None = None,
) -> Read:
    """Read the four topics; raises :class:`ConnectionError` (unreachable, refused login) or
    :class:`LookupError` (a topic the report needs does not exist)."""
    connection = KafkaConnection.from_settings(settings)
    await check_connection(connection)
    progress = progress or Progress()
    offers_from = since - offer_lookback
    starts_ms = {
        settings.catalog_topic: 0,  # all of it: a compacted table of every item
        settings.rankings_topic: int(offers_from * 1000),
        settings.replies_topic: int(offers_from * 1000),
        settings.feedback_topic: int(since * 1000),
    }
    partitions, starts, ends = await _layout(connection, list(starts_ms), starts_ms)
    missing = [t for t, ps in partitions.items() if not ps]
    if settings.feedback_topic in missing or (
        settings.rankings_topic in missing and settings.replies_topic in missing
    ):
        needed = [t for t in missing if t != settings.catalog_topic]
        raise LookupError(
            f"topic{'s' if len(needed) > 1 else ''} {', '.join(needed)} not found on"
            f" {settings.bootstrap_servers}: the report needs the feedback topic and the rankings"
            " or the replies (names: --feedback-topic, --rankings-topic, --replies-topic)"
        )
    for topic in missing:
        print(f"fillrate horror: topic {topic} not found; reading without it", file=sys.stderr)
    read = Read()
    until_ms = int(until * 1000)

    def in_range(record: RawRecord, from_ms: int) -> bool:
        return from_ms <= record.timestamp < until_ms

    def keep_catalog(record: RawRecord) -> None:
        try:
            item = decode_catalog(record.key, record.value)
        except EventError:
            read.bad[settings.catalog_topic] = read.bad.get(settings.catalog_topic, 0) + 1
            return
        if isinstance(item, CatalogTombstone):
            read.products.pop(item.item_id, None)
        else:
            read.products[item.item_id] = item

    def keep_with(topic: str, from_ms: int, use: Callable[[RawRecord], None]) -> Any:
        def keep(record: RawRecord) -> None:
            if record.value is None or not in_range(record, from_ms):
                return  # a retired ranking, or outside the range
            read.records[topic] = read.records.get(topic, 0) + 1
            try:
                use(record)
            except EventError:
                read.bad[topic] = read.bad.get(topic, 0) + 1

        return keep

    def use_feedback(record: RawRecord) -> None:
        fb = decode_feedback(record.value)  # comment cleaned and bounded by the contract
        read.feedback.append((fb, fb.comment, fb.reason))

    def use_ranking(record: RawRecord) -> None:
        read.offers.add_ranking(decode_ranking(record.value))

    def use_reply(record: RawRecord) -> None:
        read.offers.add_reply(decode_reply(record.value))

    def read_all(readers: list[tuple[str, Callable[[RawRecord], None], int | None]]) -> Any:
        # at once: while one waits for the broker, another decodes
        return asyncio.gather(
            *(
                _read_topic(
                    connection, topic, partitions[topic], starts, ends, stop_ms, keep, progress
                )
                for topic, keep, stop_ms in readers
                if topic not in missing
            )
        )

    stop_ms = until_ms + int(CLOCK_SKEW_S * 1000)
    feedback_from = starts_ms[settings.feedback_topic]
    await read_all(
        [
            (settings.catalog_topic, keep_catalog, None),
            (
                settings.feedback_topic,
                keep_with(settings.feedback_topic, feedback_from, use_feedback),
                stop_ms,
            ),
        ]
    )
    # Then the offers, keeping only those the feedback refers to.
    read.offers = OfferIndex(fb for fb, _, _ in read.feedback)
    offers_from_ms = starts_ms[settings.rankings_topic]
    await read_all(
        [
            (
                settings.rankings_topic,
                keep_with(settings.rankings_topic, offers_from_ms, use_ranking),
                stop_ms,
            ),
            (
                settings.replies_topic,
                keep_with(settings.replies_topic, offers_from_ms, use_reply),
                stop_ms,
            ),
        ]
    )
    read.records[settings.catalog_topic] = len(read.products)
    return read


# -- the command ----------------------------------------------------------------------------


def build(read: Read, settings: Settings, since: float, until: float, keep: int) -> HorrorReport:
    """The report over what was read (the learning core's part: join, themes, clusters)."""
    from online_learning.offline.horror_report import PairThemes, build_report, join
    from online_learning.rules import load_rules

    pairs = PairThemes(read.products.values(), load_rules(settings.rules))
    return build_report(
        join(read.feedback, read.offers),
        pairs,
        keep=keep,
        since=since,
        until=until,
        sources={
            "feedback": read.records.get(settings.feedback_topic, 0),
            "rankings": read.records.get(settings.rankings_topic, 0),
            "replies": read.records.get(settings.replies_topic, 0),
            "catalog items": len(read.products),
            # records no decoder accepted (the workers dead-lettered them too)
            **{f"{topic} not decodable": n for topic, n in read.bad.items() if n},
        },
    )


def write_report(report: HorrorReport, path: Path) -> None:
    from online_learning.offline.horror_report.render_html import render_html
    from online_learning.offline.horror_report.render_markdown import render_markdown

    form = REPORT_FORMATS[path.suffix.lower()]
    text = render_html(report) if form == "html" else render_markdown(report)
    path.write_text(text, encoding="utf-8")


def run_horror(settings: Settings, args: argparse.Namespace) -> int:
    from online_learning.offline.horror_report.render_text import render_text
    from online_learning.rules import RulesError, load_rules

    if settings.broker in (None, EMBEDDED):
        print(
            "fillrate horror: no broker given; pass --broker kafka://HOST:PORT or set"
            " FILLRATE_BROKER (the deployment's own cluster)",
            file=sys.stderr,
        )
        return 2
    now = time.time()
    try:
        since = parse_moment(args.since, now)
        until = parse_moment(args.until, now)
        lookback = now - parse_moment(args.offer_lookback, now)
    except ValueError as exc:
        print(f"fillrate horror: {exc}", file=sys.stderr)
        return 2
    if since >= until:
        print("fillrate horror: --since must be before --until", file=sys.stderr)
        return 2
    if args.out is not None and not args.out.resolve().parent.is_dir():
        print(f"fillrate horror: cannot write --out {args.out}: no such directory", file=sys.stderr)
        return 2
    try:
        load_rules(settings.rules)  # a bad rules file is refused before the long read
    except RulesError as exc:
        print(f"fillrate horror: {exc}", file=sys.stderr)
        return 2
    try:
        read = asyncio.run(read_topics(settings, since, until, max(lookback, 0.0)))
    except ConnectionError as exc:
        print(f"fillrate horror: cannot reach {settings.broker}: {exc}", file=sys.stderr)
        return 2
    except LookupError as exc:
        print(f"fillrate horror: {exc.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    report = build(read, settings, since, until, args.keep)
    print(render_text(report, top=args.top))
    if args.out is not None:
        try:
            write_report(report, args.out)
        except OSError as exc:
            print(f"fillrate horror: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return 1
        print(f"\nreport written to {args.out}")
    return 0
