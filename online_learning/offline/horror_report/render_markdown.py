"""The report as Markdown: summary tables, each theme's examples, the worst mistakes.

Names, comments, reason codes and comment terms are untrusted: each goes through
:func:`~.safe_text.for_markdown` (one line, markup escaped, long comments cut).
"""

from __future__ import annotations

from online_learning.offline.horror_report.render_text import headline
from online_learning.offline.horror_report.report import HorrorReport, Mistake, Theme
from online_learning.offline.horror_report.safe_text import for_markdown as md

__all__ = ["render_markdown"]

NAME_LIMIT = 80
LONG = 1000  # our own text (hints, details): never cut in practice


def _reasons(theme: Theme) -> str:
    return ", ".join(f"{md(r, 40)} {n}" for r, n in theme.reasons) or "-"


def _example(m: Mistake) -> str:
    said = f": “{md(m.comment)}”" if m.comment else ""
    return (
        f"- {m.p_accept:.2f} {m.outcome}: {md(m.requested_name, NAME_LIMIT)} →"
        f" {md(m.substitute_name, NAME_LIMIT)}{said}"
    )


def _themes(title: str, themes: tuple[Theme, ...], lead: str) -> list[str]:
    lines = [f"## {title}", "", lead, ""]
    if not themes:
        return [*lines, "None.", ""]
    lines += [
        "| theme | mistakes | refunds | reasons given | what it points to |",
        "|---|---:|---:|---|---|",
    ]
    for t in themes:
        lines.append(
            f"| {md(t.label, 120)} | {t.count:,} | {t.refund_share:.0%} | {_reasons(t)}"
            f" | {md(t.hint, LONG)} |"
        )
    lines.append("")
    for t in themes:
        lines += [f"### {md(t.label, 120)}", ""]
        if t.detail:
            lines += [md(t.detail, LONG), ""]
        lines += [_example(m) for m in t.examples]
        lines.append("")
    return lines


def render_markdown(report: HorrorReport, top: int = 50) -> str:
    """The whole report as one Markdown document."""
    lines = ["# fillrate horror report", ""]
    lines += [f"- {md(line, LONG)}" for line in headline(report)]
    lines.append("")
    lines += _themes(
        "Structural themes",
        report.structural,
        "What the mistaken pairs have in common, read from the catalog (a mistake can show"
        " several). Refunds: the share the customer kept and then asked to be refunded.",
    )
    lines += _themes(
        "Comment themes",
        report.comment_themes,
        f"Customers' comments grouped by wording ({report.commented:,} of the mistakes have"
        " one), each with the structural theme most common in its group.",
    )
    lines += ["## Most confidently wrong", ""]
    if not report.worst:
        return "\n".join([*lines, "None.", ""])
    lines += [
        "| p_accept | outcome | requested | offered | themes | comment |",
        "|---:|---|---|---|---|---|",
    ]
    for m in report.worst[:top]:
        lines.append(
            f"| {m.p_accept:.3f} | {m.outcome} | {md(m.requested_name, NAME_LIMIT)}"
            f" | {md(m.substitute_name, NAME_LIMIT)} | {md(', '.join(m.themes) or '-', 200)}"
            f" | {md(m.comment or '')} |"
        )
    lines.append("")
    return "\n".join(lines)
