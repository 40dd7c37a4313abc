"""Hard substitution rules: the rules file, its errors, each rule, and the vectorised mask."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import online_learning
from online_learning.catalog import enrich
from online_learning.contract import Product
from online_learning.features import AisleMatrix, TagVocabulary
from online_learning.product_text import DIETARY_TAGS, label_key, normalize_tag
from online_learning.rules import HardRules, RulesError, load_rules, parse_rules

DEFAULT_FILE = Path(online_learning.__file__).parent / "data" / "default_rules.toml"


def product(
    item_id: str,
    *,
    price: float | None = 3.0,
    size: float | None = 1.0,
    unit: str | None = "l",
    tags: frozenset[str] | set[str] = frozenset(),
    aisle: str = "milk",
    department: str = "dairy eggs",
) -> Product:
    return Product(
        item_id, f"Item {item_id}", aisle, department, price, size, unit, None, frozenset(tags)
    )


# --- the rules file -------------------------------------------------------------------------------


def test_the_packaged_default_rules_load() -> None:
    rules = load_rules()
    assert rules.preserve_tags == {
        *("gluten_free", "vegan", "kosher", "halal", "dairy_free", "lactose_free", "sugar_free"),
        *("nut_free", "tree_nut_free", "peanut_free", "egg_free", "soy_free"),
    }
    assert rules.preserve_tags == DIETARY_TAGS == HardRules().preserve_tags  # one vocabulary
    assert rules.match_tags == {"alcohol"}
    assert rules.max_size_ratio == 2.5
    assert rules.max_price_ratio == 1.6
    # Written in tags, not in any grocer's aisle names: it suits every catalog.
    assert rules.never_tags == {"infant_formula"}
    assert rules.never_aisles == frozenset()
    assert rules.never_departments == frozenset()
    assert rules.taxonomy_tags == frozenset()
    assert rules.never_items == frozenset()
    assert rules.scope == "aisle"


def test_the_default_file_says_what_the_code_defaults_say() -> None:
    # Someone copying the file to edit it starts from the behaviour they already have.
    from_file = load_rules(DEFAULT_FILE)
    assert from_file == HardRules()
    assert from_file.source == str(DEFAULT_FILE)
    assert load_rules() == from_file


def test_a_partial_file_keeps_the_defaults_for_what_it_leaves_out() -> None:
    rules = parse_rules("[price]\nmax_ratio = 1.2\n")
    assert rules == HardRules(max_price_ratio=1.2)
    assert parse_rules("") == HardRules()
    assert parse_rules("[candidates]\nscope = 'department'\n").scope == "department"


def test_an_empty_tag_list_switches_a_tag_rule_off() -> None:
    rules = parse_rules("[preserve_tags]\ntags = []\n[match_tags]\ntags = []\n")
    beer = product("beer", tags={"alcohol"})
    gluten_free = product("gf", tags={"gluten_free"})
    assert rules.violation(gluten_free, beer) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[prices]\nmax_ratio = 1.2", "<string>: unknown table(s) prices"),
        ("[zzz]\n[aaa]\n", "<string>: unknown table(s) aaa, zzz"),
        ("[size]\nmax_ratio = 'big'", "<string>: [size] max_ratio must be a number"),
        ("[price]\nmax_ratio = true", "<string>: [price] max_ratio must be a number"),
        ("[price]\nmax_ratio = 0.5", "[price] max_ratio must be a finite number >= 1, got 0.5"),
        ("[size]\nmax_ratio = inf", "[size] max_ratio must be a finite number >= 1, got inf"),
        ("[size]\nmax_ratio = nan", "[size] max_ratio must be a finite number >= 1, got nan"),
        (
            "[candidates]\nscope = 'store'",
            "<string>: [candidates] scope must be 'aisle' or 'department', got 'store'",
        ),
        ("preserve_tags = ['vegan']", "<string>: [preserve_tags] must be a table"),
        ("[match_tags]\ntags = 'alcohol'", "[match_tags] tags must be a list of strings"),
        ("[never_substitute]\naisles = [1, 2]", "[never_substitute] aisles must be a list of"),
    ],
)
def test_parse_errors_name_the_source_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(text)
    assert message in str(info.value)
    assert str(info.value).startswith("<string>: ")


def test_invalid_toml_is_a_rules_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[price\nmax_ratio = 1.2\n")
    with pytest.raises(RulesError, match=rf"^{path}: not valid TOML: "):
        load_rules(path)


def test_a_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(RulesError, match=f"cannot read rules file {path}: No such file"):
        load_rules(path)


def test_a_directory_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path)


def test_a_file_that_is_not_utf8_is_a_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[never_substitute]\naisles = ['pâté']\n".encode("latin-1"))
    with pytest.raises(RulesError, match=f"cannot read rules file {path}: not UTF-8"):
        load_rules(str(path))


def test_rules_and_producers_may_spell_a_tag_as_they_like() -> None:
    rules = parse_rules(
        "[preserve_tags]\ntags = ['Gluten-Free', 'halal']\n"
        "[never_substitute]\ntags = ['Infant Formula']\n"
    )
    assert rules.preserve_tags == {"gluten_free", "halal"}
    assert rules.never_tags == {"infant_formula"}
    halal = product("h", tags={"halal"})
    assert rules.violation(halal, product("x")) == "loses halal"


def test_never_substitute_tags_give_an_empty_ranking_with_the_reason() -> None:
    rules = parse_rules("[never_substitute]\ntags = ['infant_formula', 'prescription']\n")
    formula = product("SKU-7F3A-0012", tags={"infant_formula"})
    assert (
        rules.no_substitution_reason(formula)
        == "rule: items tagged infant_formula are never substituted"
    )
    assert rules.no_substitution_reason(product("milk")) is None
    # An empty list switches the rule off; leaving the key out keeps the default.
    assert parse_rules("[never_substitute]\ntags = []\n").no_substitution_reason(formula) is None
    assert parse_rules("[never_substitute]\naisles = []\n").never_tags == {"infant_formula"}


def test_the_old_aisle_and_department_keys_still_work_in_any_case_or_accents() -> None:
    rules = parse_rules(
        "[never_substitute]\naisles = ['Laits infantiles 1er âge']\ndepartments = ['PHARMACIE']\n"
    )
    formula = product("f", aisle="LAITS INFANTILES 1ER AGE", department="Bébé")
    pill = product("p", aisle="Douleur", department="Pharmacie")
    assert (
        rules.no_substitution_reason(formula)
        == "rule: aisle 'LAITS INFANTILES 1ER AGE' is never substituted"
    )
    assert rules.no_substitution_reason(pill) == "rule: department 'Pharmacie' is never substituted"


def test_taxonomy_tags_name_departments_and_aisles_of_any_catalog() -> None:
    rules = parse_rules(
        "[taxonomy_tags]\n"
        "alcohol = ['Cave', 'Bières']\n"
        "Infant-Formula = ['Laits infantiles']\n"
        "halal = ['Boucherie halal', 'Bières']\n"
    )
    assert rules.tags_by_taxonomy() == {
        "cave": {"alcohol"},
        "bieres": {"alcohol", "halal"},
        "laits infantiles": {"infant_formula"},
        "boucherie halal": {"halal"},
    }
    assert parse_rules("").tags_by_taxonomy() == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[never_substitute]\ntag = ['x']", "[never_substitute] unknown key(s) tag (known: "),
        ("[price]\nmax = 1.2", "[price] unknown key(s) max (known: max_ratio)"),
        ("[candidates]\nscope = 'aisle'\npool = 1", "[candidates] unknown key(s) pool"),
        ("[never_substitute]\ntags = ['--']", "[never_substitute] tags: ['--'] holds a name"),
        ("[taxonomy_tags]\nalcohol = 'Cave'", "[taxonomy_tags] alcohol must be a list of strings"),
        ("[taxonomy_tags]\n'--' = ['Cave']", "[taxonomy_tags] '--' is no tag"),
        ("taxonomy_tags = 3", "[taxonomy_tags] must be a table"),
    ],
)
def test_a_misspelt_key_or_a_bad_tag_is_refused_not_ignored(text: str, message: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_rules(text)
    assert message in str(info.value)


# Rules files as an operator might write them: any table, any key, values of any TOML type.
_toml_values = st.one_of(
    st.lists(st.text(max_size=12), max_size=4),
    st.text(max_size=12),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_tables = st.sampled_from(
    [
        "preserve_tags",
        "match_tags",
        "size",
        "price",
        "never_substitute",
        "taxonomy_tags",
        "candidates",
        "other",
    ]
)
_keys = st.sampled_from(
    ["tags", "max_ratio", "aisles", "departments", "item_ids", "scope", "alcohol", "x y", "tag"]
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_tables, st.dictionaries(_keys, _toml_values, max_size=3), max_size=4))
def test_any_rules_file_parses_or_is_refused_with_a_rules_error(
    doc: dict[str, dict[str, object]],
) -> None:
    text = "".join(
        f"[{table}]\n" + "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in keys.items())
        for table, keys in doc.items()
    )
    try:
        rules = parse_rules(text)
    except RulesError as exc:
        assert str(exc).startswith("<string>: ")
        return
    # What parsed is in the spelling the rules compare in, and obeys the file.
    for tags in (rules.preserve_tags, rules.match_tags, rules.never_tags):
        assert all(tag and normalize_tag(tag) == tag for tag in tags)
    never = doc.get("never_substitute", {})
    if "tags" in never:
        assert rules.never_tags == {normalize_tag(t) for t in never["tags"]}  # type: ignore[attr-defined]
    for where, tag in rules.taxonomy_tags:
        assert label_key(where) == where and normalize_tag(tag) == tag


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text("abcdefghij", min_size=1, max_size=6), min_size=1, max_size=3),
    rule_sep=st.sampled_from(["_", "-", " "]),
    sent_sep=st.sampled_from(["_", "-", " "]),
    upper=st.booleans(),
)
def test_a_never_tag_matches_the_producers_tag_in_any_spelling(
    words: list[str], rule_sep: str, sent_sep: str, upper: bool
) -> None:
    in_rules = rule_sep.join(words)
    sent = sent_sep.join(words)
    rules = parse_rules(f"[never_substitute]\ntags = [{json.dumps(in_rules)}]\n")
    stored = enrich(product("SKU-1", tags={sent.upper() if upper else sent}))
    assert rules.no_substitution_reason(stored) is not None


# --- each rule ------------------------------------------------------------------------------------

RULES = HardRules()


def test_an_item_never_replaces_itself() -> None:
    milk = product("milk")
    assert RULES.violation(milk, milk) == "same item"


def test_a_plain_lookalike_passes_every_rule() -> None:
    assert RULES.violation(product("a"), product("b")) is None


@pytest.mark.parametrize("tag", sorted(DIETARY_TAGS))
def test_dietary_promises_are_kept(tag: str) -> None:
    promised = product("a", tags={tag, "organic"})
    assert RULES.violation(promised, product("b")) == f"loses {tag}"
    assert RULES.violation(promised, product("c", tags={tag})) is None  # organic is not kept
    # the other direction is fine: a gluten-free candidate may replace a regular item
    assert RULES.violation(product("d"), product("e", tags={tag})) is None


def test_every_lost_promise_is_named() -> None:
    requested = product("a", tags={"vegan", "gluten_free", "kosher"})
    assert RULES.violation(requested, product("b", tags={"kosher"})) == "loses gluten_free, vegan"


def named(item_id: str, name: str, aisle: str = "milk") -> Product:
    """A catalog item whose tags are read from its name, as the worker reads them."""
    return enrich(Product(item_id, name, aisle, "dairy eggs", 3.0, 1.0, "l", None))


def allowed_for(requested: Product, pool: list[Product]) -> list[str]:
    """Names of the pool's items the rules let replace ``requested`` (both code paths)."""
    assert_mask_matches_violation(pool, requested, RULES)
    return [c.name for c in pool if RULES.violation(requested, c) is None]


