"""What a product name says about the product: tokens, package size, tags and brand.

Many catalogs (the Instacart one of the demo among them) carry names only, so the
substitution rules and features read size, brand and tags out of text such as
``"Organic 2% Reduced Fat Milk"`` or ``"Kenwood Cabernet Sauvignon Sonoma Valley 750 Ml"``.
Everything here is a pure function of strings (stdlib only), except the brand vocabulary,
which learns from the names a catalog holds, and is cheap enough to run once per catalog
item: sizes, tags and brands of the 50k Instacart names take about a second together.

One module per question, each with the choices worth knowing before relying on its output:

- :mod:`~online_learning.product_text.tokens`: folding (case, accents, HTML entities), word
  tokens, and how department and aisle names compare;
- :mod:`~online_learning.product_text.sizes`: the package size, and sizes in base units;
- :mod:`~online_learning.product_text.tags`: dietary, fat-level, alcohol and infant-formula
  tags, the tag vocabularies (:data:`DIETARY_TAGS`, :data:`FAT_LEVELS`) and how a producer's
  tag is spelt for the rules (:func:`normalize_tag`);
- :mod:`~online_learning.product_text.brands`: the leading brand, and which first words are
  descriptors rather than brands (:class:`BrandVocabulary`, learned from the catalog);
- :mod:`~online_learning.product_text.kind`: what the product *is* (the name without brand
  and size).
"""

from online_learning.product_text.brands import (
    GENERIC_FIRST_WORDS,
    BrandVocabulary,
    brand_guess_words,
    brand_vocabulary,
    guess_brand,
)
from online_learning.product_text.kind import JOINING_WORDS, flavor_tokens
from online_learning.product_text.sizes import CANONICAL_UNITS, base_size, parse_size, to_base_units
from online_learning.product_text.tags import (
    CONTRADICTING_TAGS,
    DIETARY_TAGS,
    FAT_LEVELS,
    derive_tags,
    implied_tags,
    normalize_tag,
)
from online_learning.product_text.tokens import label_key, tokenize

__all__ = [
    "CANONICAL_UNITS",
    "CONTRADICTING_TAGS",
    "DIETARY_TAGS",
    "FAT_LEVELS",
    "GENERIC_FIRST_WORDS",
    "JOINING_WORDS",
    "BrandVocabulary",
    "base_size",
    "brand_guess_words",
    "brand_vocabulary",
    "derive_tags",
    "flavor_tokens",
    "guess_brand",
    "implied_tags",
    "label_key",
    "normalize_tag",
    "parse_size",
    "to_base_units",
    "tokenize",
]
