"""A small world for the report's tests: a catalog with gluten-free breads, and verdicts."""

from __future__ import annotations

import pytest

from online_learning.contract import Feedback, Product
from online_learning.offline.horror_report import Offer, PairThemes, Verdict

__all__ = ["verdict"]

PRODUCTS = [
    Product("gf-white", "Acme Gluten Free White Bread", "bread", "bakery", price=4.0, brand="Acme"),
    Product("white", "Acme White Bread", "bread", "bakery", price=3.9, brand="Acme"),
    Product("gf-rye", "Acme Gluten Free Rye Bread", "bread", "bakery", price=4.2, brand="Acme"),
    Product("rye", "Acme Rye Bread", "bread", "bakery", price=4.0, brand="Acme"),
    Product("milk-gal", "Dairyco Whole Milk", "milk", "dairy", 3.0, 1.0, "gal", "Dairyco"),
    Product("milk-qt", "Dairyco Whole Milk", "milk", "dairy", 1.4, 1.0, "qt", "Dairyco"),
    Product("milk-half", "Dairyco Whole Milk", "milk", "dairy", 1.9, 0.5, "gal", "Dairyco"),
]


@pytest.fixture
def pairs() -> PairThemes:
    return PairThemes(PRODUCTS)


def verdict(
    item: str,
    substitute: str,
    outcome: str,
    p_accept: float | None,
    comment: str | None = None,
    reasons: tuple[str, ...] = (),
    *,
    customer: str | None = None,
    ts: float = 1.0,
    event_id: str | None = None,
) -> Verdict:
    fb = Feedback(
        event_id or f"{item}-{substitute}-{ts}-{outcome}",
        "s1",
        item,
        substitute,
        outcome,
        ts,
        customer_id=customer,
    )
    offer = None if p_accept is None else Offer(p_accept, 0, "ranking", ts - 1)
    return Verdict(fb, offer, comment, reasons)