def test_a_lactose_free_milk_is_replaced_only_by_a_milk_without_lactose() -> None:
    lactose_free = named("lf", "Lactose Free 2% Reduced Fat Milk")
    pool = [
        lactose_free,
        named("m1", "2% Reduced Fat Milk"),
        named("m2", "Organic Whole Milk"),
        named("m3", "Fat Free Skim Milk"),
        named("lf2", "Lactose-Free Whole Milk"),
        named("al", "Unsweetened Almond Milk Non-Dairy Beverage"),  # dairy free: no lactose
        named("oat", "Oat Milk, Dairy, Nut & Soy Free"),
    ]
    assert RULES.violation(lactose_free, pool[1]) == "loses lactose_free"
    assert allowed_for(lactose_free, pool) == [
        "Lactose-Free Whole Milk",
        "Unsweetened Almond Milk Non-Dairy Beverage",
        "Oat Milk, Dairy, Nut & Soy Free",
    ]
    # the promise is one way: a regular milk may be replaced by a lactose-free one
    assert "Lactose Free 2% Reduced Fat Milk" in allowed_for(pool[1], pool)
    # and lactose free is not dairy free: a dairy-free milk keeps its own promise
    assert RULES.violation(pool[5], lactose_free) == "loses dairy_free"


def test_a_peanut_free_item_is_replaced_only_by_one_that_says_so() -> None:
    peanut_free = named("pf", "Creamy Peanut Free Spread", "spreads")
    pool = [
        peanut_free,
        named("pb", "Creamy Peanut Butter", "spreads"),
        named("pbc", "Peanut Butter Cups", "spreads"),
        named("tn", "Tree Nut Free Peanut Butter", "spreads"),  # peanuts are not tree nuts
        named("sun", "Sunflower Seed Butter", "spreads"),  # says nothing: not offered
        named("nf", "Nut-Free Sunflower Butter", "spreads"),  # nut free covers peanuts
        named("soy", "Peanut Free SoyNut Butter", "spreads"),
    ]
    assert RULES.violation(peanut_free, pool[1]) == "loses peanut_free"
    assert allowed_for(peanut_free, pool) == [
        "Nut-Free Sunflower Butter",
        "Peanut Free SoyNut Butter",
    ]
    # a nut-free item needs a nut-free substitute: peanut free alone is not enough
    assert RULES.violation(pool[5], pool[6]) == "loses nut_free, tree_nut_free"


