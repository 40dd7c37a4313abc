"""Item popularity as an input: order-line counts per item id, read from a grocer's own file.

The model's ``popularity`` feature is the log order count of a candidate, scaled to [0, 1]
over the catalog. The counts are an input to the engine, never looked up by it: a grocer passes
its own (``fillrate worker --popularity FILE``), the demo and the evaluation pass the counts of
the real Instacart order lines of their example world. Without counts every item scores 0.
"""

from __future__ import annotations

import csv
from pathlib import Path

import orjson

__all__ = ["PopularityError", "read_popularity", "write_popularity"]


class PopularityError(ValueError):
    """A popularity file that cannot be read as item id -> count."""


def read_popularity(path: str | Path) -> dict[str, int]:
    """Counts per item id from a JSON object (``{"item_id": count}``) or a CSV with a header
    ``item_id,count``.

    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "p.csv")
    >>> _ = open(f, "w").write("item_id,count\\nA1,3\\nB2,0\\n")
    >>> read_popularity(f)
    {'A1': 3, 'B2': 0}
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PopularityError(f"cannot read popularity file {path}: {exc.strerror}") from exc
    if raw.lstrip()[:1] == b"{":
        try:
            pairs = orjson.loads(raw).items()
        except orjson.JSONDecodeError as exc:
            raise PopularityError(f"popularity file {path} is not valid JSON: {exc}") from exc
    else:
        rows = csv.reader(raw.decode("utf-8", "replace").splitlines())
        header = next(rows, [])
        if [h.strip() for h in header[:2]] != ["item_id", "count"]:
            raise PopularityError(f"popularity file {path}: the CSV header must be item_id,count")
        pairs = ((row[0], row[1]) for row in rows if row)
    counts: dict[str, int] = {}
    for item_id, count in pairs:
        try:
            value = int(count)
        except (TypeError, ValueError):
            raise PopularityError(
                f"popularity file {path}: count of {str(item_id)[:80]!r} is not an integer"
            ) from None
        if value < 0:
            raise PopularityError(f"popularity file {path}: negative count for {item_id!r}")
        counts[str(item_id)] = value
    return counts


def write_popularity(counts: dict[str, int], path: str | Path) -> Path:
    """Write counts as the JSON object :func:`read_popularity` reads."""
    path = Path(path)
    path.write_bytes(orjson.dumps(counts))
    return path
