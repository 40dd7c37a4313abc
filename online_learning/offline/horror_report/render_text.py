"""The terminal summary of a :class:`~.report.HorrorReport`: plain lines, no escape sequences
(every name and comment goes through :func:`~.safe_text.plain`)."""

from __future__ import annotations

import time

from online_learning.offline.horror_report.report import HorrorReport, Mistake, Theme
from online_learning.offline.horror_report.safe_text import plain

__all__ = ["render_text", "utc"]

NAME_LIMIT = 40
TEXT_COMMENT_LIMIT = 100


def utc(ts: float | None) -> str:
    """An epoch time as UTC for a reader; ``-`` for an open end.

    >>> utc(0.0), utc(None)
    ('1970-01-01 00:00 UTC', '-')
    """
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def headline(report: HorrorReport) -> list[str]:
    outcomes = ", ".join(f"{name} {n:,}" for name, n in report.outcomes)
    lines = [
        f"feedback {utc(report.since)} to {utc(report.until)}: {report.feedback:,} events"
        + (f" ({outcomes})" if outcomes else ""),
        f"joined to the offer that preceded them: {report.joined:,}",
    ]
    if report.worst:
        lines.append(
            f"confident mistakes: the {len(report.worst):,} most confident of"
            f" {report.mistakes_seen:,} rejections and refunds (p_accept"
            f" {report.worst[-1].p_accept:.2f} to {report.worst[0].p_accept:.2f})"
        )
    else:
        lines.append("no rejection or refund joined to an offer in this range")
    if report.sources:
        lines.append(
            "read: " + ", ".join(f"{plain(what, 200)} {n:,}" for what, n in report.sources.items())
        )
    return lines


def pair(m: Mistake, limit: int = NAME_LIMIT) -> str:
    return f"{plain(m.requested_name, limit)} -> {plain(m.substitute_name, limit)}"


def _theme_lines(theme: Theme) -> list[str]:
    lines = [f"  {theme.count:>6,}  {theme.refund_share:>6.0%}  {plain(theme.label, 80)}"]
    if theme.detail:
        lines.append(f"{'':>18}{plain(theme.detail, 80)}")
    if theme.reasons:
        lines.append(
            f"{'':>18}reasons: " + ", ".join(f"{plain(r, 30)} {n}" for r, n in theme.reasons)
        )
    lines.append(f"{'':>18}-> {theme.hint}")
    for m in theme.examples:
        said = f'  "{plain(m.comment, TEXT_COMMENT_LIMIT)}"' if m.comment else ""
        lines.append(f"{'':>18}{m.p_accept:.2f} {m.outcome}: {pair(m)}{said}")
    return lines


def render_text(report: HorrorReport, top: int = 10) -> str:
    """The summary a terminal shows: headline, both theme tables, the worst ``top``."""
    lines = headline(report)
    if report.structural:
        lines += ["", "structural themes (a mistake can show several)", "   count  refunds  theme"]
        for theme in report.structural:
            lines += _theme_lines(theme)
    lines.append("")
    if report.comment_themes:
        lines += [
            f"comment themes ({report.commented:,} of the mistakes have a comment)",
            "   count  refunds  theme",
        ]
        for theme in report.comment_themes:
            lines += _theme_lines(theme)
    else:
        lines.append("comment themes: no comments on these mistakes")
    if report.worst:
        lines += ["", "most confidently wrong", "  p_accept  outcome   requested -> substitute"]
        for m in report.worst[:top]:
            said = f'  "{plain(m.comment, TEXT_COMMENT_LIMIT)}"' if m.comment else ""
            lines.append(f"  {m.p_accept:>8.3f}  {m.outcome:<8}  {pair(m)}{said}")
    return "\n".join(lines)
