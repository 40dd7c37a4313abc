"""The simulator's knobs refuse values that make no world."""

from __future__ import annotations

import pytest

from online_learning.offline.sim_config import SimConfig


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="out_of_stock_rate"):
        SimConfig(out_of_stock_rate=0.7)
    with pytest.raises(ValueError, match="found_signal_rate"):
        SimConfig(found_signal_rate=1.5)
