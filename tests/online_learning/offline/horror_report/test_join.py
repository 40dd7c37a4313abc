"""Feedback finds the offer it answered: by ranking id, by order and item, or by the store's
latest ranking of the item; the p_accept it carries is the one offered."""

from __future__ import annotations

from online_learning.contract import Feedback, Ranking, Reply, ReplySubstitute, Substitute
from online_learning.offline.horror_report import OfferIndex, join


def ranking(ranking_id: str, item: str, subs: dict[str, float], ts: float) -> Ranking:
    listed = tuple(Substitute(s, p, p, 0.9) for s, p in subs.items())
    return Ranking(ranking_id, "s1", item, listed, None, "v1", "stock_out", ts, ts - 1)


def reply(order: str, item: str, subs: dict[str, float], ts: float) -> Reply:
    listed = tuple(ReplySubstitute(s, p, p, 0.9, "model") for s, p in subs.items())
    return Reply(f"req-{order}-{ts}", order, "c1", "s1", item, listed, None, "v1", ts, ts - 1)


def fb(sub: str, ts: float, **refs: str) -> Feedback:
    return Feedback(f"e-{sub}-{ts}", "s1", "milk", sub, "rejected", ts, **refs)  # type: ignore[arg-type]


def test_each_way_of_referring_to_an_offer_finds_its_p_accept() -> None:
    offers = OfferIndex()
    offers.add_ranking(ranking("rk-1", "milk", {"oat": 0.9, "soy": 0.4}, ts=10))
    offers.add_ranking(ranking("rk-2", "milk", {"oat": 0.7}, ts=20))
    offers.add_reply(reply("o-1", "milk", {"soy": 0.8, "oat": 0.3}, ts=15))
    by_ranking = offers.offer_for(fb("soy", 30, ranking_id="rk-1"))
    by_order = offers.offer_for(fb("soy", 30, order_id="o-1"))
    by_store_before_rk2 = offers.offer_for(fb("oat", 12))
    by_store_after_rk2 = offers.offer_for(fb("oat", 25))
    assert by_ranking is not None and (by_ranking.p_accept, by_ranking.position) == (0.4, 1)
    assert by_order is not None and (by_order.p_accept, by_order.via) == (0.8, "reply")
    # the store's ranking published before the feedback, not a later one
    assert by_store_before_rk2 is not None and by_store_before_rk2.p_accept == 0.9
    assert by_store_after_rk2 is not None and by_store_after_rk2.p_accept == 0.7


def test_a_substitute_no_offer_listed_joins_to_nothing() -> None:
    offers = OfferIndex()
    offers.add_ranking(ranking("rk-1", "milk", {"oat": 0.9}, ts=10))
    assert offers.offer_for(fb("rice", 30, ranking_id="rk-1")) is None
    assert offers.offer_for(fb("oat", 5)) is None  # feedback before any ranking of the item


def test_a_later_reply_to_the_same_order_and_item_wins() -> None:
    offers = OfferIndex()
    offers.add_reply(reply("o-1", "milk", {"oat": 0.2}, ts=10))
    offers.add_reply(reply("o-1", "milk", {"oat": 0.6}, ts=11))
    verdicts = join([(fb("oat", 20, order_id="o-1"), "meh", ("quality",))], offers)
    assert verdicts[0].p_accept == 0.6
    assert (verdicts[0].comment, verdicts[0].reasons) == ("meh", ("quality",))


def test_an_index_told_the_feedback_keeps_only_the_offers_it_refers_to() -> None:
    answered = [fb("oat", 30, ranking_id="rk-1"), fb("soy", 30, order_id="o-1")]
    offers = OfferIndex(answered)
    offers.add_ranking(ranking("rk-1", "milk", {"oat": 0.9}, ts=10))
    offers.add_ranking(ranking("rk-9", "bread", {"rye": 0.9}, ts=10))  # nobody's offer
    offers.add_reply(reply("o-1", "milk", {"soy": 0.8}, ts=15))
    offers.add_reply(reply("o-2", "milk", {"soy": 0.1}, ts=15))  # another order's
    assert (offers.rankings, offers.replies) == (2, 2)  # all read
    assert [offers.offer_for(f) is not None for f in answered] == [True, True]
    # a feedback event that names no ranking still finds the store's latest of its item
    assert offers.offer_for(fb("oat", 40)) is not None
    assert offers.offer_for(Feedback("e", "s1", "bread", "rye", "rejected", 40.0)) is None
