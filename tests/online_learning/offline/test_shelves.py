"""Stock on the simulated shelves: plausible stock-outs, restocks and what gets reported."""

from __future__ import annotations

from online_learning.contract import InventorySignal
from online_learning.offline.simulation import SimConfig, Simulation


def test_stock_outs_hit_a_plausible_share_of_lines_and_shelves_restock(products):
    sim = Simulation(SimConfig(seed=21), products)
    signals: list[InventorySignal] = []
    for _ in range(30):
        new_signals, requests = sim.advance(60)
        signals += new_signals
        for request in requests:
            sim.expire(request)
    stats = sim.stats()
    print(f"out-of-stock line share {stats['out_of_stock_line_share']:.3f} of {stats['lines']:.0f}")
    assert 0.02 <= stats["out_of_stock_line_share"] <= 0.15
    assert stats["restocks"] > 0 and stats["stock_outs"] > 0
    store_reports = {s.signal for s in signals if s.source == "store_system"}
    assert store_reports == {"out_of_stock", "in_stock"}
    # a not_found is either a real stock-out or shopper noise (~1% of lines in stock)
    assert stats["not_found_lines"] == stats["out_of_stock_lines"] + stats["false_not_found_lines"]
    assert 0 < stats["false_not_found_lines"] < 0.03 * stats["lines"]


def test_found_signals_cover_about_half_the_found_lines(products):
    sim = Simulation(SimConfig(seed=8), products)
    found = sum(s.signal == "found" for _ in range(10) for s in sim.advance(60)[0])
    share = found / sim.stats()["found_lines"]
    assert 0.4 < share < 0.6
