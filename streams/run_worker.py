"""``fillrate worker``: create the contract's topics, then run one Faust worker until stopped."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from online_learning.rules import RulesError, load_rules
from streams.connection import KafkaConnection
from streams.embedded_broker import BrokerError, EmbeddedBroker
from streams.faust_internals import NoSpinnerWorker
from streams.settings import EMBEDDED, Settings, SettingsError
from streams.topics import TopicsError, ensure_topics
from streams.worker import build_worker

log = logging.getLogger("fillrate.worker")

STOP_TIMED_OUT = 3  # exit code of a stop that had to be cut short

NO_BROKER = (
    "fillrate worker: no broker given: set FILLRATE_BROKER=kafka://HOST:PORT (or pass --broker),"
    f" or --broker {EMBEDDED} to start the in-memory embedded Tansu broker in this process"
)


class BoundedStopWorker(NoSpinnerWorker):
    """A Faust worker whose stop cannot hang.

    Stopping leaves the consumer group and commits offsets, which waits for the broker; with
    the broker gone it waits forever (aiokafka retries without end), and an orchestrator's
    SIGKILL is then the only way out. Past ``stop_timeout_s`` this worker says so and exits
    itself: the group reassigns its partitions after the session timeout, and what was not
    committed is read again and deduplicated (docs/reliability.md).
    """

    def __init__(
        self,
        stop_timeout_s: float,
        *args: Any,
        before_exit: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """``before_exit``: what must not outlive the process (the embedded broker)."""
        super().__init__(*args, **kwargs)
        self.stop_timeout_s = stop_timeout_s
        self.before_exit = before_exit
        self._watchdog: threading.Timer | None = None

    async def stop(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.stop_timeout_s, self._give_up)
            self._watchdog.daemon = True
            self._watchdog.start()
        await super().stop()

    def _give_up(self) -> None:
        print(
            f"fillrate: the worker did not stop within {self.stop_timeout_s:g}s (stop_timeout_s;"
            " is the broker reachable?): exiting without leaving the group; its partitions move"
            " after the session timeout and uncommitted records are read again",
            file=sys.stderr,
            flush=True,
        )
        if self.before_exit is not None:
            self.before_exit()
        os._exit(STOP_TIMED_OUT)


def run_worker(settings: Settings) -> int:
    """Run a worker in this process; returns the exit code. Starts Tansu for ``embedded``."""
    try:
        rules = load_rules(settings.rules)  # a bad rules file: say so before starting anything
    except RulesError as exc:
        print(f"fillrate: {exc}", file=sys.stderr)
        return 2
    broker: EmbeddedBroker | None = None
    if settings.broker is None:
        print(NO_BROKER, file=sys.stderr)
        return 2
    if settings.broker == EMBEDDED:
        try:
            broker = EmbeddedBroker().start()
        except BrokerError as exc:
            print(f"fillrate: cannot start the embedded broker: {exc}", file=sys.stderr)
            return 2
        settings = settings.with_broker(broker.url)
        print(
            f"fillrate: started the embedded Tansu broker at {broker.url}"
            " (memory only: topics vanish when this worker stops)",
            file=sys.stderr,
            flush=True,
        )
    try:
        connection = KafkaConnection.from_settings(settings)
    except SettingsError as exc:  # a key its password does not open, a CA file that is not PEM
        print(f"fillrate: {exc}", file=sys.stderr)
        return 2
    if connection.security:
        print(f"fillrate: Kafka at {connection.summary()}", file=sys.stderr, flush=True)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        try:
            created = loop.run_until_complete(ensure_topics(settings))
        except (ConnectionError, TopicsError) as exc:
            print(f"fillrate: {exc}", file=sys.stderr)
            return 2
        if created:
            print(f"fillrate: created topics {', '.join(created)}", file=sys.stderr, flush=True)
        worker = build_worker(settings, rules)
        faust_worker = BoundedStopWorker(
            settings.stop_timeout_s,
            worker.app,
            loop=loop,
            loglevel=settings.log_level.upper(),
            quiet=True,
            redirect_stdouts=False,
            before_exit=None if broker is None else broker.kill,
        )
        try:
            faust_worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0
    finally:
        if broker is not None:
            broker.stop()
