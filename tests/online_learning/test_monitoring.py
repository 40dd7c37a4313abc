"""Progressive validation beside the engine: fed by what ``on_feedback`` returns, no broker."""

from __future__ import annotations

import math
import random

import pytest

from online_learning.engine import FeedbackResult, SubstitutionEngine
from online_learning.features import pair_features
from online_learning.model import log_loss
from online_learning.monitoring import LearningMonitor
from tests.online_learning.test_engine import MILK, feedback, make_engine


class Watched:
    """An engine and the monitor its learned feedback goes to, as the worker wires them."""

    def __init__(self, engine: SubstitutionEngine, window: int = 1000) -> None:
        self.engine = engine
        self.monitor = LearningMonitor(window=window)

    def learn(self, sub: str, outcome: str = "accepted") -> None:
        result = self.engine.on_feedback(feedback(sub, outcome))
        assert result.result is FeedbackResult.LEARNED
        self.monitor.observe(result)


@pytest.fixture
def watched() -> Watched:
    return Watched(make_engine())


def test_the_rolling_acceptance_rate_follows_the_window() -> None:
    w = Watched(make_engine(), window=4)
    assert math.isnan(w.monitor.snapshot().acceptance_rate)
    outcomes_and_rates = [
        ("accepted", 1.0),
        ("accepted", 1.0),
        ("rejected", 2 / 3),
        ("refunded", 2 / 4),  # a refund is a late rejection
        ("accepted", 2 / 4),  # the first acceptance leaves the window
        ("rejected", 1 / 4),
        ("rejected", 1 / 4),
        ("rejected", 1 / 4),
        ("rejected", 0.0),
    ]
    for outcome, rate in outcomes_and_rates:
        w.learn("oat", outcome)
        assert w.monitor.snapshot().acceptance_rate == pytest.approx(rate), outcome


def test_metrics_are_progressive_scored_before_the_model_learns(watched: Watched) -> None:
    engine = watched.engine
    requested, candidate = engine.catalog.get(MILK), engine.catalog.get("oat")
    assert requested is not None and candidate is not None
    x = pair_features(engine.features.pair_vector(requested, candidate))
    p_before = engine.p_accept(requested, candidate)
    outcome = engine.on_feedback(feedback("oat", "accepted"))
    assert outcome.p == pytest.approx(p_before)
    assert outcome.features == pytest.approx(x)
    watched.monitor.observe(outcome)
    assert watched.monitor.snapshot().log_loss == pytest.approx(log_loss(p_before, True))


def test_a_duplicate_carries_no_prediction() -> None:
    engine = make_engine()
    engine.on_feedback(feedback("oat", event_id="fb-1"))
    again = engine.on_feedback(feedback("oat", event_id="fb-1"))
    assert again.result is FeedbackResult.DUPLICATE
    assert math.isnan(again.p) and again.features is None


def test_feedback_the_prior_expected_scores_well(watched: Watched) -> None:
    for _ in range(10):
        watched.learn("milk-skim-gal", "accepted")
        watched.learn("oat", "rejected")
    snap = watched.monitor.snapshot()
    assert snap.roc_auc == 1.0
    assert snap.log_loss < math.log(2)  # better than a coin


def test_log_loss_falls_and_roc_auc_rises_as_the_model_learns_a_pattern(
    watched: Watched,
) -> None:
    # Against the prior, customers here love the oat milk and refuse the same-brand skim.
    losses, aucs = [], []
    for _ in range(100):
        watched.learn("oat", "accepted")
        watched.learn("milk-skim-gal", "rejected")
        snap = watched.monitor.snapshot()
        losses.append(snap.log_loss)
        aucs.append(snap.roc_auc)
    assert losses[0] > 1.0  # the prior was confidently wrong
    assert losses[-1] < losses[49] < losses[9] < losses[0]
    assert aucs[0] == 0.0  # every accepted pair scored below every rejected one
    assert aucs[-1] > aucs[69] > aucs[49] > aucs[0]
    assert aucs[-1] > 0.5  # the model has turned round
    assert watched.monitor.snapshot().acceptance_rate == pytest.approx(0.5)


def test_learning_beats_the_frozen_prior_on_feedback_that_contradicts_it(
    watched: Watched,
) -> None:
    # The prior likes the other brand's whole milk; these customers keep refusing it.
    for _ in range(40):
        watched.learn("milk-whole-half", "rejected")
        watched.learn("milk-skim-gal", "accepted")
    snap = watched.monitor.snapshot()
    assert snap.log_loss < snap.prior_log_loss
    # Before anything was learned, both were scored with the same weights... apart from the
    # learned offsets, which start at 0: the same number.
    fresh = Watched(make_engine())
    fresh.learn("milk-whole-half", "rejected")
    first = fresh.monitor.snapshot()
    assert first.log_loss == pytest.approx(first.prior_log_loss)


def test_adwin_counts_a_change_in_acceptance_and_not_a_steady_stream() -> None:
    steady, shifted = Watched(make_engine()), Watched(make_engine())
    rng = random.Random(5)
    for i in range(3000):
        rate = 0.6 if i < 1500 else 0.15  # customers stop accepting halfway
        shifted.learn("oat", "accepted" if rng.random() < rate else "rejected")
        steady.learn("oat", "accepted" if rng.random() < 0.6 else "rejected")
    assert shifted.monitor.drifts >= 1
    assert steady.monitor.drifts == 0