def test_alcohol_must_match_both_ways() -> None:
    beer, other_beer, soda = (
        product("beer", tags={"alcohol"}),
        product("ale", tags={"alcohol"}),
        product("soda"),
    )
    assert RULES.violation(soda, beer) == "alcohol mismatch"
    assert RULES.violation(beer, soda) == "alcohol mismatch"
    assert RULES.violation(beer, other_beer) is None


@pytest.mark.parametrize(
    ("requested", "candidate", "allowed"),
    [
        ((1.0, "l"), (2.5, "l"), True),  # at the limit
        ((1.0, "l"), (2.6, "l"), False),
        ((1.0, "l"), (0.4, "l"), True),  # exactly 1/2.5
        ((1.0, "l"), (0.39, "l"), False),
        ((1.0, "gal"), (64.0, "fl_oz"), True),  # half a gallon, in other volume units
        ((1.0, "gal"), (1.0, "pt"), False),  # an eighth
        ((1.0, "lb"), (16.0, "oz"), True),
        ((1.0, "lb"), (100.0, "g"), False),
        ((1.0, "l"), (100.0, "g"), True),  # a mass and a volume cannot be compared
        ((1.0, "l"), (12.0, "ct"), True),
        ((1.0, "l"), (None, None), True),  # unknown size
        ((1.0, "l"), (5.0, None), True),
        ((1.0, "l"), (5.0, "furlong"), True),  # unknown unit
    ],
)
def test_size_must_be_comparable_to_be_refused(
    requested: tuple[float | None, str | None],
    candidate: tuple[float | None, str | None],
    allowed: bool,
) -> None:
    req = product("a", size=requested[0], unit=requested[1])
    cand = product("b", size=candidate[0], unit=candidate[1])
    reason = RULES.violation(req, cand)
    if allowed:
        assert reason is None
    else:
        assert reason is not None and reason.startswith("size ratio ")
        assert "outside 1/2.5..2.5" in reason


