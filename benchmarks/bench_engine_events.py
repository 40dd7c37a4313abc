"""The learning core's own CPU per event, by kind: feedback, signals, and the refresh passes.

Replays the benchmark mix (benchmarks/workload.py: 90% signals, 10% feedback over the real
Instacart catalog) into one SubstitutionEngine, like bench_engine.py, but clocks every call
on its own with the thread's CPU time (not wall time: the machine these run on is shared, and
waiting for a core is not the engine's work). Prints, per round, µs per feedback event, per
signal, and the refresh passes' CPU spread over all events, then the medians over rounds.
With ``--linear``, each round also replays the stream into an engine without the hashed
interaction weights (online_learning/interactions.py; ``FILLRATE_INTERACTIONS=false``), the
two alternating, and the medians of both and their ratio are printed: the interactions'
cost, kind by kind, measured in the same run. Pools are warmed first in both (every pool's
columns and, with the interactions, its key parts) and then taken out of the cyclic GC
(``gc.freeze()``), as a worker does once it is ready: without the freeze, every full
collection walks the catalog and its pools again, about a tenth of the engine's CPU here and
none of it in a worker.

Each round replays the same stream into a fresh engine. To compare two versions of the code,
run this script in both trees (``git worktree add /tmp/old <commit>``), alternating, each with
``PYTHONPATH`` set to its tree (the editable install would import this checkout's code in
both), and set the medians side by side (docs/performance.md):

    cd /tmp/old && PYTHONPATH=/tmp/old /path/to/.venv/bin/python benchmarks/bench_engine_events.py

    .venv/bin/python benchmarks/bench_engine_events.py                # 3 rounds of 60,000
    .venv/bin/python benchmarks/bench_engine_events.py --events 6000 --rounds 1
    .venv/bin/python benchmarks/bench_engine_events.py --events 20000 --linear
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from workload import make_events

from online_learning.contract import Feedback
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.offline.instacart import load_order_popularity


def replay(
    events: list, products: list, popularity: dict, refresh_every: int, config: EngineConfig
) -> dict:
    """One fresh engine over the stream: CPU µs per feedback, per signal, refresh per event."""
    engine = SubstitutionEngine(products=products, popularity=popularity, config=config)
    engine.features.warm()
    # as a worker does once ready (streams/worker/worker.py): the catalog and its pools live
    # as long as the engine, out of the cyclic GC's books, so a collection walks only what
    # the stream made since
    gc.collect()
    gc.freeze()
    clock = time.thread_time_ns
    spent = {"feedback": 0, "signal": 0, "refresh": 0}
    counts = {"feedback": 0, "signal": 0}
    on_feedback, apply_signal, refresh = engine.on_feedback, engine.apply_signal, engine.refresh
    for i, event in enumerate(events, 1):
        if isinstance(event, Feedback):
            t0 = clock()
            on_feedback(event)
            spent["feedback"] += clock() - t0
            counts["feedback"] += 1
        else:
            t0 = clock()
            apply_signal(event)
            spent["signal"] += clock() - t0
            counts["signal"] += 1
        if i % refresh_every == 0:
            t0 = clock()
            refresh()
            spent["refresh"] += clock() - t0
    gc.unfreeze()  # this engine's cycles are garbage once the round is over
    n = len(events)
    return {
        "feedback": spent["feedback"] / counts["feedback"] / 1e3,
        "signal": spent["signal"] / counts["signal"] / 1e3,
        "refresh/event": spent["refresh"] / n / 1e3,
        "all/event": sum(spent.values()) / n / 1e3,
        "digest": engine.model_digest(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--refresh-every", type=int, default=1_750, help="events between two refresh calls"
    )
    parser.add_argument(
        "--linear",
        action="store_true",
        help="also replay without the interaction weights, alternating, and print ratios",
    )
    args = parser.parse_args()
    sim, events = make_events(args.events)
    products = list(sim.catalog_events())
    popularity = load_order_popularity()
    engines = {"shipped": EngineConfig()}
    if args.linear:
        engines["linear"] = EngineConfig(interactions=None)
    kinds = ("feedback", "signal", "refresh/event", "all/event")
    print("CPU µs per event" + " " * 13 + "".join(f"{k:>15}" for k in kinds) + "  model digest")
    results: dict[str, list[dict]] = {name: [] for name in engines}
    for r in range(args.rounds):
        for name, config in engines.items():
            result = replay(events, products, popularity, args.refresh_every, config)
            results[name].append(result)
            print(
                f"round {r + 1:<4} {name:<18}" + "".join(f"{result[k]:>15.1f}" for k in kinds),
                f" {result['digest']}",
                flush=True,
            )
    medians = {
        name: {k: statistics.median(x[k] for x in rows) for k in kinds}
        for name, rows in results.items()
    }
    for name, median in medians.items():
        print(f"median     {name:<18}" + "".join(f"{median[k]:>15.1f}" for k in kinds))
    if args.linear:
        ratio = {k: medians["shipped"][k] / medians["linear"][k] for k in kinds}
        print(f"{'ratio shipped/linear':<29}" + "".join(f"{ratio[k]:>14.2f}x" for k in kinds))


if __name__ == "__main__":
    main()
