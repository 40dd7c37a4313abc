"""The report as one self-contained HTML page: tables, inline SVG charts, no scripts.

Names, comments, reason codes and comment terms are untrusted: each goes through
:func:`~.safe_text.for_html` (one line, escaped, long comments cut); the charts escape their
own labels.
"""

from __future__ import annotations

from online_learning.offline.horror_report.render_text import headline
from online_learning.offline.horror_report.report import HorrorReport, Mistake, Theme
from online_learning.offline.horror_report.safe_text import for_html as esc
from online_learning.offline.horror_report.safe_text import plain
from online_learning.offline.horror_report.svg import bar_chart, histogram

__all__ = ["render_html"]

NAME_LIMIT = 80
LONG = 1000

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.hint { color: #555; }
blockquote { margin: 0.2em 0 0.2em 1em; color: #444; font-style: italic; }
ul.examples { margin-top: 0.2em; }
"""


def _example(m: Mistake) -> str:
    said = f"<blockquote>{esc(m.comment)}</blockquote>" if m.comment else ""
    return (
        f"<li>{m.p_accept:.2f} {esc(m.outcome)}: {esc(m.requested_name, NAME_LIMIT)} →"
        f" {esc(m.substitute_name, NAME_LIMIT)}{said}</li>"
    )


def _themes(title: str, themes: tuple[Theme, ...], lead: str) -> list[str]:
    out = [f"<h2>{esc(title)}</h2>", f"<p>{esc(lead, LONG)}</p>"]
    if not themes:
        return [*out, "<p>None.</p>"]
    out.append(bar_chart([(plain(t.label, 60), t.count, t.refunds) for t in themes], title))
    out.append(
        "<table><tr><th>theme</th><th>mistakes</th><th>refunds</th><th>reasons given</th>"
        "<th>what it points to</th><th>examples</th></tr>"
    )
    for t in themes:
        reasons = ", ".join(f"{esc(r, 40)} {n}" for r, n in t.reasons) or "-"
        detail = f"<br><span class='hint'>{esc(t.detail, LONG)}</span>" if t.detail else ""
        examples = "".join(_example(m) for m in t.examples)
        out.append(
            f"<tr><td>{esc(t.label, 120)}{detail}</td><td class='n'>{t.count:,}</td>"
            f"<td class='n'>{t.refund_share:.0%}</td><td>{reasons}</td>"
            f"<td class='hint'>{esc(t.hint, LONG)}</td>"
            f"<td><ul class='examples'>{examples}</ul></td></tr>"
        )
    out.append("</table>")
    return out


def render_html(report: HorrorReport, top: int = 50) -> str:
    """The whole report as one HTML document."""
    body = ["<h1>fillrate horror report</h1>", "<ul>"]
    body += [f"<li>{esc(line, LONG)}</li>" for line in headline(report)]
    body.append("</ul>")
    if report.worst:
        body.append("<h2>How confident the mistakes were</h2>")
        body.append(histogram([m.p_accept for m in report.worst], title="p_accept of the mistakes"))
    body += _themes(
        "Structural themes",
        report.structural,
        "What the mistaken pairs have in common, read from the catalog (a mistake can show"
        " several). Refunds: the share the customer kept and then asked to be refunded.",
    )
    body += _themes(
        "Comment themes",
        report.comment_themes,
        f"Customers' comments grouped by wording ({report.commented:,} of the mistakes have"
        " one), each with the structural theme most common in its group.",
    )
    body.append("<h2>Most confidently wrong</h2>")
    if not report.worst:
        body.append("<p>None.</p>")
    else:
        body.append(
            "<table><tr><th>p_accept</th><th>outcome</th><th>requested</th><th>offered</th>"
            "<th>themes</th><th>comment</th></tr>"
        )
        for m in report.worst[:top]:
            body.append(
                f"<tr><td class='n'>{m.p_accept:.3f}</td><td>{esc(m.outcome)}</td>"
                f"<td>{esc(m.requested_name, NAME_LIMIT)}</td>"
                f"<td>{esc(m.substitute_name, NAME_LIMIT)}</td>"
                f"<td>{esc(', '.join(m.themes) or '-', 200)}</td>"
                f"<td>{esc(m.comment or '')}</td></tr>"
            )
        body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # no script, no fetch: should an escape ever be missed, the page still runs nothing
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">"
        "<title>fillrate horror report</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
