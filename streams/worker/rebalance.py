"""What a worker does when the consumer group moves partitions, as handlers of Faust's signals.

The work itself belongs to the store state (state_changelog.py: forget the stores of lost
partitions, restore the gained ones) and to the redelivery check (redelivery.py: forget the
offsets of partitions that moved away); these handlers only tell them, in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from streams.redelivery import SeenOffsets
from streams.settings import Settings
from streams.state_changelog import StoreState

__all__ = ["Rebalance"]


class Rebalance:
    """Handlers for ``app.on_partitions_revoked``, ``on_partitions_assigned`` and
    ``on_rebalance_complete``; ``joined`` is set once the worker is a member of the group."""

    def __init__(
        self, app: faust.App, settings: Settings, state: StoreState, seen: SeenOffsets
    ) -> None:
        self.app = app
        self.settings = settings
        self.state = state
        self.seen = seen
        self.joined = asyncio.Event()

    def connect(self) -> None:
        """Subscribe the handlers to the app's rebalance signals."""
        self.app.on_partitions_revoked.connect(self.on_revoked)
        self.app.on_partitions_assigned.connect(self.on_assigned)
        self.app.on_rebalance_complete.connect(self.on_joined)

    async def on_revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """A rebalance began: pause model-update passes, write out the state of owned stores
        and everything queued, before the partitions may go to another worker."""
        self.state.on_revoked()
        await self.state.flush()
        await self.app.producer.flush()

    async def on_assigned(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """The new assignment: forget what moved away, start restoring what arrived."""
        assigned = args[0] if args else kwargs.get("assigned", ())
        self.seen.keep_only((tp.topic, tp.partition) for tp in assigned)
        self.state.on_assigned(
            tp.partition for tp in assigned if tp.topic == self.settings.signals_topic
        )

    def on_joined(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Set on every completed rebalance, also when this worker was given no partitions:
        # an idle member of the group (more workers than partitions) is healthy, on standby.
        self.joined.set()
