"""The ``fillrate`` command: worker, simulate, demo, tail, evaluate.

Every worker setting is a flag here and a ``FILLRATE_*`` variable (see streams/settings.py);
the flags are generated from the settings so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from streams.arg_types import add_population_flag, positive_float, positive_int
from streams.settings import Settings, SettingsError

__all__ = ["main"]

_SIM_FLAGS = ("seed", "stores", "customers", "orders_per_minute", "speed")


def _add_settings_flags(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    group = parser.add_argument_group("settings (each also FILLRATE_<NAME>)")
    for f in dataclasses.fields(Settings):
        if only is not None and f.name not in only:
            continue
        kind = str(f.type)
        convert: Any = int if kind.startswith("int") else float if kind.startswith("float") else str
        default = f.default if f.default is not dataclasses.MISSING else None
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=convert,
            default=None,
            metavar=f.name.upper(),
            help=f"{f.metadata.get('help', f.name.replace('_', ' '))} (default: {default})",
        )


# A busier chain than `simulate`'s default: the same world and the same difficulty per event,
# but four times the orders per real second, so a one-minute demo carries about 7,000
# feedback events instead of 2,000, enough for learning to show against the content prior.
DEMO_ORDERS_PER_MINUTE = 240.0
# Customers the content prior under-serves (online_learning/offline/populations.py): on the
# evaluation's default customers the hand-set prior is already within about 0.01 of what one
# minute of feedback can add, so a demo there shows a flat line. A new deployment meets
# customers nobody wrote the prior for; these show what learning online then buys.
DEMO_POPULATION = "picky"


def _add_sim_flags(
    parser: argparse.ArgumentParser,
    orders_per_minute: float = 60.0,
    population: str = "default",
) -> None:
    group = parser.add_argument_group("simulation")
    group.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    group.add_argument("--n-stores", type=int, default=20, help="stores (default: 20)")
    group.add_argument("--customers", type=int, default=2000, help="customers (default: 2000)")
    group.add_argument(
        "--orders-per-minute",
        type=float,
        default=orders_per_minute,
        help=f"orders per simulated minute (default: {orders_per_minute:g})",
    )
    group.add_argument(
        "--speed",
        type=positive_float,
        default=60.0,
        help="simulated seconds per real second (default: 60)",
    )
    group.add_argument(
        "--catalog-limit",
        type=positive_int,
        default=None,
        help="publish only the first N catalog items (default: all 49,688)",
    )
    add_population_flag(group, population)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Settings)
        if getattr(args, f.name, None) is not None
    }
    return Settings.load(overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fillrate",
        description="Streaming, inventory-aware product substitution on Kafka.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = sub.add_parser("worker", help="run a stream worker (starts Tansu if no --broker)")
    _add_settings_flags(worker)

    simulate = sub.add_parser(
        "simulate", help="produce a realistic Instacart-based stream and answer rankings"
    )
    simulate.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        help="stop after this many real seconds (default: run until Ctrl-C)",
    )
    simulate.add_argument(
        "--compare-prior",
        action="store_true",
        help="also rank with a shadow engine that never learns and show how much better the"
        " worker's offers are (true acceptance, same requests); assumes the worker's default"
        " rules and thresholds",
    )
    _add_sim_flags(simulate)
    _add_settings_flags(
        simulate,
        only=(
            "broker",
            "catalog_topic",
            "signals_topic",
            "feedback_topic",
            "rankings_topic",
            "partitions",
        ),
    )

    demo = sub.add_parser("demo", help="embedded broker + worker + simulator, with live progress")
    demo.add_argument(
        "--duration",
        type=positive_float,
        default=60.0,
        help="stop after this many seconds (default: 60)",
    )
    _add_sim_flags(demo, orders_per_minute=DEMO_ORDERS_PER_MINUTE, population=DEMO_POPULATION)
    _add_settings_flags(demo, only=("web_port", "partitions", "top_k", "log_level"))

    tail = sub.add_parser("tail", help="pretty-print rankings as they arrive")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest")
    tail.add_argument("--limit", type=positive_int, default=None, help="stop after N rankings")
    tail.add_argument("--json", action="store_true", help="print raw JSON lines")
    _add_settings_flags(tail, only=("broker", "rankings_topic"))

    evaluate = sub.add_parser(
        "evaluate", help="offline: learned ranking vs prior, baselines and oracle (no broker)"
    )
    from streams.evaluate_cmd import add_evaluate_flags

    add_evaluate_flags(evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except (SettingsError, ValueError) as exc:
        print(f"fillrate: {exc}", file=sys.stderr)
        return 2
    if args.command in ("simulate", "demo"):
        from streams.simulate import sim_config

        try:
            sim_config(args)  # refuse a bad world before a broker or a worker is started
        except ValueError as exc:
            print(f"fillrate {args.command}: {exc}", file=sys.stderr)
            return 2
    if args.command == "worker":
        from streams.run_worker import run_worker

        return run_worker(settings)
    if args.command == "simulate":
        from streams.simulate import run_simulate

        return run_simulate(settings, args)
    if args.command == "demo":
        from streams.demo import run_demo

        return run_demo(settings, args)
    if args.command == "tail":
        from streams.tail import run_tail

        return run_tail(settings, args)
    if args.command == "evaluate":
        from streams.evaluate_cmd import run_evaluate

        return run_evaluate(args)
    raise AssertionError(args.command)  # pragma: no cover - argparse refuses unknown commands


if __name__ == "__main__":
    sys.exit(main())