@pytest.mark.parametrize(
    ("requested", "candidate", "allowed"),
    [
        (3.0, 4.8, True),  # exactly 1.6
        (6.25, 10.0, True),  # exactly 1.6 in cents as shoppers see them
        (3.0, 4.81, False),
        (3.0, 0.5, True),  # much cheaper is fine: the store eats the difference
        (None, 100.0, True),
        (3.0, None, True),
    ],
)
def test_a_candidate_may_cost_at_most_max_ratio_times_more(
    requested: float | None, candidate: float | None, allowed: bool
) -> None:
    reason = RULES.violation(product("a", price=requested), product("b", price=candidate))
    if allowed:
        assert reason is None
    else:
        assert reason == f"price ratio {candidate / requested:.2f} over 1.6"  # type: ignore[operator]


def test_ratios_come_from_the_rules() -> None:
    strict = parse_rules("[size]\nmax_ratio = 1.0\n[price]\nmax_ratio = 1.0\n")
    a = product("a", price=3.0, size=1.0, unit="l")
    assert strict.violation(a, product("b", price=3.0, size=1.0, unit="l")) is None
    assert strict.violation(a, product("c", price=3.01, size=1.0, unit="l")) is not None
    assert strict.violation(a, product("d", price=3.0, size=1.01, unit="l")) is not None


