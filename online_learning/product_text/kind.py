"""What a product *is*, as words: its name without the leading brand and the size.

Both the features (``kind_jaccard``) and the simulated customers compare products by these
words, each less its own stop words (see :data:`JOINING_WORDS`).
"""

from __future__ import annotations

from online_learning.product_text.sizes import remove_sizes
from online_learning.product_text.tokens import fold, tokenize

__all__ = ["JOINING_WORDS", "flavor_tokens"]

# Words that join a name's parts without saying what the product is ("Milk *with* Honey").
JOINING_WORDS: frozenset[str] = frozenset({"and", "with", "of", "the", "in", "a", "for"})


def flavor_tokens(name: str, brand: str | None, size_span_removed: bool = True) -> list[str]:
    """Tokens of what the product *is*: the name without its leading brand and its size.

    >>> flavor_tokens("Ben & Jerry's Half Baked Ice Cream 16 oz", "ben & jerry's")
    ['half', 'baked', 'ice', 'cream']
    >>> flavor_tokens("Ultra Downy® April Fresh Fabric Softener 51 fl oz", "downy")
    ['ultra', 'april', 'fresh', 'fabric', 'softener']
    >>> flavor_tokens("Lager Beer 12 ct", None, size_span_removed=False)
    ['lager', 'beer', '12', 'ct']
    """
    folded = fold(name)
    if size_span_removed:
        folded = remove_sizes(folded)
    tokens = tokenize(folded)
    if brand:
        # The brand leads the name, or follows a descriptor or two ("Ultra Downy® ...").
        drop = tokenize(brand)
        for start in range(min(4, len(tokens))):
            if drop and tokens[start : start + len(drop)] == drop:
                return tokens[:start] + tokens[start + len(drop) :]
    return tokens
