"""Every reason the engine gives an empty ranking falls in a named category, never "other".

The categories label ``fillrate_rankings_empty_total``: a reason that fell through to "other"
would hide why shoppers get no substitute.
"""

from __future__ import annotations

from online_learning.engine import SubstitutionEngine
from online_learning.ranking import EMPTY_REASONS, empty_reason
from online_learning.rules import load_rules
from tests.online_learning.test_engine import CATALOG, T0, WALL, signal


def test_each_empty_ranking_reason_of_the_engine_has_its_category() -> None:
    engine = SubstitutionEngine(rules=load_rules(), products=CATALOG, wall_clock=lambda: WALL)
    engine.on_signal(signal("yogurt-plain", "out_of_stock", ts=T0 - 1))
    reasons = {
        item: engine.on_signal(signal(item))[0].reason
        for item in ("formula-a", "milk-stout", "yogurt-greek")
    }
    assert {item: empty_reason(r) for item, r in reasons.items()} == {
        "formula-a": "never_substituted",  # infant formula: a rule
        "milk-stout": "no_candidates",  # alcohol shelved with milk: none passes the rules
        "yogurt-greek": "none_available",  # the only other yogurt is out
    }


def test_a_reason_no_category_knows_reads_other_and_categories_do_not_repeat() -> None:
    assert {empty_reason("a reason added later"), empty_reason(None)} == {"other"}
    assert len(set(EMPTY_REASONS)) == len(EMPTY_REASONS)
