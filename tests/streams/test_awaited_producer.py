"""The producer of the records a caller waits for: on the real embedded broker, and without one."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from streams.awaited_producer import AwaitedProducer
from streams.batch_produce import OnFailure, Record, send_records
from streams.connection import KafkaConnection
from streams.embedded_broker import EmbeddedBroker
from tests.streams.test_batch_produce import new_topic, read_all


async def write(
    awaited: AwaitedProducer, topic: str, records: list[Record], on_failure: OnFailure
) -> list[asyncio.Future[object]]:
    """Records on partition 1 of ``topic`` through the awaited producer, as the worker writes."""
    return await send_records(await awaited.producer(), topic, 1, records, on_failure)


@pytest.mark.broker
def test_a_write_waits_for_the_start_and_its_futures_mean_the_broker_has_the_records(
    broker: EmbeddedBroker,
) -> None:
    bootstrap = broker.bootstrap_servers
    records: list[Record] = [(f"slot{i}".encode(), f"reply {i}".encode()) for i in range(50)]
    failures: list[tuple[object, ...]] = []

    async def run() -> tuple[list[Record], BaseException | None]:
        topic = await new_topic(bootstrap, "awaited", 2)
        awaited = AwaitedProducer(KafkaConnection(bootstrap))
        lost = lambda *failure: failures.append(failure)  # noqa: E731
        # asked before the producer runs: the write waits for its start
        first = asyncio.ensure_future(write(awaited, topic, records, lost))
        await asyncio.sleep(0.05)
        assert not first.done()
        running = asyncio.ensure_future(awaited.run())
        futures = await asyncio.wait_for(first, 30)
        await asyncio.wait_for(asyncio.gather(*futures), 30)
        got = await read_all(bootstrap, topic, 1, len(records))
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        try:
            await write(awaited, topic, records, lost)
        except RuntimeError as exc:
            return got, exc
        return got, None

    got, after_stop = asyncio.run(run())
    assert got == records
    assert failures == []
    assert isinstance(after_stop, RuntimeError)  # stopped: refused, never queued and lost


async def test_without_a_broker_it_keeps_trying_loudly_and_writes_wait() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    awaited = AwaitedProducer(KafkaConnection(f"127.0.0.1:{port}"))
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(record.getMessage())

    handler = Collect(logging.ERROR)
    logging.getLogger("fillrate.worker").addHandler(handler)
    try:
        running = asyncio.ensure_future(awaited.run())
        waiting = asyncio.ensure_future(write(awaited, "t", [(b"k", b"v")], lambda *f: None))
        await asyncio.sleep(2.5)
        assert not waiting.done()  # nothing queued, nothing lost: it waits for the broker
        assert sum("could not start, retrying" in e for e in errors) >= 2
        running.cancel()
        waiting.cancel()
        await asyncio.gather(running, waiting, return_exceptions=True)
    finally:
        logging.getLogger("fillrate.worker").removeHandler(handler)
