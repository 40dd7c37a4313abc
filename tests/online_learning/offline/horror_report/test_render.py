"""The report's three renderings show hostile comments and names escaped, and never crash.

A comment is whatever a customer typed: terminal escapes, control characters, a bidi override
that reorders a line, markup, a script tag, a novel. None of it may reach a terminal, a
Markdown viewer or a browser as anything but text.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.contract import Feedback
from online_learning.offline.horror_report import (
    HorrorReport,
    Mistake,
    Offer,
    PairThemes,
    Theme,
    Verdict,
    build_report,
)
from online_learning.offline.horror_report.render_html import render_html
from online_learning.offline.horror_report.render_markdown import render_markdown
from online_learning.offline.horror_report.render_text import render_text
from online_learning.offline.horror_report.safe_text import COMMENT_LIMIT

from .conftest import verdict

HOSTILE = [
    "x" * 200_000,  # huge
    "bad\x1b[2J\x1b[31mRED\x1b]0;pwned\x07\x00\x08\x7f\x9b1m",  # escapes and controls
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "yum 🍞🥖👨‍👩‍👧 gluten 😡",
    "\u202eevil reversed\u202c and \u2066isolate\u2069",  # RTL override
    "| broken | table | **bold** [link](javascript:alert(1)) <b>b</b> # heading",
    "line one\nline two\r\n\u2028line three",
]

# characters no rendering may carry from a comment: C0/C1 controls (bar newline), DEL, bidi
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _forbidden(text: str) -> list[str]:
    return [ch for ch in text if ch in _BIDI or (unicodedata.category(ch) == "Cc" and ch != "\n")]


def _report(comments: list[str], name: str = "Bread") -> HorrorReport:
    mistakes = tuple(
        Mistake(
            verdict=Verdict(
                Feedback(f"e{i}", "s1", "a", "b", "refunded", 1.0),
                Offer(0.9, 0, "ranking", 0.5),
                comment,
                ("dietary",),
            ),
            p_accept=0.9,
            requested_name=name,
            substitute_name=name + " 2",
            themes=("tags",),
            lost_tags=("gluten_free",),
        )
        for i, comment in enumerate(comments)
    )
    theme = Theme(
        "comments",
        "comments-1",
        "comments: " + " ".join(comments)[:200],
        len(mistakes),
        len(mistakes),
        mistakes[:3],
        "mostly lost tag",
        reasons=(("dietary", len(mistakes)),),
        top_terms=("gluten",),
        structural="tags",
    )
    return HorrorReport(
        feedback=len(mistakes),
        outcomes=(("refunded", len(mistakes)),),
        joined=len(mistakes),
        mistakes_seen=len(mistakes),
        worst=mistakes,
        structural=(),
        comment_themes=(theme,),
        commented=len(mistakes),
    )


def test_hostile_comments_are_escaped_in_every_rendering() -> None:
    report = _report(HOSTILE, name="<b>Evil</b> \x1b[31mBread\u202e")
    html_page = render_html(report)
    markdown = render_markdown(report)
    text = render_text(report)
    for out in (html_page, markdown, text):
        assert _forbidden(out) == []
        assert "pwned" not in out or "]0;" not in out  # no window-title escape left behind
        assert "x" * (COMMENT_LIMIT + 1) not in out  # the huge one is cut
        assert "👨‍👩‍👧" in out  # emoji survive
    assert "<script" not in html_page and "<img" not in html_page and "<b>Evil" not in html_page
    assert "&lt;script&gt;" in html_page
    assert "<script" not in markdown and "<b>" not in markdown
    # every table row of the worst-mistakes table keeps its 7 unescaped pipes
    rows = [line for line in markdown.splitlines() if line.startswith("| 0.900")]
    assert len(rows) == len(HOSTILE)
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows)


def test_a_comment_is_shown_on_one_line() -> None:
    text = render_text(_report(["line one\nline two\r\n\u2028line three"]))
    assert '"line one line two line three"' in text


@settings(max_examples=60, deadline=None)
@given(
    comments=st.lists(st.text(max_size=400), min_size=1, max_size=4),
    name=st.text(max_size=100),
)
def test_any_text_renders_escaped_and_never_crashes(comments: list[str], name: str) -> None:
    report = _report(comments, name)
    html_page = render_html(report)
    markdown = render_markdown(report)
    text = render_text(report)
    for out in (html_page, markdown, text):
        assert _forbidden(out) == []
    # in the page, every "<" starts one of the renderer's own tags
    tags = set(re.findall(r"<(/?[a-zA-Z!][a-zA-Z0-9]*)", html_page))
    assert tags <= {
        "!DOCTYPE", "html", "/html", "head", "/head", "meta", "title", "/title", "style",
        "/style", "body", "/body", "h1", "/h1", "h2", "/h2", "ul", "/ul", "li", "/li",
        "table", "/table", "tr", "/tr", "th", "/th", "td", "/td", "svg", "/svg", "rect",
        "text", "/text", "blockquote", "/blockquote", "br", "span", "/span", "p", "/p",
    }  # fmt: skip
    assert html_page.count("<script") == 0


def test_the_report_of_a_real_run_renders_in_all_three_forms(pairs: PairThemes) -> None:
    verdicts = [
        verdict("gf-white", "white", "refunded", 0.9, "<script>gluten</script>", ts=1),
        verdict("gf-rye", "rye", "rejected", 0.8, "glutenfree!!", ("dietary",), ts=2),
        verdict("milk-gal", "milk-qt", "rejected", 0.7, "too small", ("wrong_size",), ts=3),
        verdict("milk-gal", "milk-half", "accepted", 0.6, ts=4),
    ]
    report = build_report(verdicts, pairs)
    page = render_html(report)
    assert "Acme Gluten Free White Bread" in page and "lost: gluten_free 2" in page
    assert "<svg" in page  # the charts are inline
    assert "Acme Gluten Free Rye Bread" in render_markdown(report)
    assert "lost tag" in render_text(report)
