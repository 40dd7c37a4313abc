"""FlooredAdaGrad: AdaGrad's steps, never smaller than the floor's SGD step."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import optim

from online_learning.optimizers import FlooredAdaGrad

gradients = st.lists(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.floats(-5.0, 5.0, allow_nan=False).filter(lambda g: abs(g) > 1e-6),
        min_size=1,
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(steps=gradients)
def test_without_a_floor_it_is_rivers_adagrad(steps: list[dict[str, float]]) -> None:
    ours, rivers = FlooredAdaGrad(lr=0.1, floor=0.0), optim.AdaGrad(lr=0.1)
    w_ours: dict[str, float] = {"a": 0.0, "b": 0.0, "c": 0.0}
    w_rivers = dict(w_ours)
    for g in steps:
        w_ours = ours.step(w_ours, g)
        w_rivers = rivers.step(w_rivers, g)
    assert w_ours == pytest.approx(w_rivers, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(steps=gradients)
def test_each_move_is_adagrads_or_the_floors_whichever_is_larger(
    steps: list[dict[str, float]],
) -> None:
    lr, floor = 0.1, 0.01
    opt = FlooredAdaGrad(lr=lr, floor=floor)
    w: dict[str, float] = {"a": 0.0, "b": 0.0, "c": 0.0}
    sums = dict.fromkeys(w, 0.0)
    for g in steps:
        before = dict(w)
        w = opt.step(w, g)
        for name, gi in g.items():
            sums[name] += gi * gi
            rate = (before[name] - w[name]) / gi
            adagrad = lr / (sums[name] + opt.eps) ** 0.5
            assert rate == pytest.approx(max(adagrad, floor), rel=1e-9)
        for name in set(w) - set(g):
            assert w[name] == before[name]  # a weight without a gradient does not move


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="lr > 0"):
        FlooredAdaGrad(lr=0.0)
    with pytest.raises(ValueError, match="floor >= 0"):
        FlooredAdaGrad(floor=-0.1)
