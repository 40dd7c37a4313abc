"""The catalog the simulator tests share: the first 3,000 Instacart products, by aisle."""

from __future__ import annotations

from collections import defaultdict

import pytest

from online_learning.contract import Product
from online_learning.offline.instacart import load_instacart_products

CATALOG_LIMIT = 3000


@pytest.fixture(scope="session")
def products() -> list[Product]:
    return load_instacart_products(CATALOG_LIMIT)


@pytest.fixture(scope="session")
def aisles(products: list[Product]) -> dict[str, list[str]]:
    by_aisle: dict[str, list[str]] = defaultdict(list)
    for product in products:
        by_aisle[product.aisle].append(product.item_id)
    return by_aisle
