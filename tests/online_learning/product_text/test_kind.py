"""What a product is, as words: the name without its brand and its size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from online_learning.product_text import flavor_tokens, guess_brand


def test_flavor_tokens_drop_brand_and_size() -> None:
    name = "Ben & Jerry's Half Baked Ice Cream 16 oz"
    assert flavor_tokens(name, guess_brand(name)) == ["half", "baked", "ice", "cream"]
    assert flavor_tokens("Caffeine Free Diet 8pk12oz", None) == ["caffeine", "free", "diet"]
    assert flavor_tokens("Lager Beer 12 ct", "heineken") == ["lager", "beer"]


@given(st.text())
def test_guess_brand_and_flavor_tokens_never_raise(text: str) -> None:
    brand = guess_brand(text)
    assert brand is None or (brand == brand.strip() and brand)
    flavor_tokens(text, brand)