def test_no_substitution_reason_for_never_substituted_items() -> None:
    rules = parse_rules(
        "[never_substitute]\n"
        "aisles = ['baby food formula']\n"
        "departments = ['pharmacy']\n"
        "item_ids = ['insulin-1']\n"
    )
    formula = product("f1", aisle="baby food formula", department="babies")
    pill = product("p1", aisle="pain relief", department="pharmacy")
    insulin = product("insulin-1", aisle="diabetes", department="health")
    assert (
        rules.no_substitution_reason(formula)
        == "rule: aisle 'baby food formula' is never substituted"
    )
    assert rules.no_substitution_reason(pill) == "rule: department 'pharmacy' is never substituted"
    assert rules.no_substitution_reason(insulin) == "rule: item insulin-1 is never substituted"
    assert rules.no_substitution_reason(product("milk")) is None


# --- the vectorised mask agrees with the one-pair rules -------------------------------------------

TAGS = [*sorted(DIETARY_TAGS), "alcohol", "organic", "infant_formula"]
UNITS = ["g", "ml", "oz", "fl_oz", "ct", "lb", "gal"]

# Cent prices and small whole or half sizes make exact-limit ratios common (6.25 -> 10.00 is
# exactly 1.6, 2 -> 5 is exactly 2.5), so the two code paths are held together at the limits too,
# not only away from them; free floats cover everything in between.
prices = st.one_of(
    st.none(),
    st.integers(1, 2000).map(lambda cents: cents / 100),
    st.floats(0.01, 1000.0, allow_nan=False),
)
sizes = st.one_of(
    st.none(),
    st.integers(1, 40).map(lambda halves: halves / 2),
    st.floats(0.01, 5000.0, allow_nan=False),
)


@st.composite
def products(draw: st.DrawFn, item_id: str) -> Product:
    return Product(
        item_id=item_id,
        name=f"Item {item_id}",
        aisle="aisle",
        department="department",
        price=draw(prices),
        size=draw(sizes),
        unit=draw(st.one_of(st.none(), st.sampled_from(UNITS))),
        brand=None,
        tags=frozenset(draw(st.sets(st.sampled_from(TAGS), max_size=3))),
    )


@st.composite
def pools(draw: st.DrawFn) -> list[Product]:
    n = draw(st.integers(1, 8))
    return [draw(products(f"p{i}")) for i in range(n)]


rule_sets = st.builds(
    HardRules,
    max_size_ratio=st.sampled_from([1.0, 1.5, 2.0, 2.5]),
    max_price_ratio=st.sampled_from([1.0, 1.25, 1.6, 2.0]),
)


def assert_mask_matches_violation(
    pool: list[Product], requested: Product, rules: HardRules
) -> None:
    tags = TagVocabulary(sorted(rules.preserve_tags | rules.match_tags))
    matrix = AisleMatrix(pool, {}, tags, rules)
    mask = matrix.rule_mask(requested, rules)
    expected = [rules.violation(requested, candidate) is None for candidate in pool]
    assert mask.tolist() == expected, [(c.item_id, rules.violation(requested, c)) for c in pool]


@settings(max_examples=300, deadline=None)
@given(pool=pools(), pick=st.integers(0, 7), rules=rule_sets)
def test_rule_mask_agrees_with_violation_for_a_requested_item_in_the_pool(
    pool: list[Product], pick: int, rules: HardRules
) -> None:
    assert_mask_matches_violation(pool, pool[pick % len(pool)], rules)


@settings(max_examples=300, deadline=None)
@given(pool=pools(), requested=products("outside"), rules=rule_sets)
def test_rule_mask_agrees_with_violation_for_a_requested_item_outside_the_pool(
    pool: list[Product], requested: Product, rules: HardRules
) -> None:
    assert_mask_matches_violation(pool, requested, rules)


def test_rule_mask_allows_a_candidate_at_exactly_the_price_limit() -> None:
    # 10.00 for 6.25 is exactly 1.6; the mask once went through exp(log(price)), which lands an
    # ulp above 10.0 and refused what HardRules.violation allowed.
    requested, candidate = product("a", price=6.25), product("b", price=10.0)
    assert RULES.violation(requested, candidate) is None
    matrix = AisleMatrix([requested, candidate], {}, TagVocabulary(), RULES)
    assert matrix.rule_mask(requested, RULES).tolist() == [False, True]
