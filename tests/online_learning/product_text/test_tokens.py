"""Word tokens of product names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.product_text import tokenize


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Half & Half Ultra Pasteurized", ["half", "and", "half", "ultra", "pasteurized"]),
        ("100% Whole Wheat Bread", ["100%", "whole", "wheat", "bread"]),
        ("Gluten-Free Vanilla Almond Breeze", ["gluten", "free", "vanilla", "almond", "breeze"]),
        ("Lit'l Wieners", ["litl", "wieners"]),
        ("Jalapeño Heat Potato Chips", ["jalapeno", "heat", "potato", "chips"]),
        ("Sparkling Water 1.5 L", ["sparkling", "water", "1.5", "l"]),
    ],
)
def test_tokenize(name: str, expected: list[str]) -> None:
    assert tokenize(name) == expected


@given(st.text())
def test_tokenize_is_idempotent_on_its_own_output(text: str) -> None:
    tokens = tokenize(text)
    assert tokenize(" ".join(tokens)) == tokens
