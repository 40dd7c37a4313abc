"""Replies to one customer's request: their choices, their needs, their learned taste."""

from __future__ import annotations

from online_learning.contract import (
    Feedback,
    InventorySignal,
    ItemChoice,
    SubstitutionRequest,
)
from online_learning.contract.replies import CUSTOMER_DECLINED
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.ranking import NONE_MEETS_NEEDS, empty_reason
from tests.conftest import milk

CATALOG = [
    milk("whole", "Acme Whole Milk 1 gal", 3.99, "Acme"),
    milk("whole-2", "Dairyco Whole Milk 1 gal", 3.89, "Dairyco"),
    milk("lf", "Acme Lactose Free Whole Milk 1 gal", 4.49, "Acme"),
    milk("lf-2", "Dairyco Lactose Free Whole Milk 1 gal", 4.29, "Dairyco"),
    milk("oat", "Oatco Oat Milk 64 oz", 4.5, "Oatco"),
    milk("skim", "Acme Skim Milk 1 gal", 3.59, "Acme"),
]


def engine() -> SubstitutionEngine:
    return SubstitutionEngine(products=CATALOG, config=EngineConfig(explore_epsilon=0.0))


def request(item: str = "whole", customer: str = "c1", n: int = 1) -> SubstitutionRequest:
    return SubstitutionRequest(f"r{n}", f"o{n}", customer, "s1", item, 100.0 + n)


def test_no_substitute_is_an_empty_reply_saying_the_customer_declined() -> None:
    choice = ItemChoice("c1", "whole", "no_substitute", (), 1.0)
    reply = engine().reply(request(), choice)
    assert reply.substitutes == () and reply.reason == CUSTOMER_DECLINED


def test_specific_picks_come_first_in_order_and_one_out_of_stock_is_left_out() -> None:
    e = engine()
    e.apply_signal(InventorySignal("s1", "skim", "out_of_stock", 50.0))
    choice = ItemChoice("c1", "whole", "specific", ("skim", "oat", "lf"), 1.0)
    reply = e.reply(request(), choice)
    ids = [s.item_id for s in reply.substitutes]
    sources = [s.source for s in reply.substitutes]
    assert ids[:2] == ["oat", "lf"]  # the customer's order, skim believed out of stock
    assert sources[:2] == ["customer", "customer"] and set(sources[2:]) == {"model"}
    assert "skim" not in ids and "whole" not in ids
    assert len(ids) == len(set(ids))


def test_needs_keep_model_candidates_with_every_needed_tag() -> None:
    reply = engine().reply(request(), needs=frozenset({"lactose_free"}))
    assert {s.item_id for s in reply.substitutes} == {"lf", "lf-2"}
    nothing = engine().reply(request(), needs=frozenset({"halal"}))
    assert nothing.substitutes == () and empty_reason(nothing.reason) == "customer_needs"
    assert nothing.reason == NONE_MEETS_NEEDS


def test_a_lactose_free_item_is_never_replaced_by_a_regular_one() -> None:
    reply = engine().reply(request("lf"))
    ids = {s.item_id for s in reply.substitutes}
    assert ids and ids <= {"lf-2", "oat"}, ids  # oat milk is dairy free, so lactose free


def test_a_customer_with_history_gets_their_own_order_and_a_new_one_the_stores() -> None:
    e = engine()
    store_level = [s.item_id for s in e.reply(request(customer="new")).substitutes]
    # c1 always keeps the same brand (Acme) and refuses others
    for i in range(40):
        for sub, outcome in (("skim", "accepted"), ("whole-2", "rejected")):
            e.on_feedback(
                Feedback(f"f{i}{sub}", "s1", "whole", sub, outcome, 10.0 + i, customer_id="c1")
            )
    newcomer = [s.item_id for s in e.reply(request(customer="new", n=2)).substitutes]
    loyal = e.reply(request(customer="c1", n=3))
    assert newcomer and store_level
    assert e.tastes is not None and e.tastes.evidence("c1") > 10
    assert e.tastes.evidence("new") == 0.0
    acme_first = [s.item_id for s in loyal.substitutes]
    # c1's own brand is ranked above Dairyco, whatever the population learned
    assert acme_first.index("lf") < acme_first.index("lf-2")
    p_loyal = {s.item_id: s.p_accept for s in loyal.substitutes}
    p_new = {s.item_id: s.p_accept for s in e.reply(request(customer="new", n=4)).substitutes}
    assert p_loyal["lf-2"] < p_new["lf-2"]  # another brand: less likely for c1


def test_the_same_request_gets_the_same_reply() -> None:
    e = SubstitutionEngine(products=CATALOG, config=EngineConfig(explore_epsilon=0.5))
    first, again = e.reply(request()), e.reply(request())
    assert first.substitutes == again.substitutes and first.propensity == again.propensity
