"""The structural themes: one fixed, short list of names for what a refused pair shows, shared by
the worker's live counter, ``fillrate evaluate --horror`` and the horror report."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from online_learning.features import FEATURES
from online_learning.offline import horror
from online_learning.rules import HardRules, load_rules
from online_learning.themes import NO_THEME, THEME_LABELS, THEMES, theme_labels, themes


def test_the_api_other_code_imports_stays_as_it_is() -> None:
    assert THEMES == ("size", "brand", "price", "kind", "fat", "tags", "rule_edge")
    assert (*THEMES, "none") == THEME_LABELS and NO_THEME == "none"
    signature = inspect.signature(themes)
    assert list(signature.parameters) == ["x", "rules"]
    assert signature.parameters["rules"].default is None
    # the offline error analysis uses the very same function, plus its customer theme
    assert horror.themes is themes
    assert (*THEMES, "customer") == horror.THEMES


def test_each_theme_follows_its_feature() -> None:
    assert themes({"size_log_ratio": 0.7}) == ("size",)
    assert themes({"brand_differs": 1.0}) == ("brand",)
    assert themes({"price_up": 0.3}) == ("price",)
    assert themes({"kind_jaccard": 0.0}) == ("kind",)
    assert themes({"fat_unknown": 1.0}) == ("fat",)
    assert themes({"tags_lost": 1.0}) == ("tags",)
    rules = load_rules()
    assert themes({"price_up": 0.9 * rules.max_price_ratio - 1.0}, rules) == ("price", "rule_edge")
    # just under each threshold: nothing to name
    quiet = {"size_log_ratio": 0.4, "price_up": 0.15, "kind_jaccard": 0.34, "brand_differs": 0.0}
    assert themes(quiet) == () and theme_labels(quiet) == ("none",)


def test_without_rules_there_is_no_rule_edge() -> None:
    assert themes({"price_up": 5.0, "size_log_ratio": 3.0}) == ("size", "price")


feature_values = st.dictionaries(
    st.sampled_from(FEATURES), st.floats(-3, 3, allow_nan=False), max_size=len(FEATURES)
)


@settings(max_examples=300, deadline=None)
@given(x=feature_values, with_rules=st.booleans())
def test_labels_are_always_some_of_the_fixed_list_in_its_order(
    x: Mapping[str, float], with_rules: bool
) -> None:
    labels = theme_labels(x, HardRules() if with_rules else None)
    assert labels and set(labels) <= set(THEME_LABELS)
    assert list(labels) == sorted(labels, key=THEME_LABELS.index)
    assert (labels == (NO_THEME,)) == (themes(x, HardRules() if with_rules else None) == ())
