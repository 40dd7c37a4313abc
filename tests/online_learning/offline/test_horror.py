"""Error analysis: themes name what confidently wrong substitutions have in common."""

from __future__ import annotations

import pytest

from online_learning.offline.horror import ConfidentMistakes, themes
from online_learning.rules import load_rules


def test_themes_follow_the_features() -> None:
    assert themes({"size_log_ratio": 0.7}) == ("size",)
    assert themes({"brand_differs": 1.0, "price_up": 0.3}) == ("brand", "price")
    assert themes({"kind_jaccard": 0.0, "tags_lost": 1.0}) == ("kind", "tags")
    assert themes({"fat_distance": 1.0}) == ("fat",)
    assert themes({"kind_jaccard": 1.0}) == ()
    rules = load_rules()
    near_limit = {"price_up": 0.9 * rules.max_price_ratio - 1.0, "kind_jaccard": 1.0}
    assert "rule_edge" in themes(near_limit, rules)


def test_keeps_only_the_most_confident_rejections() -> None:
    book = ConfidentMistakes(capacity=3)
    for i, p in enumerate((0.1, 0.9, 0.5, 0.95, 0.7, 0.99)):
        book.add(p, "r", f"c{i}", "milk", "rejected" if i % 2 else "refunded", {})
    book.add(0.999, "r", "accepted-one", "milk", "accepted", {})
    assert [m.p_accept for m in book.worst()] == [0.99, 0.95, 0.9]
    assert book.seen == 6
    assert book.aisle_counts() == {"milk": 3}


def test_a_customer_who_turns_most_substitutes_down_is_a_theme() -> None:
    book = ConfidentMistakes(capacity=10)
    for i in range(3):
        book.add(0.8, "r", f"c{i}", "milk", "rejected", {}, customer_id="grumpy")
    book.add(0.8, "r", "x", "milk", "accepted", {}, customer_id="happy")
    book.add(0.9, "r", "y", "milk", "rejected", {}, customer_id="happy")
    by_sub = {m.substitute_id: m.themes for m in book.worst()}
    assert by_sub["c0"] == () and by_sub["c1"] == ()  # too little of a record yet
    assert by_sub["c2"] == ("customer",)  # 0 of 2 accepted before this one
    assert by_sub["y"] == ()  # accepted the one before
    assert book.theme_counts()["customer"] == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ConfidentMistakes(capacity=0)
