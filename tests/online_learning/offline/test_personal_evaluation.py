"""Personal replies against the store-level ranking, and the stated preferences behind them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from online_learning.contract import CustomerNeeds, ItemChoice, Product, preference_key
from online_learning.offline.personal_evaluation import (
    BUCKETS,
    POLICIES,
    PersonalResult,
    evaluate_personal,
)
from online_learning.offline.simulation import SimConfig, Simulation
from streams.cli import build_parser
from streams.evaluate_cmd import format_personal, run_evaluate

# Few customers, so that many pass 20 and 50 feedback events in a short run.
SMALL = SimConfig(
    catalog_limit=3000, n_customers=12, n_stores=3, needs_share=0.25, choice_share=0.3
)
STATED = SimConfig(
    catalog_limit=3000, n_customers=40, n_stores=2, needs_share=0.5, choice_share=0.5
)


@pytest.fixture(scope="module")
def result() -> PersonalResult:
    return evaluate_personal([3], 900, sim_config=SMALL)


@pytest.fixture(scope="module")
def stated(products: list[Product]) -> Simulation:
    return Simulation(STATED, products)


def test_the_table_has_every_bucket_and_the_oracle_bounds_every_policy(
    result: PersonalResult,
) -> None:
    summary = result.summary()
    assert [b for b in summary] == [*(b[0] for b in BUCKETS), "all"]
    seed = result.seeds[0]
    assert seed.feedback == 900
    for bucket, row in summary.items():
        assert row["requests"]["mean"] > 0, bucket  # every bucket is reached in this run
        for policy in POLICIES:
            assert row[policy]["mean"] <= row["oracle"]["mean"] + 1e-12, (bucket, policy)
    text = format_personal(result)
    for label, *_ in BUCKETS:
        assert f"\n{label} " in text


def test_personal_replies_beat_the_store_level_ranking_after_20_events(
    result: PersonalResult,
) -> None:
    seed = result.seeds[0]
    for bucket in ("20-49", "50+"):
        assert seed.acceptance("personal", bucket) > seed.acceptance("store", bucket), bucket
    # With no history the reply differs from the store level only by what the customer
    # stated (no tastes yet): exactly the stated-only reply, and never worse than the store's.
    assert seed.acceptance("personal", "0") == seed.acceptance("stated", "0")
    assert seed.acceptance("personal", "0") >= seed.acceptance("store", "0") - 1e-12


def test_no_substitute_lines_are_declined_by_the_personal_reply_only(
    result: PersonalResult,
) -> None:
    seed = result.seeds[0]
    assert seed.no_substitute_lines > 0
    assert seed.declined["personal"] == seed.no_substitute_lines
    assert seed.declined["store"] < seed.no_substitute_lines


def test_preferences_are_records_with_their_keys_and_deterministic(
    stated: Simulation, products: list[Product]
) -> None:
    records = stated.preferences()
    kinds = {type(r) for _, r in records}
    assert kinds == {ItemChoice, CustomerNeeds}
    assert all(key == preference_key(record) for key, record in records)
    choices = {r.choice for _, r in records if isinstance(r, ItemChoice)}
    assert choices == {"specific", "no_substitute"}
    assert Simulation(STATED, products).preferences() == records
    assert Simulation(replace(STATED, seed=8), products).preferences() != records
    # Off by default: the world docs/evaluation.md measured states nothing.
    assert (
        Simulation(replace(STATED, needs_share=0.0, choice_share=0.0), products).preferences() == []
    )


def test_the_truth_honours_what_customers_stated(stated: Simulation) -> None:
    products = stated.products
    by_aisle: dict[str, list[Product]] = {}
    for product in products.values():
        by_aisle.setdefault(product.aisle, []).append(product)
    checked = {"no_substitute": 0, "specific": 0, "needs": 0}
    for _, record in stated.preferences():
        if isinstance(record, CustomerNeeds):
            customer = record.customer_id
            for requested in list(products.values())[:50]:
                for candidate in by_aisle[requested.aisle][:10]:
                    if candidate.item_id == requested.item_id:
                        continue
                    p = stated.true_accept_prob(customer, requested, candidate)
                    if not record.needs <= candidate.tags:
                        assert p == 0.0
                        checked["needs"] += 1
            continue
        requested = products[record.item_id]
        customer = record.customer_id
        assert record.choice in ("specific", "no_substitute")
        if record.choice == "no_substitute":
            for candidate in by_aisle[requested.aisle][:10]:
                assert stated.true_accept_prob(customer, requested, candidate) == 0.0
            checked["no_substitute"] += 1
        else:
            assert 1 <= len(record.substitute_ids) <= 3
            for pick in record.substitute_ids:
                candidate = products[pick]
                assert candidate.aisle == requested.aisle and pick != requested.item_id
                assert stated.needs(customer) <= candidate.tags
                assert stated.true_accept_prob(customer, requested, candidate) == 0.95
            checked["specific"] += 1
    assert min(checked.values()) > 0, checked


def test_no_substitute_lines_are_never_substituted(stated: Simulation) -> None:
    outcomes: list[str] = []
    while len(outcomes) < 30 and stated.now < stated.config.start_ts + 6 * 3600:
        _, requests = stated.advance(60.0)
        for request in requests:
            choice = stated.choice(request.customer_id, request.item_id)
            same_aisle = [
                p.item_id
                for p in stated.products.values()
                if p.aisle == stated.products[request.item_id].aisle
            ]
            feedback = stated.resolve(request, same_aisle)
            if choice is not None and choice.choice == "no_substitute" and feedback is not None:
                outcomes.append(feedback.outcome)
    assert outcomes and set(outcomes) == {"rejected"}


def test_cli_personal_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(
        [
            "evaluate",
            "--personal",
            "--seeds",
            "1",
            "--feedback",
            "60",
            "--catalog-limit",
            "3000",
            "--customers",
            "20",
            "--tastes-shrink",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert run_evaluate(args) == 0
    out = capsys.readouterr()
    assert "personal-store" in out.out and "tastes shrink 3.0" in out.out
    saved = json.loads((tmp_path / "personal_evaluation.json").read_text())
    assert saved["sim_config"]["n_customers"] == 20
    assert saved["seeds"][0]["feedback"] == 60
