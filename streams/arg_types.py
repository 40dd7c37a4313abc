"""Argument types and shared flags for the ``fillrate`` commands: a bad value is refused by
argparse, with the flag named, before any broker, worker or simulation is started.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

__all__ = ["add_population_flag", "positive_float", "positive_int", "share"]


def add_population_flag(parser: Any, default: str = "default") -> None:
    """``--population``: whose tastes the simulated customers have (a parser or a group), a
    name of either family (the hand-written populations, then the token worlds)."""
    # Here, not at the top: the worker's command line must not import the simulator's side.
    from online_learning.offline.populations import FAMILIES

    parser.add_argument(
        "--population",
        choices=[name for family in FAMILIES.values() for name in sorted(family)],
        default=default,
        help=f"whose tastes the simulated customers have (default: {default};"
        " docs/evaluation.md describes each, the token worlds too)",
    )


def positive_float(text: str) -> float:
    """An argparse type: a finite number above zero (durations, speeds).

    >>> positive_float("2.5")
    2.5
    >>> positive_float("0")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a number above 0, got '0'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (counts)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def share(text: str) -> float:
    """An argparse type: a share, a number from 0 to 1.

    >>> share("0.25")
    0.25
    >>> share("1.5")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a number from 0 to 1, got '1.5'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value
