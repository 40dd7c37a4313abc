"""PriorShadow: the rankings an engine that never learns would publish, for the same signals."""

from __future__ import annotations

from online_learning.contract import Feedback, InventorySignal
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.offline.shadow import PriorShadow
from online_learning.rules import load_rules
from tests.conftest import milk

PRODUCTS = [
    milk("1", "Organic Whole Milk", 4.0),
    milk("2", "Organic Reduced Fat 2% Milk", 4.2),
    milk("3", "Whole Milk", 3.0),
    milk("4", "Organic Whole Milk Half Gallon", 3.5),
    milk("5", "Fat Free Skim Milk", 3.1),
]


def greedy_engine(popularity: dict[str, int]) -> SubstitutionEngine:
    return SubstitutionEngine(
        rules=load_rules(),
        popularity=popularity,
        products=PRODUCTS,
        wall_clock=lambda: 0.0,
        config=EngineConfig(explore_epsilon=0.0, effects=None),
    )


def test_the_shadow_ranks_like_a_greedy_engine_that_never_learned() -> None:
    popularity = {"3": 50, "5": 10}
    shadow = PriorShadow(PRODUCTS, popularity=popularity)
    learner, frozen = greedy_engine(popularity), greedy_engine(popularity)
    assert shadow.ranked_ids("s1", "1") is None  # nothing out yet
    top = frozen.on_signal(InventorySignal("s0", "1", "out_of_stock", 1.0))[0].substitute_ids()[0]
    for i in range(200):  # the learner is taught to dislike the prior's favourite
        learner.on_feedback(Feedback(f"e{i}", "s0", "1", top, "rejected", 2.0 + i))

    signal = InventorySignal("s1", "1", "out_of_stock", 500.0)
    shadow.observe(signal)
    learned = learner.on_signal(signal)[0].substitute_ids()
    expected = frozen.on_signal(signal)[0].substitute_ids()

    assert shadow.ranked_ids("s1", "1") == expected
    assert expected[0] == top and learned[0] != top  # learning changed it; the shadow did not
    assert shadow.ranked_ids("s2", "1") is None  # per store
