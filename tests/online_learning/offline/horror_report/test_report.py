"""The report keeps the most confident mistakes and counts the themes they share."""

from __future__ import annotations

import pytest

from online_learning.offline.horror_report import PairThemes, build_report

from .conftest import verdict


def test_the_most_confident_rejections_and_refunds_come_first(pairs: PairThemes) -> None:
    verdicts = [
        verdict("gf-white", "white", "rejected", 0.55),
        verdict("gf-white", "white", "refunded", 0.95, "I'm coeliac!"),
        verdict("gf-white", "white", "accepted", 0.99),  # right, however confident
        verdict("milk-gal", "milk-qt", "rejected", 0.7),
        verdict("milk-gal", "milk-half", "rejected", None),  # its offer was not found
    ]
    report = build_report(verdicts, pairs, keep=2)
    assert [m.p_accept for m in report.worst] == [0.95, 0.7]
    top = report.worst[0]
    assert (top.requested_name, top.substitute_name) == (
        "Acme Gluten Free White Bread",
        "Acme White Bread",
    )
    assert (top.outcome, top.comment) == ("refunded", "I'm coeliac!")
    assert report.mistakes_seen == 3 and report.joined == 4 and report.feedback == 5


def test_structural_themes_count_mistakes_with_refund_share_and_what_was_lost(
    pairs: PairThemes,
) -> None:
    verdicts = [verdict("gf-white", "white", "refunded", 0.9, ts=i) for i in range(3)]
    verdicts += [verdict("gf-rye", "rye", "rejected", 0.8, ts=i) for i in range(3)]
    verdicts += [verdict("milk-gal", "milk-qt", "rejected", 0.7, ts=i) for i in range(2)]
    report = build_report(verdicts, pairs)
    first = report.structural[0]
    assert (first.key, first.label, first.count) == ("tags", "lost tag", 6)
    assert first.refund_share == pytest.approx(0.5)
    assert "gluten_free 6" in first.detail
    assert "preserve_tags" in first.hint  # the rule it points to
    size = next(t for t in report.structural if t.key == "size")
    assert size.count == 2 and size.refunds == 0


def test_a_customer_who_turns_most_substitutes_down_is_a_theme(pairs: PairThemes) -> None:
    verdicts = [
        verdict("milk-gal", "milk-half", "rejected", 0.6, customer="c1", ts=t) for t in (1, 2, 3)
    ]
    report = build_report(verdicts, pairs)
    themes_of_last = next(m.themes for m in report.worst if m.verdict.feedback.ts == 3)
    assert "customer" in themes_of_last


def test_comment_themes_name_their_words_and_the_structural_theme_beneath(
    pairs: PairThemes,
) -> None:
    gluten = ["gluten free only please", "I am celiac, glutn free!!", "not gluten-free", "GLUTEN"]
    size = ["way too small", "tiny bottle, wrong size", "the size was too small", "small size"]
    verdicts = [
        verdict("gf-white", "white", "refunded", 0.9, c, ("dietary",), ts=i)
        for i, c in enumerate(gluten)
    ]
    verdicts += [
        verdict("milk-gal", "milk-qt", "rejected", 0.8, c, ("wrong_size",), ts=i)
        for i, c in enumerate(size)
    ]
    verdicts += [verdict("milk-gal", "milk-half", "rejected", 0.7)]  # no comment: still counted
    report = build_report(verdicts, pairs)
    assert report.commented == 8
    glut = report.comment_themes[0]
    assert {m.comment for m in glut.examples} <= set(gluten) and "gluten" in glut.top_terms
    assert glut.count == 4 and glut.structural == "tags" and glut.refund_share == 1.0
    assert glut.reasons == (("dietary", 4),)
    assert "preserve_tags" in glut.hint
    # the size complaints are in other groups, which point at the size theme
    assert {t.structural for t in report.comment_themes[1:]} == {"size"}


def test_feedback_without_any_comment_or_offer_still_reports(pairs: PairThemes) -> None:
    report = build_report([verdict("gf-white", "white", "rejected", None)], pairs)
    assert report.worst == () and report.comment_themes == () and report.structural == ()
    assert report.feedback == 1
