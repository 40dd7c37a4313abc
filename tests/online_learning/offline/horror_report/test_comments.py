"""Comments cluster by what they complain about, misspelt or not, in any language."""

from __future__ import annotations

from online_learning.offline.horror_report.comments import cluster_comments

GLUTEN = [
    "I asked for gluten free!",
    "this has gluten, I'm celiac",
    "glutten free please, not regular bread",
    "NOT GLUTEN FREE",
    "gluten-free was the whole point",
    "my daughter is coeliac, gluten makes her sick",
    "glutenfree only",
    "sans gluten svp",  # French
    "contains gluten :(",
    "gluten free means gluten free",
]
# Each planted topic shares its key word, misspelt now and then: char n-grams group wordings,
# they do not know that "expensive" and "price" mean one thing (the structural theme beneath
# each comment group says that).
SIZE = [
    "wrong size, way too small",
    "the size is wrong",
    "size too big for me",
    "sise is tiny",
    "wrong sizes!!",
    "half the size I wanted",
    "szie way off",
    "ordered the big size, got a small one",
    "different size",
    "size matters, much smaller",
]
PRICE = [
    "price too high",
    "the price doubled",
    "pricey, no thanks",
    "I won't pay that price",
    "prise is much higher",
    "expensive price",
    "price jump, refund please",
    "too pricy",
    "the price was not ok",
    "higher price than what I ordered",
]


def test_three_planted_topics_with_typos_come_out_as_three_themes() -> None:
    comments = [c for trio in zip(GLUTEN, SIZE, PRICE, strict=True) for c in trio]
    groups = cluster_comments(comments)
    assert len(groups) == 3
    by_topic = [{comments[i] for i in g.members} for g in groups]
    for topic in (GLUTEN, SIZE, PRICE):
        best = max(by_topic, key=lambda members, t=topic: len(members & set(t)))
        assert len(best & set(topic)) >= 8  # at most two of ten misplaced
    terms = {word for g in groups for word in g.top_terms[:2]}
    assert {"gluten", "size", "price"} <= terms


def test_no_comments_no_groups_and_few_comments_one_group() -> None:
    assert cluster_comments([]) == []
    assert cluster_comments(["", "   ", "\x1b[0m", "\x00\u202e"]) == []
    groups = cluster_comments(["too small", "too small", "small"])
    assert [sorted(g.members) for g in groups] == [[0, 1, 2]]


def test_the_same_comments_group_the_same_way_every_time() -> None:
    comments = GLUTEN[:5] + PRICE[:5]
    assert cluster_comments(comments) == cluster_comments(comments)
