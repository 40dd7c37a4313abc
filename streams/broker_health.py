"""Is the broker answering? A metadata request every second, with a short timeout.

A TCP connect is not enough: a stopped or wedged broker still has its port open (the kernel
accepts connections for it). The probe asks for cluster metadata, as every client does, and
counts a failure when no answer comes within the timeout. Transitions are logged once each,
and every few seconds while the broker stays away, so an operator sees the outage and its end.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.client import AIOKafkaClient

from streams.connection import KafkaConnection
from streams.metrics import WorkerMetrics

__all__ = ["BrokerProbe"]

log = logging.getLogger("fillrate.broker")


class BrokerProbe:
    """Sets ``fillrate_broker_up`` and counts ``fillrate_broker_connection_errors_total``."""

    def __init__(
        self,
        connection: KafkaConnection | str,
        metrics: WorkerMetrics,
        interval_s: float = 1.0,
        timeout_s: float = 2.0,
        remind_every_s: float = 10.0,
    ) -> None:
        self.connection = KafkaConnection.of(connection)
        self.bootstrap_servers = self.connection.bootstrap_servers
        self.metrics = metrics
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.remind_every_s = remind_every_s
        self.up = True
        self.down_since: float | None = None
        self._last_reminder = 0.0

    async def run(self) -> None:
        """Probe forever (until cancelled)."""
        client = AIOKafkaClient(
            **self.connection.client_options(),
            request_timeout_ms=int(self.timeout_s * 1000),
            client_id="fillrate-broker-probe",
        )
        try:
            bootstrapped = False
            while True:
                try:
                    if not bootstrapped:
                        await asyncio.wait_for(client.bootstrap(), self.timeout_s + 1)
                        bootstrapped = True
                    await asyncio.wait_for(client.fetch_all_metadata(), self.timeout_s + 1)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.failed(exc)
                else:
                    self.answered()
                await asyncio.sleep(self.interval_s)
        finally:
            await client.close()

    def failed(self, exc: BaseException) -> None:
        self.metrics.broker_connection_errors.inc()
        now = time.monotonic()
        reason = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        if self.up:
            self.up = False
            self.down_since = self._last_reminder = now
            self.metrics.broker_up.set(0)
            log.error(
                "broker %s unreachable (%s); state is kept, consuming and publishing resume "
                "when it answers again",
                self.bootstrap_servers,
                reason,
            )
        elif now - self._last_reminder >= self.remind_every_s:
            self._last_reminder = now
            log.error(
                "broker %s still unreachable after %.0fs (%s)",
                self.bootstrap_servers,
                now - (self.down_since or now),
                reason,
            )

    def answered(self) -> None:
        if not self.up:
            log.warning(
                "broker %s reachable again after %.1fs",
                self.bootstrap_servers,
                time.monotonic() - (self.down_since or time.monotonic()),
            )
        self.up = True
        self.down_since = None
        self.metrics.broker_up.set(1)
