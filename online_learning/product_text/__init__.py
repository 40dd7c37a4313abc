"""What a product name says about the product: tokens, package size, dietary tags and brand.

The Instacart catalog (and many producers on ``catalog.items``) carries names only, so the
substitution rules and features read size, brand and tags out of text such as
``"Organic 2% Reduced Fat Milk"`` or ``"Kenwood Cabernet Sauvignon Sonoma Valley 750 Ml"``.
Everything here is a pure function of strings (stdlib only) and cheap enough to run once per
catalog item at start-up: sizes, tags and brands of the 50k Instacart names take about a
second together.

One module per question, each with the choices worth knowing before relying on its output:

- :mod:`~online_learning.product_text.tokens`: folding (case, accents, HTML entities) and
  word tokens;
- :mod:`~online_learning.product_text.sizes`: the package size, and sizes in base units;
- :mod:`~online_learning.product_text.tags`: dietary, fat-level and alcohol tags, and the
  tag vocabularies (:data:`DIETARY_TAGS`, :data:`FAT_LEVELS`);
- :mod:`~online_learning.product_text.brands`: the leading brand, and which first words are
  descriptors rather than brands;
- :mod:`~online_learning.product_text.kind`: what the product *is* (the name without brand
  and size).
"""

from online_learning.product_text.brands import GENERIC_FIRST_WORDS, brand_vocabulary, guess_brand
from online_learning.product_text.kind import JOINING_WORDS, flavor_tokens
from online_learning.product_text.sizes import CANONICAL_UNITS, base_size, parse_size, to_base_units
from online_learning.product_text.tags import DIETARY_TAGS, FAT_LEVELS, derive_tags
from online_learning.product_text.tokens import tokenize

__all__ = [
    "CANONICAL_UNITS",
    "DIETARY_TAGS",
    "FAT_LEVELS",
    "GENERIC_FIRST_WORDS",
    "JOINING_WORDS",
    "base_size",
    "brand_vocabulary",
    "derive_tags",
    "flavor_tokens",
    "guess_brand",
    "parse_size",
    "to_base_units",
    "tokenize",
]
