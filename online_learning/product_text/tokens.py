"""Folding a product name to plain lower-case text, and its word tokens.

Every other reader of names (sizes, tags, brands) starts from :func:`fold`, so "Crème",
"CRÈME" and "Cr&#232;me" read alike everywhere.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["APOSTROPHES", "fold", "label_key", "tokenize"]

# Vulgar fractions would decompose to "1⁄2" glued to a preceding digit ("1½" -> "11⁄2").
_VULGAR = str.maketrans({"½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3"})
APOSTROPHES = re.compile(r"['’‘`´]")
_TOKEN = re.compile(r"\d+(?:[./]\d+)+%?|[^\W_]+%?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def fold(text: str) -> str:
    """Lower-case, accents and compatibility forms removed ("Crème" -> "creme", "ﬁ" -> "fi")."""
    if "&" in text and ";" in text:  # HTML entities in scraped names: "L&#39;Oreal"
        text = html.unescape(text)
    if text.isascii():
        return text.lower()
    text = text.translate(_VULGAR)
    # casefold can create new decomposable characters, so decompose on both sides of it.
    text = unicodedata.normalize("NFKD", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def label_key(label: str) -> str:
    """How department and aisle names compare: folded, single spaces, no outer spaces.

    A rules file that says "Laits végétaux" then matches a feed that says "LAITS  VEGETAUX".

    >>> label_key("  Laits  Végétaux "), label_key("beers coolers")
    ('laits vegetaux', 'beers coolers')
    """
    return " ".join(fold(label).split())


def tokenize(name: str) -> list[str]:
    """Lower-case word tokens of a product name.

    Punctuation goes, ``&`` becomes ``and``, apostrophes are dropped inside words
    ("Jerry's" -> ``jerrys``), accents are folded, and numbers keep their decimal point,
    fraction slash and percent sign, because "2%" and "1/2" carry meaning in grocery names.

    >>> tokenize("Ben & Jerry's Half-Baked Ice Cream 16 oz")
    ['ben', 'and', 'jerrys', 'half', 'baked', 'ice', 'cream', '16', 'oz']
    >>> tokenize("Organic 2% Reduced Fat Milk, 1/2 Gallon")
    ['organic', '2%', 'reduced', 'fat', 'milk', '1/2', 'gallon']
    >>> tokenize("Crème Fraîche 1,000 g")
    ['creme', 'fraiche', '1000', 'g']
    """
    text = APOSTROPHES.sub("", fold(name)).replace("&", " and ")
    return _TOKEN.findall(_THOUSANDS.sub("", text))
