"""Untrusted text (customers' comments, catalog names) made safe to show.

A comment is whatever a customer typed: it may hold terminal escape sequences, control
characters, bidirectional overrides that reorder what a reader sees, HTML or Markdown markup,
or a whole novel. :func:`plain` reduces it to one line of printable text of bounded length;
:func:`for_markdown` and :func:`for_html` then escape the markup of each format.

>>> plain("ok\\x1b[31m red\\u202e txet\\nnext line\\x1b]0;title\\x07")
'ok red txet next line'
>>> plain("x" * 50, limit=10)
'xxxxxxxxx…'
>>> for_html("<script>alert(1)</script>")
'&lt;script&gt;alert(1)&lt;/script&gt;'
>>> for_markdown("*not bold* | [link](http://x) <b> 2.5-3")
'\\\\*not bold\\\\* \\\\| \\\\[link\\\\](http://x) &lt;b&gt; 2.5-3'
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["COMMENT_LIMIT", "for_html", "for_markdown", "plain"]

COMMENT_LIMIT = 280  # characters of a comment a report shows

# Characters that change how the rest of a line is displayed: the bidirectional embeddings,
# overrides and isolates, and the marks that steer them.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(r"\s+")
# Terminal escape sequences, whole: CSI (colours, cursor moves) and OSC (window titles,
# hyperlinks), so no stray "[31m" is left once the escape character itself is dropped.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI, as its one-character C1 form
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, to its terminator
)
# What Markdown (CommonMark and GitHub's tables and strikethrough) reads inside a line: the
# report puts untrusted text only after its own text on a line or in a table cell, so what
# marks a line's start (-, +, 1.) stays as typed, and (, ) and ! mean nothing without [ ].
_MARKDOWN = re.compile(r"([\\`*_\[\]|~#])")


def _shown(ch: str) -> str:
    if ch in _BIDI:
        return ""
    category = unicodedata.category(ch)
    if category == "Cc" or category in ("Zl", "Zp"):
        # tabs and newlines become spaces; escape (ESC) and every other control disappears
        return " " if ch in "\t\n\r\v\f\u2028\u2029" else ""
    if category in ("Cs", "Co", "Cn"):  # lone surrogates, private use, unassigned
        return "\ufffd"
    return ch


def plain(text: str, limit: int = COMMENT_LIMIT) -> str:
    """One line of printable text, at most ``limit`` characters (an ellipsis marks a cut)."""
    if limit < 1:
        raise ValueError("limit must be >= 1")
    # Cut first (with room to spare for what is removed) so a huge comment costs little.
    cleaned = "".join(_shown(ch) for ch in _ESCAPES.sub("", text[: limit * 4]))
    cleaned = _SPACES.sub(" ", cleaned).strip()
    if len(cleaned) > limit or len(text) > limit * 4:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def for_markdown(text: str, limit: int = COMMENT_LIMIT) -> str:
    """:func:`plain`, with every character Markdown would read escaped, and HTML's three as
    entities (a backslash before ``<`` is not honoured by every Markdown renderer)."""
    text = html.escape(plain(text, limit), quote=False)
    return _MARKDOWN.sub(r"\\\1", text)


def for_html(text: str, limit: int = COMMENT_LIMIT) -> str:
    """:func:`plain`, HTML-escaped (quotes too, so it is safe inside an attribute)."""
    return html.escape(plain(text, limit), quote=True)
