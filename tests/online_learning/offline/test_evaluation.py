"""The offline evaluation: policies scored on the same requests, against the hidden truth."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

from online_learning.engine import EngineConfig
from online_learning.offline.evaluation import POLICIES, EvalResult, evaluate
from online_learning.offline.simulation import SimConfig
from streams.cli import build_parser
from streams.evaluate_cmd import format_table, write_outputs

FEEDBACK = 300
WINDOW = 100
CONFIG = SimConfig(catalog_limit=3000)


@pytest.fixture(scope="module")
def result() -> EvalResult:
    return evaluate([1, 2], FEEDBACK, sim_config=CONFIG, window=WINDOW)


def test_every_policy_sees_the_same_requests(result: EvalResult) -> None:
    for seed in result.seeds:
        counts = {seed.metrics[p].requests for p in POLICIES}
        assert len(counts) == 1 and counts.pop() > 0
        assert seed.feedback == FEEDBACK


def test_oracle_is_an_upper_bound(result: EvalResult) -> None:
    summary = result.summary()
    oracle = summary["oracle"]["acceptance_mean"]
    for policy in POLICIES:
        assert summary[policy]["acceptance_mean"] <= oracle + 1e-12, policy
    for seed in result.seeds:  # per seed too, not only on average
        for policy in POLICIES:
            assert seed.metrics[policy].acceptance <= seed.metrics["oracle"].acceptance + 1e-12


def test_no_policy_offers_a_rule_violation_or_an_unavailable_item(result: EvalResult) -> None:
    for seed in result.seeds:
        for policy in POLICIES:
            assert seed.metrics[policy].violations == 0, policy
            assert seed.metrics[policy].unavailable_offers == 0, policy


def test_gap_closure_is_anchored_at_random_and_oracle(result: EvalResult) -> None:
    summary = result.summary()
    assert summary["random"]["gap_closure_mean"] == pytest.approx(0.0)
    assert summary["oracle"]["gap_closure_mean"] == pytest.approx(1.0)
    # The content prior already beats picking at random.
    assert summary["prior"]["gap_closure_mean"] > 0


def test_learning_curve_has_one_point_per_window(result: EvalResult) -> None:
    curve = result.curve()
    assert curve["feedback"] == [100.0, 200.0, 300.0]
    for seed in result.seeds:
        assert len(seed.curve_learned) == len(seed.curve_prior) == FEEDBACK // WINDOW
        assert all(0.0 <= v <= 1.0 for v in seed.curve_learned + seed.curve_prior)


def test_a_fixed_seed_gives_the_same_numbers(result: EvalResult) -> None:
    again = evaluate([1], FEEDBACK, sim_config=CONFIG, window=WINDOW)
    first = result.to_dict()["seeds"][0]
    assert again.to_dict()["seeds"][0] == first


def test_outputs_are_written(result: EvalResult, tmp_path: Path) -> None:
    json_path, png_path = write_outputs(result, tmp_path / "eval")
    assert png_path.read_bytes().startswith(b"\x89PNG")
    data = json.loads(json_path.read_text())
    assert set(data["summary"]) == set(POLICIES)
    assert len(data["seeds"]) == 2
    assert not math.isnan(data["summary"]["learned"]["acceptance_mean"])
    table = format_table(result)
    assert all(policy in table for policy in POLICIES)


def test_cli_parses_evaluate_flags() -> None:
    args = build_parser().parse_args(
        ["evaluate", "--seeds", "2", "--feedback", "100", "--out", "x", "--quick"]
    )
    assert isinstance(args, argparse.Namespace)
    assert (args.command, args.seeds, args.feedback, args.out, args.quick) == (
        "evaluate",
        2,
        100,
        Path("x"),
        True,
    )


def test_the_population_flag_reaches_the_simulation_config() -> None:
    from streams.simulate import sim_config

    for command, default in (
        (["evaluate"], "default"),
        (["simulate"], "default"),
        (["demo"], "picky"),
    ):
        args = build_parser().parse_args([*command, "--population", "thrifty"])
        assert args.population == "thrifty"
        assert build_parser().parse_args(command).population == default
    assert sim_config(build_parser().parse_args(["demo", "--population", "loyal"])).population == (
        "loyal"
    )


def test_exploration_is_logged_with_propensities_for_off_policy_estimates(
    result: EvalResult,
) -> None:
    for seed in result.seeds:
        o = seed.off_policy
        assert o["logged"] > 50
        assert 0.0 < o["explored_share"] < 0.3  # epsilon 0.1 of rankings, among offers
        for estimate in ("greedy_ips", "greedy_snips", "greedy_true"):
            assert 0.0 <= o[estimate] <= 1.5  # IPS is unbounded above in principle
        assert abs(o["greedy_snips"] - o["greedy_true"]) < 0.2  # noisy at this size, but close


def test_horror_collects_the_most_confident_rejections() -> None:
    from online_learning.offline.horror import THEMES, ConfidentMistakes
    from streams.evaluate_cmd import format_mistakes

    mistakes = ConfidentMistakes(capacity=20)
    evaluate([1], FEEDBACK, sim_config=CONFIG, window=WINDOW, mistakes=mistakes)
    worst = mistakes.worst()
    assert 0 < len(worst) <= 20 and mistakes.seen >= len(worst)
    assert [m.p_accept for m in worst] == sorted((m.p_accept for m in worst), reverse=True)
    assert all(m.outcome in ("rejected", "refunded") for m in worst)
    assert all(set(m.themes) <= set(THEMES) for m in worst)
    report = format_mistakes(mistakes, {}, 5)
    assert "themes" in report and worst[0].substitute_id in report


def test_cli_parses_horror_and_shift_flags() -> None:
    args = build_parser().parse_args(["evaluate", "--horror", "15", "--shift-at", "90"])
    assert (args.horror, args.shift_at) == (15, 90.0)


def test_shift_at_is_minutes_after_the_start(tmp_path: Path) -> None:
    from unittest import mock

    from streams import evaluate_cmd

    args = build_parser().parse_args(
        ["evaluate", "--quick", "--shift-at", "30", "--out", str(tmp_path)]
    )
    seen = {}

    def fake_evaluate(seeds: Any, feedback: Any, *, sim_config: SimConfig, **_: Any) -> Any:
        seen["shift_at"] = sim_config.shift_at
        raise SystemExit(0)

    with mock.patch.object(evaluate_cmd, "evaluate", fake_evaluate), pytest.raises(SystemExit):
        evaluate_cmd.run_evaluate(args)
    assert seen["shift_at"] == 1800.0  # SimConfig.shift_at counts seconds from start_ts


@pytest.mark.parametrize(
    ("flags", "on"), [([], True), (["--interactions"], True), (["--no-interactions"], False)]
)
def test_the_evaluated_engine_has_the_interaction_weights_unless_told_not_to(
    tmp_path: Path, flags: list[str], on: bool
) -> None:
    from unittest import mock

    from streams import evaluate_cmd

    args = build_parser().parse_args(["evaluate", "--quick", "--out", str(tmp_path), *flags])
    seen = {}

    def fake_evaluate(*_: Any, engine_config: EngineConfig, **__: Any) -> Any:
        seen["interactions"] = engine_config.interactions
        raise SystemExit(0)

    with mock.patch.object(evaluate_cmd, "evaluate", fake_evaluate), pytest.raises(SystemExit):
        evaluate_cmd.run_evaluate(args)
    assert (seen["interactions"] is not None) == on


def test_the_engine_and_the_worker_have_the_interaction_weights_by_default() -> None:
    from streams.settings import Settings

    assert EngineConfig().interactions is not None
    assert Settings.load({}, environ={}).interactions
    assert not Settings.load({}, environ={"FILLRATE_INTERACTIONS": "false"}).interactions
