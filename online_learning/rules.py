"""Hard substitution rules, read from a declarative TOML file and applied before any learning.

A rule answers "may this candidate replace that item at all?" with ``None`` (yes) or a short
reason (no). Rules are vectorised over an aisle's candidates for ranking (:meth:`HardRules.mask`)
and available one pair at a time for audits and tests (:meth:`HardRules.violation`); both paths
share the same parameters, and a test holds them to the same answers.
"""

from __future__ import annotations

import importlib.resources
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from online_learning.contract import Product
from online_learning.product_text import DIETARY_TAGS, base_size

__all__ = ["DEFAULT_RULES_PATH", "HardRules", "RulesError", "load_rules"]

DEFAULT_RULES_PATH = "online_learning/data/default_rules.toml"


class RulesError(ValueError):
    """The rules file is unreadable or says something we cannot apply."""


@dataclass(frozen=True, slots=True)
class HardRules:
    """Parameters of the hard rules; build with :func:`load_rules`.

    >>> rules = HardRules()
    >>> milk = Product("1", "Whole Milk", "milk", "dairy eggs", price=3.0, tags=frozenset())
    >>> beer = Product("2", "Lager", "milk", "dairy eggs", price=3.0, tags=frozenset({"alcohol"}))
    >>> rules.violation(milk, beer)
    'alcohol mismatch'
    >>> rules.violation(milk, milk)
    'same item'
    >>> rules.violation(milk, Product("3", "Skim Milk", "milk", "dairy eggs", price=2.5)) is None
    True
    """

    preserve_tags: frozenset[str] = DIETARY_TAGS
    match_tags: frozenset[str] = frozenset({"alcohol"})
    max_size_ratio: float = 2.5
    max_price_ratio: float = 1.6
    never_aisles: frozenset[str] = frozenset()
    never_departments: frozenset[str] = frozenset()
    never_items: frozenset[str] = frozenset()
    scope: str = "aisle"
    source: str = field(default="<defaults>", compare=False)

    def no_substitution_reason(self, requested: Product) -> str | None:
        """Why ``requested`` may not be substituted at all, or None."""
        if requested.item_id in self.never_items:
            return f"rule: item {requested.item_id} is never substituted"
        if requested.aisle in self.never_aisles:
            return f"rule: aisle '{requested.aisle}' is never substituted"
        if requested.department in self.never_departments:
            return f"rule: department '{requested.department}' is never substituted"
        return None

    def violation(self, requested: Product, candidate: Product) -> str | None:
        """The first hard rule ``candidate`` breaks as a replacement for ``requested``, or None."""
        if candidate.item_id == requested.item_id:
            return "same item"
        missing = (requested.tags & self.preserve_tags) - candidate.tags
        if missing:
            return f"loses {', '.join(sorted(missing))}"
        for tag in sorted(self.match_tags):
            if (tag in requested.tags) != (tag in candidate.tags):
                return f"{tag} mismatch"
        req_size = base_size(requested.size, requested.unit)
        cand_size = base_size(candidate.size, candidate.unit)
        if req_size is not None and cand_size is not None and req_size[1] == cand_size[1]:
            ratio = cand_size[0] / req_size[0]
            if ratio > self.max_size_ratio or ratio * self.max_size_ratio < 1.0:
                limit = f"{self.max_size_ratio:g}"
                return f"size ratio {ratio:.2f} outside 1/{limit}..{limit}"
        if requested.price and candidate.price and requested.price > 0:
            ratio = candidate.price / requested.price
            if ratio > self.max_price_ratio:
                return f"price ratio {ratio:.2f} over {self.max_price_ratio:g}"
        return None


# Defaults come from an instance: with slots=True, a field read on the class (for example
# ``HardRules.max_size_ratio``) is a slot descriptor, not the default value.
_DEFAULTS = HardRules()


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise RulesError(f"[{name}] must be a table")
    return value


def _str_set(table: dict[str, Any], key: str, where: str) -> frozenset[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"[{where}] {key} must be a list of strings")
    return frozenset(value)


def _ratio(table: dict[str, Any], where: str, default: float) -> float:
    value = table.get("max_ratio", default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesError(f"[{where}] max_ratio must be a number")
    if not math.isfinite(value) or value < 1.0:
        raise RulesError(f"[{where}] max_ratio must be a finite number >= 1, got {value}")
    return float(value)


def parse_rules(text: str, source: str = "<string>") -> HardRules:
    """Rules from TOML text; unknown tables are refused so a typo is not silently ignored.

    >>> parse_rules('[price]\\nmax_ratio = 1.2').max_price_ratio
    1.2
    >>> parse_rules('[prices]\\nmax_ratio = 1.2')
    Traceback (most recent call last):
    ...
    online_learning.rules.RulesError: <string>: unknown table(s) prices
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML: {exc}") from None
    known = {"preserve_tags", "match_tags", "size", "price", "never_substitute", "candidates"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise RulesError(f"{source}: unknown table(s) {', '.join(unknown)}")
    try:
        never = _table(doc, "never_substitute")
        scope = _table(doc, "candidates").get("scope", "aisle")
        if scope not in ("aisle", "department"):
            raise RulesError(f"[candidates] scope must be 'aisle' or 'department', got {scope!r}")
        return HardRules(
            preserve_tags=_str_set(_table(doc, "preserve_tags"), "tags", "preserve_tags")
            if "preserve_tags" in doc
            else _DEFAULTS.preserve_tags,
            match_tags=_str_set(_table(doc, "match_tags"), "tags", "match_tags")
            if "match_tags" in doc
            else _DEFAULTS.match_tags,
            max_size_ratio=_ratio(_table(doc, "size"), "size", _DEFAULTS.max_size_ratio),
            max_price_ratio=_ratio(_table(doc, "price"), "price", _DEFAULTS.max_price_ratio),
            never_aisles=_str_set(never, "aisles", "never_substitute"),
            never_departments=_str_set(never, "departments", "never_substitute"),
            never_items=_str_set(never, "item_ids", "never_substitute"),
            scope=scope,
            source=source,
        )
    except RulesError as exc:
        raise RulesError(f"{source}: {exc}") from None


def load_rules(path: str | Path | None = None) -> HardRules:
    """Rules from a TOML file; None reads the packaged defaults."""
    if path is None:
        resource = importlib.resources.files("online_learning") / "data" / "default_rules.toml"
        return parse_rules(resource.read_text(encoding="utf-8"), source="default_rules.toml")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read rules file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"cannot read rules file {path}: not UTF-8 ({exc.reason})") from None
    return parse_rules(text, source=str(path))
