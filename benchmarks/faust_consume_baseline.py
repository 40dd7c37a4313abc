"""Baseline (a) for bench_throughput.py: a plain Faust agent that only consumes.

Run by the benchmark as a child process; prints one JSON line with the first and last event
times once it has seen ``--expect`` events. Same broker settings as the fillrate worker.

    python benchmarks/faust_consume_baseline.py --broker kafka://HOST:PORT --topics a,b \
        --expect N --app-id ID --web-port PORT
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import faust


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topics", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    args = parser.parse_args()
    app = faust.App(
        args.app_id,
        broker=args.broker,
        store="memory://",
        autodiscover=False,
        web_port=args.web_port,
        web_bind="127.0.0.1",
        datadir=tempfile.mkdtemp(prefix="faust-baseline-"),
        broker_rebalance_timeout=3.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
    )
    topics = app.topic(*args.topics.split(","), key_serializer="raw", value_serializer="raw")
    seen = {"n": 0, "first": 0.0}

    @app.agent(topics)
    async def consume(stream: faust.StreamT) -> None:
        async for _value in stream:
            if seen["n"] == 0:
                seen["first"] = time.time()
            seen["n"] += 1
            if seen["n"] == args.expect:
                print(
                    json.dumps({"first": seen["first"], "last": time.time(), "n": seen["n"]}),
                    flush=True,
                )

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
