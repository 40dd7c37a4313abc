"""`fillrate worker` with another consumer fetch wait: a what-if for bench_latency.py.

Faust's aiokafka driver creates the worker's group consumer with ``fetch_max_wait_ms=1500``
and no setting changes it. The embedded Tansu broker answers a fetch that finds no data only
when that wait runs out, not when data arrives, so on a lightly loaded topic each hop waits a
good part of it. This wrapper runs the unchanged worker with the wait replaced, to measure how
much of the latency that is:

    python benchmarks/worker_fetch_wait.py 10 worker    # the same flags as `fillrate worker`
"""

from __future__ import annotations

import sys
from typing import Any

import aiokafka


def main() -> None:
    wait_ms = int(sys.argv.pop(1))
    original = aiokafka.AIOKafkaConsumer

    class FetchWaitConsumer(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if "fetch_max_wait_ms" in kwargs:  # Faust's group consumer sets it explicitly
                kwargs["fetch_max_wait_ms"] = wait_ms
            super().__init__(*args, **kwargs)

    aiokafka.AIOKafkaConsumer = FetchWaitConsumer  # type: ignore[misc]
    from streams.cli import main as fillrate_main

    sys.exit(fillrate_main())


if __name__ == "__main__":
    main()
