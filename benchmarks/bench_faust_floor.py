"""What Faust costs per event with the fillrate worker's shape, before any of its work.

The ingest target is 0.8x a plain Faust agent's rate; both run at 100% of one
core while draining, so that is 1.25x the agent's CPU per event. This measures how much of
that budget the framework takes with what the worker has to have: on the same pre-filled mix
as bench_throughput.py, a plain consume-only agent (the baseline), then the worker's topology
(an agent per input topic with batches, the 40 ms fetch wait, the web server, a timer, two
caught-up readers), then the same writing back 1.3 records per event (the worker's state
changelog, learning log and rankings) as record batches, as the worker does, and with one
``producer.send`` each, as it did. The worker's topology includes its per-message delivery
(``deliver_in_place``, streams/faust_internals.py: the consumer awaits each message's delivery
in place, where Faust makes four tasks for it); one more step measures the batched write-back
with Faust's own delivery. No decoding, no engine: benchmarks/faust_consume_baseline.py
with its optional steps, one child process per step and round, in the same run.

    .venv/bin/python benchmarks/bench_faust_floor.py           # 50,000 events, 2 rounds
    .venv/bin/python benchmarks/bench_faust_floor.py --quick   # CI smoke: 3,000 events, 1 round
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from bench_throughput import WRITE_BACK, prefill, run_faust
from worker_process import bench_settings

from streams.embedded_broker import EmbeddedBroker


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3,000 events, one round")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 3000, 1
    with EmbeddedBroker() as broker:
        settings = bench_settings(broker.url, partitions=4)
        print(f"pre-filling {args.events:,} events on {broker.url} ...", flush=True)
        mix, _items = asyncio.run(prefill(settings, args.events, seed=7))
        expect = len(mix)
        topology = ["--topology", "--idle-topic", settings.catalog_topic]
        plain, batched = "plain agent, consume only", f"+ {WRITE_BACK} records/event, batched"
        steps = {
            plain: [],
            "worker topology": topology,
            batched: [*topology, "--write-back", WRITE_BACK],
            f"{batched}, Faust's delivery": [
                *topology,
                "--write-back",
                WRITE_BACK,
                "--stock-delivery",
            ],
            f"+ {WRITE_BACK} records/event, send each": [
                *topology,
                "--write-back",
                WRITE_BACK,
                "--send-each",
            ],
        }
        rates: dict[str, list[float]] = {name: [] for name in steps}
        cpu_us: dict[str, list[float]] = {name: [] for name in steps}
        timeout = 60 + expect / 1000
        for round_ in range(1, args.rounds + 1):
            for name, extra in steps.items():
                first, last, cpu, _ = run_faust(settings, expect, timeout, extra)
                rates[name].append(expect / max(last - first, 1e-6))
                cpu_us[name].append(1e6 * cpu / expect)
                print(
                    f"  round {round_}: {name:<36} {rates[name][-1]:>8,.0f} events/s"
                    f" {cpu_us[name][-1]:>7.1f} us CPU/event",
                    flush=True,
                )
        med = {name: statistics.median(v) for name, v in rates.items()}
        med_cpu = {name: statistics.median(v) for name, v in cpu_us.items()}
        print()
        print(f"{'Faust app':<38}{'events/s':>10}{'vs plain':>10}{'us CPU/event':>14}{'CPU x':>8}")
        for name in steps:
            print(
                f"{name:<38}{med[name]:>10,.0f}{med[name] / med[plain]:>10.2f}"
                f"{med_cpu[name]:>14.1f}{med_cpu[name] / med_cpu[plain]:>8.2f}"
            )
        print(
            f"\nThe 0.8x target allows 1.25x the plain agent's CPU per event"
            f" ({1.25 * med_cpu[plain]:.0f} us here); the worker's shape with its writes back,"
            f"\nbatched, takes {med_cpu[batched] / med_cpu[plain]:.2f}x before any"
            " decoding, state, ranking or learning."
        )


if __name__ == "__main__":
    main()
