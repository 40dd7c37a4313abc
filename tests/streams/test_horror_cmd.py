"""``fillrate horror`` against a running deployment's topics finds the failure planted in it.

The planted failure: a rules file that forgot ``gluten_free`` in ``[preserve_tags]``, so the
worker (the real one, on the embedded broker) offers regular bread for gluten-free bread.
Customers reject or refund those offers and say why, with typos; other offers meet background
noise (accepted, or rejected for size with comments about size). The feedback is published as
the shopper app would publish it, naming the ranking it answered. The report must put the
failure first twice: as the structural theme "lost tag" (gluten_free) and as the first comment
theme, whose words say gluten and whose structural theme is the lost tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from online_learning.contract import Product, product_payload
from streams.cli import main
from streams.embedded_broker import EmbeddedBroker, free_port
from streams.horror_cmd import Progress
from tests.conftest import signal_payload

from .conftest import worker_settings
from .test_own_catalog import wait_for_catalog

# The rules file with the mistake: gluten_free left out of the dietary promises.
RULES = """
[preserve_tags]
tags = ["vegan", "kosher", "halal", "dairy_free", "lactose_free"]
"""
STORE = "s1"
BREAD = [
    Product("gf-white", "Acme Gluten Free White Bread", "bread", "bakery", price=4.0),
    Product("gf-rye", "Acme Gluten Free Rye Bread", "bread", "bakery", price=4.2),
    Product("white", "Acme White Bread", "bread", "bakery", price=3.9),
    Product("rye", "Acme Rye Bread", "bread", "bakery", price=4.0),
]
MILK = [
    Product("milk-gal", "Dairyco Whole Milk 1 gal", "milk", "dairy", price=3.0),
    Product("milk-half", "Dairyco Whole Milk 0.5 gal", "milk", "dairy", price=1.9),
    Product("milk-qt", "Dairyco Whole Milk 1 qt", "milk", "dairy", price=1.2),
    Product("yog", "Dairyco Plain Yogurt 32 oz", "yogurt", "dairy", price=3.5),
    Product("yog-small", "Dairyco Plain Yogurt 6 oz", "yogurt", "dairy", price=1.0),
    Product("yog-mid", "Dairyco Plain Yogurt 16 oz", "yogurt", "dairy", price=2.2),
]
MISSING = ["gf-white", "gf-rye", "milk-gal", "yog"]
GLUTEN = [
    "I asked for GLUTEN FREE!!",
    "this has gluten, my son is celiac",
    "glutten free please",
    "not gluten-free, refund",
    "gluten free means gluten free",
    "contains gluten :(",
    "glutenfree only!",
    "gluten makes me sick",
]
SIZE = ["wrong size", "the size is too small", "sise too small", "size was off"]


def feedback(ranking: dict[str, Any], outcome: str, **extra: Any) -> dict[str, Any]:
    first = ranking["substitutes"][0]
    return {
        "event_id": uuid.uuid4().hex,
        "store_id": ranking["store_id"],
        "item_id": ranking["item_id"],
        "substitute_id": first["item_id"],
        "outcome": outcome,
        "ranking_id": ranking["ranking_id"],
        "position": 0,
        "ts": time.time(),
        **extra,
    }


def run_horror(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["horror", *argv])
    return status, out.getvalue(), err.getvalue()


@pytest.mark.broker
async def test_horror_puts_a_planted_dietary_failure_first(
    worker_factory: Any, kafka_io: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    worker = worker_factory(rules=str(rules))
    topics = worker.settings
    kio = await kafka_io(topics)
    await kio.follow(topics.rankings_topic)
    for product in BREAD + MILK:
        await kio.send(topics.catalog_topic, product_payload(product), key=product.item_id)
    await wait_for_catalog(worker, len(BREAD + MILK))
    for item_id in MISSING:
        await kio.send(topics.signals_topic, signal_payload(STORE, item_id, "out_of_stock"), STORE)

    def latest(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["item_id"]: r for r in records if r["substitutes"]}

    records = await kio.read(
        topics.rankings_topic, lambda rs: set(MISSING) <= set(latest(rs)), timeout=30.0
    )
    rankings = latest(records)
    assert set(MISSING) <= set(rankings)
    # the failure is live: regular bread offered for gluten-free bread
    assert rankings["gf-white"]["substitutes"][0]["item_id"] in {"white", "rye"}

    events = []
    for i, comment in enumerate(GLUTEN * 2):  # 16 rejections and refunds, all about gluten
        ranking = rankings["gf-white" if i % 2 else "gf-rye"]
        outcome = "refunded" if i % 3 == 0 else "rejected"
        events.append(feedback(ranking, outcome, comment=comment, reason=["dietary"]))
    for i, comment in enumerate(SIZE):  # background: a few size complaints
        events.append(
            feedback(rankings["yog" if i % 2 else "milk-gal"], "rejected", comment=comment)
        )
    for i in range(12):  # background: accepted offers, and rejections nobody explained
        ranking = rankings["milk-gal" if i % 2 else "yog"]
        events.append(feedback(ranking, "accepted" if i % 3 else "rejected"))
    for event in events:
        await kio.send(topics.feedback_topic, event, key=event["store_id"])

    out_path = tmp_path / "report.html"
    status, out, err = await asyncio.to_thread(
        run_horror,
        "--broker", topics.broker or "",
        "--since", "10m",
        "--catalog-topic", topics.catalog_topic,
        "--feedback-topic", topics.feedback_topic,
        "--rankings-topic", topics.rankings_topic,
        "--replies-topic", topics.replies_topic,
        "--out", str(out_path),
    )  # fmt: skip
    assert status == 0, err
    assert f"{topics.feedback_topic}: {len(events)} records read" in err  # progress on stderr
    structural = out.split("structural themes")[1].split("comment themes")[0]
    first_structural = structural.splitlines()[2]
    assert "lost tag" in first_structural and " 16 " in first_structural, structural
    assert "lost: gluten_free 16" in structural
    comments = out.split("comment themes")[1].split("most confidently wrong")[0]
    first_comment_theme = comments.splitlines()[2]
    assert "gluten" in first_comment_theme and " 16 " in first_comment_theme, comments
    first_comment_block = comments.split("comments:")[1]  # up to the next theme's label
    assert "-> mostly lost tag" in first_comment_block and "preserve_tags" in first_comment_block
    worst = out.split("most confidently wrong")[1]
    assert "Acme Gluten Free" in worst and "gluten" in worst.lower()
    page = out_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "lost: gluten_free 16" in page and "Acme Gluten Free White Bread" in page


@pytest.mark.broker
async def test_every_record_in_the_range_is_read_however_the_producer_batched_them(
    broker: EmbeddedBroker,
) -> None:
    # One big batch of feedback on one partition: more records than one read hands over at
    # once, in a batch the embedded broker reports the end of as its first offset.
    settings = worker_settings(broker)
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(t, 1, 1) for t in (settings.feedback_topic, settings.rankings_topic)]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, linger_ms=200, max_batch_size=4 << 20
    )
    await producer.start()
    n, now = 12_000, time.time()
    event = {"store_id": "s1", "item_id": "a", "substitute_id": "b", "outcome": "rejected"}
    try:
        sent = [
            await producer.send(
                settings.feedback_topic,
                orjson.dumps({**event, "event_id": f"e{i}", "ts": now}),
                key=b"s1",
            )
            for i in range(n)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    status, out, err = await asyncio.to_thread(
        run_horror,
        "--broker", broker.url,
        "--since", "10m",
        "--feedback-topic", settings.feedback_topic,
        "--rankings-topic", settings.rankings_topic,
        "--replies-topic", settings.replies_topic,
        "--catalog-topic", settings.catalog_topic,
    )  # fmt: skip
    assert status == 0, err
    assert f"events (rejected {n:,})" in out and f"read: feedback {n:,}" in out


@pytest.mark.broker
async def test_missing_topics_are_named(broker: EmbeddedBroker) -> None:
    settings = worker_settings(broker)
    status, _, err = await asyncio.to_thread(
        run_horror,
        "--broker", broker.url,
        "--feedback-topic", settings.feedback_topic,
        "--rankings-topic", settings.rankings_topic,
        "--replies-topic", settings.replies_topic,
    )  # fmt: skip
    assert status == 2
    assert settings.feedback_topic in err and "not found" in err


def test_an_unreachable_broker_is_named() -> None:
    status, _, err = run_horror("--broker", f"kafka://127.0.0.1:{free_port()}")
    assert status == 2 and "cannot reach" in err and "127.0.0.1" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no broker given"),
        (("--since", "yesterday"), "not a time: 'yesterday'"),
        (("--since", "1h", "--until", "2h"), "--since must be before --until"),
        (("--out", "/no/such/dir/report.html"), "no such directory"),
        (("--rules", "/no/such/rules.toml"), "cannot read rules file"),
    ],
)
def test_a_bad_command_line_is_refused_before_any_reading(
    args: tuple[str, ...], message: str
) -> None:
    broker = () if not args else ("--broker", f"kafka://127.0.0.1:{free_port()}")
    status, _, err = run_horror(*broker, *args)
    assert status == 2 and message in err, err


def test_the_report_must_be_html_or_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["horror", "--out", "report.pdf"])
    assert exited.value.code == 2
    assert "name it .html or .md" in capsys.readouterr().err


def test_progress_in_a_log_is_plain_lines_ending_with_the_count() -> None:
    stream = io.StringIO()  # not a terminal: no carriage returns in a log file
    progress = Progress(stream, every=0.0)
    progress("substitutions.feedback", 500, 1000)
    progress("substitutions.feedback", 1000, 1000, final=True)
    assert stream.getvalue() == (
        "fillrate horror: substitutions.feedback: 500 records read (50%)\n"
        "fillrate horror: substitutions.feedback: 1,000 records read (100%)\n"
    )
