"""Consumer lag, as the gauges timer computes it from Faust's consumer (no broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP

from streams.worker.timers import consumer_lag

SIGNALS, FEEDBACK = "inventory.signals", "substitutions.feedback"


class Consumer:
    """Faust's consumer as the timer sees it: an assignment, high-water marks, the offsets
    its streams processed (``_read_offset``), fetch positions."""

    def __init__(self) -> None:
        self._read_offset: dict[TP, int | None] = {TP(SIGNALS, 0): 89}
        self.high = {TP(SIGNALS, 0): 100, TP(SIGNALS, 1): 50, TP(FEEDBACK, 0): None}
        self.revoked = TP(SIGNALS, 2)

    def assignment(self) -> set[TP]:
        return {*self.high, self.revoked, TP("catalog.items", 0)}

    def highwater(self, tp: TP) -> int | None:
        if tp == self.revoked:
            raise IllegalStateError("No current assignment for partition")
        return self.high.get(tp, 7)

    async def position(self, tp: TP) -> int:
        return 20  # nothing processed from signals[1] yet: counted from its fetch position


def test_lag_counts_from_the_last_processed_offset_else_the_fetch_position() -> None:
    consumer: Any = Consumer()
    lag = asyncio.run(consumer_lag(consumer, (SIGNALS, FEEDBACK)))
    # signals[0]: 100 - (89 + 1); signals[1]: 50 - 20; signals[2] is being revoked; feedback[0]
    # has no high-water mark yet; the catalog is not an input topic here.
    assert lag == {SIGNALS: 10 + 30, FEEDBACK: 0}
