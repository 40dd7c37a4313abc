"""A Faust app whose one agent reads a topic with ``streams.faust_internals.take_batches``.

Run as a child process by tests/streams/test_faust_internals.py: prints ``take {"ready":
true}`` once its agent runs, then a line per batch, ``take {"at": <time.time()>, "values":
[...], "waiting": <records fetched and not yet in a batch>}`` (the worker's terminal output
may share the lines' start).

    python tests/streams/take_batches_app.py --broker kafka://HOST:PORT --topic T \
        --app-id ID --web-port PORT --max 3 --within 30 [--behind-within 30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import faust

from streams.faust_internals import DeliveryMonitor, set_fetch_wait, stamp_delivery, take_batches

MARK = "take"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--web-port", type=int, required=True)
    parser.add_argument("--max", type=int, required=True)
    parser.add_argument("--within", type=float, required=True)
    parser.add_argument("--behind-within", type=float)
    args = parser.parse_args()
    app = faust.App(
        args.app_id,
        broker=args.broker,
        store="memory://",
        autodiscover=False,
        web_port=args.web_port,
        web_bind="127.0.0.1",
        datadir=tempfile.mkdtemp(prefix="take-batches-"),
        broker_rebalance_timeout=3.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        Monitor=DeliveryMonitor,
    )
    deliveries = stamp_delivery(app)
    set_fetch_wait(app, 40)  # as the worker: Tansu answers an idle fetch when its wait ends

    @app.agent(app.topic(args.topic, key_serializer="raw", value_serializer="raw"))
    async def take(stream: faust.StreamT) -> None:
        print(MARK, json.dumps({"ready": True}), flush=True)
        async for batch in take_batches(
            stream, args.max, args.within, deliveries, args.behind_within
        ):
            values = [event.message.value.decode() for event in batch]
            line = {"at": time.time(), "values": values, "waiting": deliveries.waiting()}
            print(MARK, json.dumps(line), flush=True)

    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
