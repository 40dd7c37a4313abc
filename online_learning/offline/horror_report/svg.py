"""Small inline SVG charts for the HTML report: no plotting library, no files beside it.

Every label is HTML-escaped here, so callers may pass untrusted words (a comment theme's
terms).

>>> svg = bar_chart([("lost tag", 12, 5), ("size jump", 3, 0)])
>>> svg.startswith("<svg") and "lost tag" in svg and svg.count("<rect") == 6
True
"""

from __future__ import annotations

import html
from collections.abc import Sequence

__all__ = ["bar_chart", "histogram"]

BAR_HEIGHT = 18
LABEL_WIDTH = 260
BAR_WIDTH = 360
REFUND = "#c0392b"
REJECT = "#e6a23c"


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="12"'
        f' font-family="sans-serif">{html.escape(text, quote=True)}</text>'
    )


def bar_chart(rows: Sequence[tuple[str, int, int]], title: str = "") -> str:
    """Horizontal bars, one per ``(label, count, refunds)``: refunds drawn dark, the rest of
    the count (rejections) light."""
    top = max((count for _, count, _ in rows), default=0) or 1
    height = BAR_HEIGHT * len(rows) + 30
    width = LABEL_WIDTH + BAR_WIDTH + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' role="img" aria-label="{html.escape(title, quote=True)}">'
    ]
    for i, (label, count, refunds) in enumerate(rows):
        y = 4 + i * BAR_HEIGHT
        whole = BAR_WIDTH * count / top
        dark = BAR_WIDTH * min(refunds, count) / top
        shown = label if len(label) <= 40 else label[:39] + "…"
        parts.append(_text(LABEL_WIDTH - 6, y + 13, shown, anchor="end"))
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{whole:.1f}" height="{BAR_HEIGHT - 4}"'
            f' fill="{REJECT}"/>'
        )
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y + 2}" width="{dark:.1f}" height="{BAR_HEIGHT - 4}"'
            f' fill="{REFUND}"/>'
        )
        parts.append(_text(LABEL_WIDTH + whole + 4, y + 13, f"{count:,}"))
    legend_y = height - 8
    parts.append(
        f'<rect x="{LABEL_WIDTH}" y="{legend_y - 9}" width="10" height="10" fill="{REFUND}"/>'
    )
    parts.append(_text(LABEL_WIDTH + 14, legend_y, "refunded"))
    parts.append(
        f'<rect x="{LABEL_WIDTH + 90}" y="{legend_y - 9}" width="10" height="10" fill="{REJECT}"/>'
    )
    parts.append(_text(LABEL_WIDTH + 104, legend_y, "rejected"))
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: Sequence[float], bins: int = 10, title: str = "") -> str:
    """Column chart of ``values`` in [0, 1] over ``bins`` equal bins (p_accept)."""
    counts = [0] * bins
    for v in values:
        counts[min(max(int(v * bins), 0), bins - 1)] += 1
    top = max(counts) or 1
    col, plot_h, pad = 36, 120, 18  # pad: room above the tallest bar for its count
    width, height = col * bins + 20, plot_h + pad + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' role="img" aria-label="{html.escape(title, quote=True)}">'
    ]
    for i, n in enumerate(counts):
        h = plot_h * n / top
        x = 10 + i * col
        parts.append(
            f'<rect x="{x + 2}" y="{pad + plot_h - h:.1f}" width="{col - 4}" height="{h:.1f}"'
            f' fill="{REJECT}"/>'
        )
        if n:
            parts.append(_text(x + col / 2, pad - 3 + plot_h - h, f"{n:,}", anchor="middle"))
        parts.append(_text(x + col / 2, pad + plot_h + 16, f"{i / bins:.1f}", anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)
