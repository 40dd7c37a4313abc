"""The report: the most confidently wrong substitutions, and the themes they share.

:func:`build_report` takes the joined feedback (:class:`~.join.Verdict`) of a time range and
the catalog's pair themes (:class:`~.structural.PairThemes`) and keeps the ``keep`` most
confident mistakes: rejections and refunds of an offer whose ``p_accept`` is known, highest
first. Over those it counts

- the structural themes (a mistake can show several, or none),
- the themes of the customers' comments (each comment in one group), each with the structural
  theme most common among its mistakes, which is where a fix usually starts.

Each theme carries its count, how many of its mistakes were refunds (the costlier kind: the
customer took the item and asked for the money back), the reason codes customers chose, a few
examples and a hint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from online_learning.offline.horror import CUSTOMER_MAX_ACCEPTANCE, CUSTOMER_MIN
from online_learning.offline.horror_report.comments import cluster_comments
from online_learning.offline.horror_report.join import Verdict
from online_learning.offline.horror_report.structural import (
    NO_THEME,
    THEME_HINTS,
    THEME_TITLES,
    PairThemes,
)

__all__ = ["HorrorReport", "Mistake", "Theme", "build_report"]

KEEP = 500  # confident mistakes the themes are counted over
EXAMPLES = 3  # examples shown per theme


@dataclass(frozen=True, slots=True)
class Mistake:
    """One confidently wrong substitution, with names and what it shows."""

    verdict: Verdict
    p_accept: float
    requested_name: str
    substitute_name: str
    themes: tuple[str, ...]  # structural; empty: none known
    lost_tags: tuple[str, ...]

    @property
    def outcome(self) -> str:
        return self.verdict.feedback.outcome

    @property
    def comment(self) -> str | None:
        return self.verdict.comment


@dataclass(frozen=True, slots=True)
class Theme:
    """A theme the mistakes share: structural (``kind="structural"``) or from comments."""

    kind: str  # "structural" or "comments"
    key: str  # a structural theme's name, or "comments-N"
    label: str
    count: int
    refunds: int
    examples: tuple[Mistake, ...]
    hint: str
    reasons: tuple[tuple[str, int], ...] = ()  # customers' reason codes, most common first
    top_terms: tuple[str, ...] = ()  # comment themes: the words particular to the group
    structural: str | None = None  # comment themes: the structural theme most common in it
    detail: str = ""  # e.g. which tags were lost

    @property
    def refund_share(self) -> float:
        return self.refunds / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class HorrorReport:
    """Everything the renderers show."""

    feedback: int  # feedback events read in the range
    outcomes: tuple[tuple[str, int], ...]
    joined: int  # feedback events whose offer was found
    mistakes_seen: int  # rejections and refunds with a known p_accept
    worst: tuple[Mistake, ...]  # most confident first, at most ``keep``
    structural: tuple[Theme, ...]  # most mistakes first
    comment_themes: tuple[Theme, ...]  # most mistakes first
    commented: int  # kept mistakes with a comment
    since: float | None = None
    until: float | None = None
    sources: dict[str, int] = field(default_factory=dict)  # what was read, per topic


def _customer_themes(verdicts: Sequence[Verdict]) -> dict[int, bool]:
    """Per verdict index: did this customer turn down most substitutes before this one?"""
    record: dict[str, list[int]] = {}
    out: dict[int, bool] = {}
    order = sorted(range(len(verdicts)), key=lambda i: verdicts[i].feedback.ts)
    for i in order:
        fb = verdicts[i].feedback
        if fb.customer_id is None:
            continue
        accepted, offered = record.setdefault(fb.customer_id, [0, 0])
        out[i] = offered >= CUSTOMER_MIN and accepted <= CUSTOMER_MAX_ACCEPTANCE * offered
        record[fb.customer_id] = [accepted + (fb.outcome == "accepted"), offered + 1]
    return out


def _mistakes(verdicts: Sequence[Verdict], pairs: PairThemes, keep: int) -> list[Mistake]:
    picky = _customer_themes(verdicts)
    candidates = [i for i, v in enumerate(verdicts) if v.mistaken and v.p_accept is not None]
    candidates.sort(key=lambda i: (-(verdicts[i].p_accept or 0.0), verdicts[i].feedback.ts))
    out = []
    for i in candidates[:keep]:
        v = verdicts[i]
        fb = v.feedback
        look = pairs.of(fb.item_id, fb.substitute_id)
        found = () if look is None else look.themes
        if picky.get(i):
            found = (*found, "customer")
        out.append(
            Mistake(
                verdict=v,
                p_accept=v.p_accept or 0.0,
                requested_name=pairs.name(fb.item_id),
                substitute_name=pairs.name(fb.substitute_id),
                themes=found,
                lost_tags=() if look is None else look.lost_tags,
            )
        )
    return out


def _reasons(mistakes: Sequence[Mistake]) -> tuple[tuple[str, int], ...]:
    counts = Counter(r for m in mistakes for r in m.verdict.reasons)
    return tuple(counts.most_common(5))


def _examples(mistakes: Sequence[Mistake], n: int) -> tuple[Mistake, ...]:
    # commented ones first: a person reads a complaint faster than a pair of names
    ranked = sorted(mistakes, key=lambda m: (m.comment is None, -m.p_accept))
    return tuple(ranked[:n])


def _structural(mistakes: Sequence[Mistake], examples: int) -> list[Theme]:
    by_theme: dict[str, list[Mistake]] = {}
    for m in mistakes:
        for theme in m.themes or (NO_THEME,):
            by_theme.setdefault(theme, []).append(m)
    out = []
    for key, members in by_theme.items():
        detail = ""
        if key == "tags":
            lost = Counter(t for m in members for t in m.lost_tags)
            detail = "lost: " + ", ".join(f"{t} {n}" for t, n in lost.most_common(6))
        out.append(
            Theme(
                kind="structural",
                key=key,
                label=THEME_TITLES[key],
                count=len(members),
                refunds=sum(m.outcome == "refunded" for m in members),
                examples=_examples(members, examples),
                hint=THEME_HINTS[key],
                reasons=_reasons(members),
                detail=detail,
            )
        )
    out.sort(key=lambda t: (-t.count, -t.refunds, t.key))
    return out


def _comment_themes(mistakes: Sequence[Mistake], examples: int) -> list[Theme]:
    commented = [m for m in mistakes if m.comment and m.comment.strip()]
    groups = cluster_comments([m.comment or "" for m in commented])
    out = []
    for n, group in enumerate(groups, 1):
        members = [commented[i] for i in group.members]
        structural = Counter(t for m in members for t in (m.themes or (NO_THEME,)))
        top = structural.most_common(1)[0][0] if structural else NO_THEME
        terms = ", ".join(group.top_terms) or "(no distinctive words)"
        out.append(
            Theme(
                kind="comments",
                key=f"comments-{n}",
                label=f"comments: {terms}",
                count=len(members),
                refunds=sum(m.outcome == "refunded" for m in members),
                examples=_examples(members, examples),
                hint=f"mostly {THEME_TITLES[top]}: {THEME_HINTS[top]}",
                reasons=_reasons(members),
                top_terms=group.top_terms,
                structural=top,
            )
        )
    out.sort(key=lambda t: (-t.count, -t.refunds, t.key))
    return out


def build_report(
    verdicts: Sequence[Verdict],
    pairs: PairThemes,
    keep: int = KEEP,
    examples: int = EXAMPLES,
    since: float | None = None,
    until: float | None = None,
    sources: dict[str, int] | None = None,
) -> HorrorReport:
    """The report over ``verdicts`` (a time range's feedback, joined to its offers)."""
    if keep < 1:
        raise ValueError("keep must be >= 1")
    mistakes = _mistakes(verdicts, pairs, keep)
    outcomes = Counter(v.feedback.outcome for v in verdicts)
    return HorrorReport(
        feedback=len(verdicts),
        outcomes=tuple(sorted(outcomes.items())),
        joined=sum(v.offer is not None for v in verdicts),
        mistakes_seen=sum(v.mistaken and v.p_accept is not None for v in verdicts),
        worst=tuple(mistakes),
        structural=tuple(_structural(mistakes, examples)),
        comment_themes=tuple(_comment_themes(mistakes, examples)),
        commented=sum(bool(m.comment and m.comment.strip()) for m in mistakes),
        since=since,
        until=until,
        sources=dict(sources or {}),
    )
