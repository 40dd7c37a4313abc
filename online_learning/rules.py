"""Hard substitution rules, read from a declarative TOML file and applied before any learning.

A rule answers "may this candidate replace that item at all?" with ``None`` (yes) or a short
reason (no). Rules are vectorised over an aisle's candidates for ranking
(``aisle_matrix.AisleMatrix.rule_mask``) and available one pair at a time for audits and tests
(:meth:`HardRules.violation`); both paths share the same parameters, and a test holds them to
the same answers.

The rules speak in tags (``gluten_free``, ``alcohol``, ``infant_formula``), which the catalog
reads from names, takes from the producer, or gives every item of a department or aisle the
rules file maps to a tag (``[taxonomy_tags]``), so one rules file suits any grocer's taxonomy.
Tags and department and aisle names compare as :func:`~online_learning.product_text.normalize_tag`
and :func:`~online_learning.product_text.label_key` spell them: "Gluten-Free" is
``gluten_free``, "Laits Végétaux" matches "laits vegetaux".
"""

from __future__ import annotations

import importlib.resources
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from online_learning.contract import Product
from online_learning.product_text import DIETARY_TAGS, base_size, label_key, normalize_tag

__all__ = ["DEFAULT_RULES_PATH", "HardRules", "RulesError", "load_rules"]

DEFAULT_RULES_PATH = "online_learning/data/default_rules.toml"


class RulesError(ValueError):
    """The rules file is unreadable or says something we cannot apply."""


