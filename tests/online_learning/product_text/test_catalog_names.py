"""Every name of the Instacart catalog through every parser: honest rates, and printed (-s)."""

from __future__ import annotations

from collections import Counter

from online_learning.product_text import (
    CANONICAL_UNITS,
    derive_tags,
    flavor_tokens,
    guess_brand,
    parse_size,
    tokenize,
)
from tests.online_learning.product_text.conftest import catalog_vocabulary, instacart


def test_every_catalog_name_parses_at_honest_rates() -> None:
    rows = instacart()
    vocabulary = catalog_vocabulary()
    sizes = tags = brands = 0
    alcohol_dept = alcohol_dept_tagged = 0
    outside = outside_tagged = 0
    units: Counter[str] = Counter()
    for name, aisle, department in rows:
        size = parse_size(name)
        if size is not None:
            sizes += 1
            units[size[1]] += 1
            assert size[1] in CANONICAL_UNITS and size[0] > 0, name
        found = derive_tags(name, aisle, department)
        tags += bool(found)
        brand = guess_brand(name, vocabulary)
        brands += brand is not None
        tokenize(name)
        flavor_tokens(name, brand)
        if department == "alcohol":
            alcohol_dept += 1
            alcohol_dept_tagged += "alcohol" in found
            # Every item there is either alcoholic or says it is not.
            assert found & {"alcohol", "non_alcoholic"}, name
        else:
            outside += 1
            outside_tagged += "alcohol" in found
        # The preserved dietary tags come from explicit words only.
        lowered = name.lower()
        if "gluten_free" in found:
            assert "gluten" in lowered, name
        if "vegan" in found:
            assert "vegan" in lowered, name
        if "kosher" in found:
            assert aisle == "kosher foods" or "dill" not in lowered, name
        if "dairy_free" in found:
            assert "dairy" in lowered or "vegan" in lowered or "milk free" in lowered, name

    n = len(rows)
    print(
        f"\n{n} names: size {sizes / n:.1%} {dict(units.most_common())}; any tag {tags / n:.1%}; "
        f"brand {brands / n:.1%}; alcohol tag in alcohol dept "
        f"{alcohol_dept_tagged / alcohol_dept:.1%} of {alcohol_dept}, elsewhere "
        f"{outside_tagged / outside:.3%} ({outside_tagged} of {outside})"
    )
    assert n > 49_000
    # Instacart names rarely state a size: about 1.7% do.
    assert 0.015 <= sizes / n <= 0.03
    # The few untagged alcohol-department items are labelled non-alcoholic (checked above).
    assert alcohol_dept_tagged / alcohol_dept >= 0.98
    # Outside the department, ~33 names are real wines and spirits filed under "other" or
    # "missing"; flavours ("Vodka Sauce", "Wine Vinegar") must not add to them.
    assert outside_tagged / outside <= 0.001
    assert 0.10 <= brands / n <= 0.20
