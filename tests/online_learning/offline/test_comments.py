"""What simulated customers write: varied as people are, the same for a seed, and saying, in
aggregate, the reason the simulator knows they had."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

from online_learning.contract import REASONS, Feedback, decode_feedback, encode_event
from online_learning.contract import Product as P
from online_learning.offline.comments import (
    CODES_SHARE,
    HIDDEN_REASONS,
    REASON_CODES,
    CommentWriter,
    CustomerNote,
    hidden_reason,
    reason_gaps,
)
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.simulation import SimConfig, Simulation
from tests.online_learning.offline.test_simulation import run, same_aisle

N = 3000  # events per planted gap

BEANS = P("b", "Roastery Coffee Beans", "coffee", "pantry", 6.0, 500.0, "g", "roastery")
# Each substitute differs from BEANS in one way only: the gap the customers should name.
PLANTED = {
    "price": P("p", "Roastery Coffee Beans", "coffee", "pantry", 12.0, 500.0, "g", "roastery"),
    "size": P("s", "Roastery Coffee Beans", "coffee", "pantry", 6.0, 2000.0, "g", "roastery"),
    "brand": P("r", "Hilltop Coffee Beans", "coffee", "pantry", 6.0, 500.0, "g", "hilltop"),
    "kind": P("k", "Roastery Green Tea Leaves", "tea", "pantry", 6.0, 500.0, "g", "roastery"),
}
OAT_FREE = P(
    "o", "Acme Oat Milk", "milk", "dairy", 2.0, 1.0, "l", "acme", frozenset({"dairy_free"})
)
PLANTED_DIETARY = P("d", "Acme Whole Milk", "milk", "dairy", 2.0, 1.0, "l", "acme")

# Words a customer uses for each reason, in the languages the simulator writes.
WORDS = {
    "price": r"expensive|pric|cost|paying|budget|money|rip off|double|cheap|%|teuer|cher|caro|duur",
    "size": r"size|big|small|tiny|pack|huge|quantity|too much|enough|last a day|gr[öo]ße"
    r"|taille|tamaño|maat|\d+ g",
    "brand": r"brand|only buy|always get|marke|marque|marca|merk|never liked",
    "dietary": r"lactose|gluten|vegan|allerg|label|organic|diet|dairy|laktose|dairy free|vegano",
    "kind": r"not what|different|wrong product|same thing|replace|substitute|flavour|recipe"
    r"|produ|item|commandé|wanted",
}


def pair_for(reason: str) -> tuple[P, P]:
    return (OAT_FREE, PLANTED_DIETARY) if reason == "dietary" else (BEANS, PLANTED[reason])


def notes(reason: str, seed: int = 1, outcome: str = "rejected") -> list[CustomerNote]:
    writer = CommentWriter(seed)
    requested, substitute = pair_for(reason)
    return [writer.write(f"req-{i}", outcome, requested, substitute) for i in range(N)]


def test_a_seed_writes_the_same_notes_and_another_seed_other_ones() -> None:
    assert notes("price", seed=1)[:300] == notes("price", seed=1)[:300]
    assert notes("price", seed=1)[:300] != notes("price", seed=2)[:300]


@pytest.mark.parametrize("reason", ["price", "size", "brand", "dietary", "kind"])
def test_the_planted_gap_is_the_hidden_reason_most_of_the_time(reason: str) -> None:
    hidden = Counter(note.hidden for note in notes(reason))
    assert hidden[reason] / N > 0.7  # the largest gap usually wins, as it does for people
    assert set(hidden) <= set(HIDDEN_REASONS)


@pytest.mark.parametrize("reason", ["price", "size", "brand", "dietary", "kind"])
def test_comments_are_many_and_varied_for_each_reason(reason: str) -> None:
    written = [n for n in notes(reason) if n.hidden == reason and n.comment]
    assert len({n.comment for n in written}) >= 60
    # ... and come in several wordings, not one sentence with different typos
    worded = {re.sub(r"[^a-z ]", "", n.comment.lower())[:12] for n in written if n.comment}
    assert len(worded) >= 8


def test_people_write_as_people_do() -> None:
    written = [n for r in ("price", "size", "brand") for n in notes(r)]
    comments = [n.comment for n in written if n.comment]
    refusals = len(written)
    assert 0.2 < (refusals - len(comments)) / refusals < 0.6  # many say nothing at all
    assert any(c != c.lower() and c == c.upper() for c in comments)  # SHOUTING
    assert any(c == c.lower() for c in comments)
    assert sum(any(ord(ch) > 0x1F000 for ch in c) for c in comments) / len(comments) > 0.05
    foreign = re.compile(r"teuer|trop|demasiado|duur|falsche|marque|tamaño|verkeerd")
    assert sum(bool(foreign.search(c.lower())) for c in comments) / len(comments) > 0.04
    noise = re.compile(r"driver|bag|delivery|app kept|ring the bell|eggs were")
    assert sum(bool(noise.search(c.lower())) for c in comments) / len(comments) > 0.05


@pytest.mark.parametrize("reason", ["price", "size", "brand", "dietary", "kind"])
def test_the_hidden_reason_is_recoverable_from_the_words_in_aggregate(reason: str) -> None:
    words = re.compile(WORDS[reason], re.IGNORECASE)
    by_hidden: dict[str | None, list[str]] = defaultdict(list)
    for r in ("price", "size", "brand", "dietary", "kind"):
        for note in notes(r, seed=5):
            if note.comment:
                by_hidden[note.hidden].append(note.comment)
    mine = by_hidden[reason]
    others = [c for h, cs in by_hidden.items() if h != reason for c in cs]
    share_mine = sum(bool(words.search(c)) for c in mine) / len(mine)
    share_others = sum(bool(words.search(c)) for c in others) / len(others)
    # noise-only comments, typos in the key word and a few vague ones ("didn't like it") miss
    assert share_mine > 0.7, share_mine
    assert share_others < share_mine / 3, (share_mine, share_others)


def test_reason_codes_are_sent_for_a_share_and_name_the_hidden_reason() -> None:
    written = notes("price") + notes("kind")
    coded = [n for n in written if n.reason]
    assert abs(len(coded) / len(written) - CODES_SHARE) < 0.05
    assert all(set(n.reason) <= set(REASONS) for n in coded)
    right = sum(REASON_CODES[n.hidden] in n.reason for n in coded if n.hidden)
    assert right / len(coded) > 0.9
    assert any(n.reason and not n.comment for n in written)  # a button, no words


def test_refunds_are_mostly_about_quality_and_acceptances_rarely_commented() -> None:
    refunds = Counter(n.hidden for n in notes("price", outcome="refunded"))
    assert refunds["quality"] / N > 0.5
    kept = notes("price", outcome="accepted")
    assert all(n.hidden is None and n.reason == () for n in kept)
    assert 0 < sum(n.comment is not None for n in kept) / N < 0.15


def test_every_note_passes_the_contract_unchanged() -> None:
    for reason in ("price", "dietary", "kind"):
        for i, note in enumerate(notes(reason)[:500]):
            feedback = Feedback(
                f"e{i}", "s1", "a", "b", "rejected", 1.0, comment=note.comment, reason=note.reason
            )
            assert decode_feedback(encode_event(feedback)[2]) == feedback


def test_gaps_rank_a_lost_dietary_promise_above_everything() -> None:
    gaps = reason_gaps(OAT_FREE, PLANTED_DIETARY)
    assert max(gaps, key=gaps.__getitem__) == "dietary"
    no_gap = reason_gaps(BEANS, BEANS)
    assert max(no_gap, key=no_gap.__getitem__) == "quality"
    draws = KeyedRandom(1)
    assert {hidden_reason(draws, f"k{i}", "rejected", BEANS, BEANS) for i in range(50)} == {
        "quality"
    }


def test_the_simulation_writes_notes_into_its_feedback(
    products: list[P], aisles: dict[str, list[str]]
) -> None:
    config = SimConfig(seed=11, n_stores=5, n_customers=300)
    _, _, feedback = run(Simulation(config, products), same_aisle(aisles), minutes=8)
    offered = [f for f in feedback if f is not None]
    refused = [f for f in offered if f.outcome != "accepted"]
    assert refused and any(f.comment for f in refused) and any(f.reason for f in refused)
    assert any(f.comment is None for f in refused)
    for f in offered:  # what the producer writes is what a worker reads back
        assert decode_feedback(encode_event(f)[2]) == f
    again = run(Simulation(config, products), same_aisle(aisles), minutes=8)[2]
    assert again == feedback
