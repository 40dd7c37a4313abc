"""The knobs of the simulated world (:class:`~online_learning.offline.simulation.Simulation`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from online_learning.offline.populations import population

__all__ = ["SimConfig"]

_BASKET_SOURCES = ("auto", "instacart", "synthetic")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the simulated world. Rates are per sim-time unit; durations in seconds.

    ``out_of_stock_rate`` is roughly the share of order lines whose item is truly out: each
    item's long-run out-of-stock probability is it, scaled up for less popular items and down
    for popular ones so that the order-line-weighted mean stays near it, times a store factor.
    ``basket_source``: ``"instacart"`` samples real orders (restricted to the catalog),
    ``"synthetic"`` draws baskets by item popularity, ``"auto"`` picks Instacart when the catalog
    covers most real order lines and synthetic otherwise (a small ``catalog_limit`` or a
    hand-made product list).

    Stated preferences (:mod:`~online_learning.offline.stated_preferences`), all off by
    default: ``needs_share`` of customers need a dietary tag; each customer has a choice for
    each of the ``choice_items`` most-ordered items with probability ``choice_share``, of which
    ``no_substitute_choice_share`` are ``no_substitute`` and the rest ``specific`` picks, each
    accepted with probability ``pick_accept``.
    """

    seed: int = 7
    n_stores: int = 20
    n_customers: int = 2000
    orders_per_minute: float = 60.0
    start_ts: float = 1_700_000_000.0
    shift_at: float | None = None
    catalog_limit: int | None = None
    found_signal_rate: float = 0.5
    out_of_stock_rate: float = 0.06
    restock_minutes: tuple[float, float] = (30.0, 120.0)
    out_of_stock_signal_rate: float = 0.6
    in_stock_signal_rate: float = 0.7
    false_not_found_rate: float = 0.01
    line_pick_seconds: float = 5.0
    home_store_share: float = 0.9
    no_substitution_share: float = 0.04
    refund_base: float = 0.01
    refund_scale: float = 0.25
    shift_price_factor: float = 2.0
    shift_aisle_share: float = 0.5
    basket_source: str = "auto"
    synthetic_basket_mean: float = 10.0
    id_prefix: str | None = None  # prefix of order/request/feedback ids; None: f"sim{seed}"
    population: str = "default"  # whose tastes: a name in online_learning.offline.populations
    needs_share: float = 0.0
    choice_share: float = 0.0
    choice_items: int = 300
    no_substitute_choice_share: float = 0.3
    pick_accept: float = 0.95

    def __post_init__(self) -> None:
        if self.n_stores < 1 or self.n_customers < 1:
            raise ValueError("n_stores and n_customers must be >= 1")
        population(self.population)  # a clear error for an unknown name, before any work
        if not (self.orders_per_minute >= 0 and math.isfinite(self.orders_per_minute)):
            raise ValueError(
                f"orders_per_minute must be finite and >= 0, got {self.orders_per_minute}"
            )
        for name in (
            "found_signal_rate",
            "out_of_stock_signal_rate",
            "in_stock_signal_rate",
            "false_not_found_rate",
            "home_store_share",
            "no_substitution_share",
            "shift_aisle_share",
            "needs_share",
            "choice_share",
            "no_substitute_choice_share",
            "pick_accept",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.out_of_stock_rate < 0.5:
            raise ValueError(f"out_of_stock_rate must be in [0, 0.5), got {self.out_of_stock_rate}")
        low, high = self.restock_minutes
        if not 0 < low <= high:
            raise ValueError(f"restock_minutes must be 0 < low <= high, got {self.restock_minutes}")
        if self.basket_source not in _BASKET_SOURCES:
            raise ValueError(f"basket_source must be one of {_BASKET_SOURCES}")
        if self.line_pick_seconds < 0 or self.synthetic_basket_mean < 1:
            raise ValueError("line_pick_seconds must be >= 0 and synthetic_basket_mean >= 1")
        if self.choice_items < 0:
            raise ValueError(f"choice_items must be >= 0, got {self.choice_items}")