def _tags(tags: frozenset[str]) -> frozenset[str]:
    return frozenset(normalize_tag(tag) for tag in tags)


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
    >>> formula = Product("4", "Formula", "Bébé", "Laits", tags=frozenset({"infant_formula"}))
    >>> rules.no_substitution_reason(formula)
    'rule: items tagged infant_formula are never substituted'

    Tags and department and aisle names are stored as the rules compare them, however they
    were given (``HardRules(never_aisles=frozenset({"Laits Infantiles"}))`` holds
    ``"laits infantiles"``). ``taxonomy_tags`` pairs a department or aisle name with a tag
    every item filed there gets (the catalog applies it: :meth:`tags_by_taxonomy`).
    """

    preserve_tags: frozenset[str] = DIETARY_TAGS
    match_tags: frozenset[str] = frozenset({"alcohol"})
    max_size_ratio: float = 2.5
    max_price_ratio: float = 1.6
    never_tags: frozenset[str] = frozenset({"infant_formula"})
    never_aisles: frozenset[str] = frozenset()
    never_departments: frozenset[str] = frozenset()
    never_items: frozenset[str] = frozenset()
    taxonomy_tags: frozenset[tuple[str, str]] = frozenset()  # (department or aisle, tag)
    scope: str = "aisle"
    source: str = field(default="<defaults>", compare=False)

    def __post_init__(self) -> None:
        # A frozen dataclass sets its canonical spellings once, here.
        for name in ("preserve_tags", "match_tags", "never_tags"):
            object.__setattr__(self, name, _tags(getattr(self, name)))
        for name in ("never_aisles", "never_departments"):
            object.__setattr__(self, name, frozenset(map(label_key, getattr(self, name))))
        pairs = frozenset(
            (label_key(where), normalize_tag(tag)) for where, tag in self.taxonomy_tags
        )
        object.__setattr__(self, "taxonomy_tags", pairs)

    def tags_by_taxonomy(self) -> dict[str, frozenset[str]]:
        """Department or aisle name (as ``label_key`` spells it) -> the tags it gives."""
        out: dict[str, set[str]] = {}
        for where, tag in self.taxonomy_tags:
            out.setdefault(where, set()).add(tag)
        return {where: frozenset(tags) for where, tags in out.items()}

    def no_substitution_reason(self, requested: Product) -> str | None:
        """Why ``requested`` may not be substituted at all, or None."""
        if requested.item_id in self.never_items:
            return f"rule: item {requested.item_id} is never substituted"
        never = requested.tags & self.never_tags
        if never:
            return f"rule: items tagged {', '.join(sorted(never))} are never substituted"
        if self.never_aisles and label_key(requested.aisle) in self.never_aisles:
            return f"rule: aisle '{requested.aisle}' is never substituted"
        if self.never_departments and label_key(requested.department) in self.never_departments:
            return f"rule: department '{requested.department}' is never substituted"
        return None

    def violation(self, requested: Product, candidate: Product) -> str | None:
        """The first hard rule ``candidate`` breaks as a replacement for ``requested``, or None."""
        if candidate.item_id == requested.item_id:
            return "same item"
        # an item that is never replaced is never a replacement either (infant formula for
        # baby puree would be a horror, whatever the model's odds)
        offered = candidate.tags & self.never_tags
        if offered:
            return f"{', '.join(sorted(offered))} is never offered"
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


def _str_list(table: dict[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"[{where}] {key} must be a list of strings")
    return value


def _str_set(table: dict[str, Any], key: str, where: str) -> frozenset[str]:
    return frozenset(_str_list(table, key, where))


def _tag_set(table: dict[str, Any], key: str, where: str) -> frozenset[str]:
    values = _str_list(table, key, where)
    tags = frozenset(map(normalize_tag, values))
    if "" in tags:
        raise RulesError(f"[{where}] {key}: {values!r} holds a name that is no tag")
    return tags


def _taxonomy_tags(table: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """``tag = ["department or aisle", ...]`` lines, as (name, tag) pairs."""
    pairs: set[tuple[str, str]] = set()
    for tag in table:
        if not normalize_tag(tag):
            raise RulesError(f"[taxonomy_tags] {tag!r} is no tag")
        pairs.update((where, tag) for where in _str_list(table, tag, "taxonomy_tags"))
    return frozenset(pairs)


# The keys each table takes (None: any key, each naming a tag); anything else is refused, so a
# misspelt key does not silently leave a rule at its default.
_KEYS: dict[str, frozenset[str] | None] = {
    "preserve_tags": frozenset({"tags"}),
    "match_tags": frozenset({"tags"}),
    "size": frozenset({"max_ratio"}),
    "price": frozenset({"max_ratio"}),
    "never_substitute": frozenset({"tags", "aisles", "departments", "item_ids"}),
    "taxonomy_tags": None,
    "candidates": frozenset({"scope"}),
}


def _check_keys(doc: dict[str, Any]) -> None:
    for name, allowed in _KEYS.items():
        if allowed is None or name not in doc:
            continue
        unknown = sorted(set(_table(doc, name)) - allowed)
        if unknown:
            raise RulesError(
                f"[{name}] unknown key(s) {', '.join(unknown)}"
                f" (known: {', '.join(sorted(allowed))})"
            )


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
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise RulesError(f"{source}: unknown table(s) {', '.join(unknown)}")
    try:
        _check_keys(doc)
        never = _table(doc, "never_substitute")
        scope = _table(doc, "candidates").get("scope", "aisle")
        if scope not in ("aisle", "department"):
            raise RulesError(f"[candidates] scope must be 'aisle' or 'department', got {scope!r}")
        return HardRules(
            preserve_tags=_tag_set(_table(doc, "preserve_tags"), "tags", "preserve_tags")
            if "preserve_tags" in doc
            else _DEFAULTS.preserve_tags,
            match_tags=_tag_set(_table(doc, "match_tags"), "tags", "match_tags")
            if "match_tags" in doc
            else _DEFAULTS.match_tags,
            max_size_ratio=_ratio(_table(doc, "size"), "size", _DEFAULTS.max_size_ratio),
            max_price_ratio=_ratio(_table(doc, "price"), "price", _DEFAULTS.max_price_ratio),
            never_tags=_tag_set(never, "tags", "never_substitute")
            if "tags" in never
            else _DEFAULTS.never_tags,
            never_aisles=_str_set(never, "aisles", "never_substitute"),
            never_departments=_str_set(never, "departments", "never_substitute"),
            never_items=_str_set(never, "item_ids", "never_substitute"),
            taxonomy_tags=_taxonomy_tags(_table(doc, "taxonomy_tags")),
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
