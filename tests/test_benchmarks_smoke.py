"""Each benchmark runs end to end in a short version: correctness only, no timing asserts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def launch(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """A benchmark script run to its end, its output captured, whatever its exit status."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def run(script: str, *args: str, timeout: float = 240) -> str:
    result = launch(script, *args, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_scoring_benchmark_prints_each_pool_size_and_learning_cost() -> None:
    out = run("bench_scoring.py", "--quick")
    # with the interaction weights counting, before they count, and without them
    for label in ("interactions", "not counted", "linear"):
        for size in (50, 500, 2000):
            row = rf"^{label}\s+{size}\s+\d+\s+\d+\s+[\d.]+\s+\d+\s+[\d.]+\s+[\d.]+x$"
            assert re.search(row, out, re.M), out
    for model in (
        r"shipped \(AdaGrad with a floor, interactions\)",
        r"linear \(AdaGrad with a floor, no interactions\)",
        r"baseline \(SGD 0\.05, no interactions\)",
    ):
        assert re.search(rf"learning, {model}: \d+ us per feedback event", out), out
    for ratio in ("shipped/linear", "linear/baseline"):
        assert re.search(rf"learning cost ratio {ratio}: [\d.]+$", out, re.M), out


def test_engine_events_benchmark_prints_each_kind_with_and_without_interactions() -> None:
    out = run("bench_engine_events.py", "--events", "2000", "--rounds", "1", "--linear")
    number = r"\s+([\d.]+)"
    digests = {}
    for name in ("shipped", "linear"):
        row = re.search(rf"^round 1\s+{name}{number * 4}\s+([0-9a-f]+)$", out, re.M)
        assert row, out
        digests[name] = row.group(5)
        assert re.search(rf"^median\s+{name}{number * 4}$", out, re.M), out
    assert digests["shipped"] != digests["linear"], out  # the interaction weights learned
    assert re.search(r"^ratio shipped/linear(\s+[\d.]+x){4}$", out, re.M), out


def test_personal_benchmark_prints_costs_bytes_and_the_simulated_gain() -> None:
    out = run("bench_personal.py", "--quick")
    for name in ("learn_one, full matrix", "learn_one, diagonal", "offset_one", "offsets, 50"):
        assert re.search(rf"^{name}.*\s[\d.]+\s+[\d.]+\s+[\d.]+x$", out, re.M), out
    memory = table_rows(out, r"[\d,]+", 5)
    assert [row[0] for row in memory] == [1000, 5000], out
    assert all(568 < row[2] < 2000 for row in memory), out  # the arrays plus the id's entry
    total = re.search(r"^\s+all\s+([\d,]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s", out, re.M)
    assert total and total.group(1) == "1,500", out
    assert float(total.group(3)) < float(total.group(2)), out  # personal beats the population
    assert re.search(r"engine.on_feedback \d+ us, learn_one \d+ us \(\+\d+%", out), out


def test_model_comparison_replays_one_stream_through_four_river_models() -> None:
    out = run("compare_models.py", "--quick")
    assert "replaying 300 events" in out, out
    models = ("logreg-from-prior", "logreg-linear-only", "logreg-from-prior-sgd", "scaled-logreg")
    for model in (*models, "hoeffding-tree", "interactions-alpha-0.05"):
        row = re.search(rf"^{model}\s+([\d.]+)\s+([\d.]+)\s", out, re.M)
        assert row, out
        log_loss, auc = float(row.group(1)), float(row.group(2))
        assert 0.0 < log_loss < 5.0 and 0.0 <= auc <= 1.0, out


def test_engine_benchmark_replays_the_mix_and_emits_rankings() -> None:
    out = run("bench_engine.py", "--events", "3000")
    assert "3,000 events in" in out, out
    assert "'stock_out':" in out, out


def test_engine_benchmark_prints_the_per_chunk_curve() -> None:
    out = run("bench_engine.py", "--quick")
    rows = table_rows(out, r"[\d,]+", 8)
    assert [row[0] for row in rows] == [2000, 4000, 6000], out
    assert all(row[1] > 0 for row in rows), out
    assert sum(row[2] for row in rows) > 0, out  # stock-outs were ranked
    assert rows[-1][6] > 0, out  # live rankings at the end


@pytest.mark.broker
def test_broker_benchmark_measures_live_traffic_over_each_backlog() -> None:
    out = run("bench_broker.py", "--quick")
    rows = re.findall(r"^\s+([\d,]+)\s+([\d,]+)\s+(\d+)%\s+(\d+)%\s+([\d.]+)$", out, re.M)
    assert [int(r[0].replace(",", "")) for r in rows] == [0, 20_000], out
    assert all(int(r[1].replace(",", "")) > 0 and int(r[2]) >= 100 for r in rows), out
    assert rows[0][4] == "1.00", out
    # then the same traffic once per fetch wait, with each message's latency
    sweep = re.findall(r"^\s+(\d+)\s+[\d,]+\s+(\d+)%\s+\d+%\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert [int(r[0]) for r in sweep] == [10, 25], out
    assert all(int(r[1]) >= 100 and 0 < float(r[2]) <= float(r[3]) for r in sweep), out


def test_gc_pause_benchmark_compares_both_modes_on_the_same_stream() -> None:
    out = run("bench_gc_pauses.py", "--quick")
    assert "running plain (3,000 events)" in out and "running freeze (3,000 events)" in out
    events = re.search(r"^events/s\s+([\d,]+)\s+([\d,]+)\s+([\d.]+)$", out, re.M)
    assert events and all(float(g.replace(",", "")) > 0 for g in events.groups()), out
    walked = re.search(r"^objects the GC walks, end\s+([\d,]+)\s+([\d,]+)", out, re.M)
    assert walked, out
    plain, frozen = (int(g.replace(",", "")) for g in walked.groups())
    assert frozen < plain / 10, out  # the catalog and features are out of the collector's walk
    for g in (0, 1, 2):
        assert re.search(rf"^gen {g} collections\s+\d+\s+\d+$", out, re.M), out


@pytest.mark.broker
def test_throughput_benchmark_measures_all_consumers_with_their_cpu_per_event() -> None:
    out = run("bench_throughput.py", "--quick")
    for name in (
        "fillrate worker",
        "fillrate worker, new group",
        "Faust floor, worker topology",
        "Faust floor, stock delivery",
        "plain Faust agent",
        "plain aiokafka loop",
    ):
        # events/s, vs Faust, vs aiokafka, us CPU/event, CPU vs Faust
        assert re.search(rf"^{name}\s+[\d,]+(\s+[\d.]+){{4}}$", out, re.M), out
    assert re.search(r"Faust floor of its\s+own topology \(stretch 1.15x\): now [\d.]+x", out), out
    assert re.search(r"Faust's own per-message delivery .*: [\d.]+x\.", out), out


@pytest.mark.broker
# Heavy (about 30 s, four Faust processes): CI runs its batched write-back step in the
# throughput benchmark's smoke test, beside the worker.
@pytest.mark.heavy
def test_faust_floor_benchmark_measures_each_step_of_the_workers_shape() -> None:
    out = run("bench_faust_floor.py", "--quick")
    for name in (
        "plain agent, consume only",
        "worker topology",
        r"\+ 1.3 records/event, batched",
        r"\+ 1.3 records/event, batched, Faust's delivery",
        r"\+ 1.3 records/event, send each",
    ):
        # events/s, vs plain, us CPU/event, CPU vs plain
        assert re.search(rf"^{name}\s+[\d,]+(\s+[\d.]+){{3}}$", out, re.M), out
    assert "The 0.8x target allows 1.25x" in out, out


def table_rows(out: str, first_column: str, columns: int) -> list[list[float]]:
    """Rows of a printed table whose first cell matches ``first_column``, as numbers."""
    cell = r"\s+([\d,.]+%?)"
    pattern = rf"^\s*({first_column}){cell * (columns - 1)}$"
    return [
        [float(x.replace(",", "").rstrip("%")) for x in m.groups()]
        for m in re.finditer(pattern, out, re.M)
    ]


@pytest.mark.broker
def test_latency_benchmark_reports_ordered_percentiles_at_each_load() -> None:
    out = run("bench_latency.py", "--quick")
    assert re.search(r"maximum sustained rate [\d,]+ events/s", out), out
    # with two cores or more the worker gets one of its own, the broker and the load the rest
    placement = r"^the worker (on core \d+ of its own|shares the machine's cores)"
    assert re.search(placement, out, re.M), out
    rows = table_rows(out, r"\d+%", 16)
    assert [row[0] for row in rows] == [25, 50, 90], out
    rates = [row[1] for row in rows]
    assert rates[0] < rates[1] < rates[2], out
    for _load, _rate, _sent, rankings, p50, p99, p999, _catch_up, own50, own99, *rest in rows:
        within_target, lag99, reranks, waited, fetch50, fetch99 = rest
        assert 0 <= within_target <= 100, out  # % of the own latencies within 5 ms
        assert 0 <= waited <= 100, out  # % of the time its loop waited for a core (schedstat)
        assert 0 <= fetch50 <= fetch99 and fetch99 >= 1, out  # records per fetch (histogram)
        assert lag99 >= 0, out  # the event loop's lag, read from its histogram
        assert reranks >= 0, out  # model-update re-rankings published a second, from a counter
        assert rankings > 0, out  # stock-out rankings matched to their tagged signals
        assert 0 < p50 <= p99 <= p999, out
        assert 0 < own50 <= own99 <= p99, out  # the worker's own part is part of the whole
    assert re.search(r"target p99 < 50 ms at 50% of the maximum rate: (met|not met)$", out, re.M)
    assert re.search(r"the worker's own p99 < 5 ms at 50% .*: (met|not met) \(", out), out


@pytest.mark.broker
@pytest.mark.heavy  # about a minute: the whole Instacart catalog, three paced rates
def test_replies_benchmark_answers_every_request_at_each_rate_beside_the_rankings() -> None:
    out = run("bench_replies.py", "--quick")
    table = out.partition("request to reply")[2].partition("\n\n")[0]
    rows = table_rows(table, r"\d+", 12)
    assert [row[0] for row in rows] == [20, 100, 300], out
    for rate, _sent, replies, p50, p99, p999, rankings, *ranked, _x50, _x99 in rows:
        assert replies == rate * 2, out  # every request of the 2 s answered and matched
        assert 0 < p50 <= p99 <= p999, out
        assert rankings > 0 and 0 < ranked[0] <= ranked[1] <= ranked[2], out
    # the worker's own histograms over the same periods: every reply, and its own part
    own = table_rows(out.partition("the worker's histograms")[2].partition("\n\n")[0], r"\d+", 8)
    assert [row[:2] for row in own] == [[rate, rate * 2] for rate in (20, 100, 300)], out
    for _rate, _replies, p50, p99, own50, own99, *_ranking in own:
        assert 0 < own50 <= own99 and 0 < p50 <= p99, out
    # the worker's reply histogram counted the same replies (plus the warm-up's 40)
    whole = re.search(r"seconds, whole run, warm-up included \(([\d,]+) replies\)", out)
    assert whole and int(whole.group(1).replace(",", "")) == 40 + sum(r[2] for r in rows), out
    assert re.search(r"first pick from the customer \d+", out), out  # preferences were read
    assert "empty (customer_declined)" in out, out


def test_scale_benchmark_keeps_state_to_the_observed_pairs() -> None:
    out = run("bench_scale.py", "--quick")
    rows = table_rows(out, r"[\d,]+", 9)
    assert [row[0] for row in rows] == [10, 100, 1000], out
    for stores, events, observed, entries, dense, _share, per_entry, _rss, rate in rows:
        assert events == 5000, out
        assert entries == observed, out  # one entry per (store, item) seen, nothing else
        assert entries < dense == stores * 49_688, out
        assert per_entry > 0 and rate > 0, out
    assert re.search(r"target < 200 bytes per availability entry: (met|not met)", out), out


@pytest.mark.broker
def test_scaleout_benchmark_drains_with_one_and_two_workers() -> None:
    out = run("bench_scaleout.py", "--quick")
    rows = table_rows(out, r"[12]", 7)
    assert [row[0] for row in rows] == [1, 2], out
    assert all(seconds > 0 for _, seconds, *_ in rows), out
    # the CPU the workers used while draining, and the machine (broker, workers and all else)
    assert all(0 < workers <= machine for *_, workers, machine in rows), out
    two = re.search(r"2 workers drained 3,000 events .*shares (\d+)% / (\d+)%\)", out)
    assert two, out
    shares = [int(s) for s in two.groups()]
    assert min(shares) > 0 and 99 <= sum(shares) <= 101, out  # the group split the partitions
    assert re.search(r"target speed-up >= 1.5x with two workers: (met|not met)", out), out


@pytest.mark.broker
def test_recovery_benchmark_restores_state_and_replays_the_learning_log() -> None:
    out = run("bench_recovery.py", "--quick")
    assert re.search(
        r"^store state: 20,000 entries restored in [\d.]+s: [\d.]+s per million entries", out, re.M
    ), out
    assert re.search(
        r"^model: 1,000 feedback events replayed in [\d.]+s: [\d.]+s per million events", out, re.M
    ), out


def ceiling_rows(out: str) -> dict[str, tuple[float, float]]:
    """policy -> (acceptance, gap closure) from the ceiling benchmark's table."""
    rows = re.findall(r"^(\w+)\s+([\d.]+)\s+(-?[\d.]+)\s+\(", out, re.M)
    return {name: (float(acceptance), float(gap)) for name, acceptance, gap in rows}


def test_learnability_ceiling_scores_the_ideal_learner_between_random_and_the_oracle() -> None:
    out = run("learnability_ceiling.py", "--quick")
    rows = ceiling_rows(out)
    assert list(rows) == ["random", "known", "ideal", "oracle"], out
    assert rows["random"][1] == 0.0 and rows["oracle"][1] == 1.0, out
    assert rows["random"][0] < rows["ideal"][0] <= rows["oracle"][0], out
    assert len(re.findall(r"^  events\s+[\d,]+-[\d,]+\s+-?[\d.]+$", out, re.M)) == 2, out


def test_learnability_ceiling_without_latent_effects_is_the_oracle() -> None:
    """With no latent effects there is nothing to learn: the formula alone is the oracle."""
    out = run("learnability_ceiling.py", "--quick", "--population", "catalog", "--thompson")
    rows = ceiling_rows(out)
    assert list(rows) == ["random", "known", "thompson", "oracle"], out
    assert rows["known"] == rows["thompson"] == rows["oracle"], out


def test_learnability_ceiling_blind_to_the_customer_learns_against_a_panel() -> None:
    out = run("learnability_ceiling.py", "--quick", "--blind", "5")
    assert "blind: knows a panel of 5 customers' mean, not who asks" in out, out
    rows = ceiling_rows(out)
    assert list(rows) == ["random", "known", "ideal", "panel_best", "oracle"], out
    assert rows["random"][0] < rows["known"][0] < rows["oracle"][0], out
    assert rows["random"][0] < rows["panel_best"][0] <= rows["oracle"][0], out


def test_learnability_ceiling_states_a_token_worlds_ceiling_for_a_blind_ranking() -> None:
    """On a token world only an item's appeal is latent: the best offer for the panel's
    average customer is the ceiling a ranking per (store, item) is held to."""
    out = run("learnability_ceiling.py", "--quick", "--blind", "5", "--population", "tokens-aisle")
    rows = ceiling_rows(out)
    assert list(rows) == ["random", "known", "ideal", "panel_best", "oracle"], out
    assert rows["random"][1] < 0.5 < rows["panel_best"][1] <= rows["oracle"][1] == 1.0, out


def test_learnability_ceiling_says_when_a_seed_ran_out_of_simulated_time() -> None:
    out = run("learnability_ceiling.py", "--quick", "--max-days", "0.002")
    note = re.search(
        r"^note: seed 1 stopped after 0.002 simulated days with (\d+) feedback", out, re.M
    )
    assert note and 0 < int(note.group(1)) < 400, out
    assert re.search(rf"^  events\s+0-{note.group(1)}\s", out, re.M), out


def test_learnability_ceiling_refuses_an_unknown_level() -> None:
    result = launch("learnability_ceiling.py", "--learn", "aisle", timeout=60)
    assert result.returncode == 2
    assert "unknown level(s) aisle; choose from appeal, pair, brand, switch" in result.stderr


def test_learning_capacity_scores_each_feature_set_and_each_amount_of_feedback() -> None:
    """Every fit is scored on held-out pools; the hashed keys, fitted to the truth with plenty
    of data, rank better than the hand-set prior (what tells capacity from learning)."""
    out = run("learning_capacity.py", "--quick")
    rows = dict(re.findall(r"^(\S+(?: \(shipped\))?)\s+(-?[\d.]+)\s+[\d.]+$", out, re.M))
    names = ["prior (shipped)", "linear-15", "linear-15+bins", "linear-15+aisle"]
    fits = ["linear-15+keys", "linear-15+aisle+keys", "hgb-15", "hgb-15+aisle"]
    assert list(rows) == [*names, *fits], out
    assert all(-1.0 < float(v) <= 1.0 for v in rows.values()), out
    assert float(rows["linear-15+keys"]) > float(rows["prior (shipped)"]), out
    assert re.search(r"^memo-300 \(online, last 300: -?[\d.]+\)\s+-?[\d.]+$", out, re.M), out
    assert re.search(r"^fit-300 uniform linear-15\+aisle\+keys\s+-?[\d.]+$", out, re.M), out


def test_learning_capacity_compares_exploration_policies_of_the_memo_learner() -> None:
    """Each policy gets a row: its offers' gap closure over the stream and its held-out one."""
    out = run(
        "learning_capacity.py", "--quick", "--explore", "uniform:0.05", "ucb:0.5", "thompson:0.5"
    )
    rows = re.findall(r"^(\S+:[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)$", out, re.M)
    assert [name for name, *_ in rows] == ["uniform:0.05", "ucb:0.5", "thompson:0.5"], out
    assert all(-1.0 < float(v) <= 1.0 for _, *values in rows for v in values), out
    bound = re.search(r"^one-shot memo bound\s+(-?[\d.]+)\s+(-?[\d.]+)\s+-$", out, re.M)
    assert bound is not None, out
    assert all(-1.0 < float(v) <= 1.0 for v in bound.groups()), out
    assert re.search(r"^  requests asked 0 times before\s+\d+%$", out, re.M), out
    assert "linear-15" not in out, out  # the fits are skipped
    bad = launch("learning_capacity.py", "--explore", "x:1", timeout=60)
    assert bad.returncode == 2
    expected = "--explore x:1: unknown policy; choose from uniform, runner-up, ucb, thompson"
    assert expected in bad.stderr


@pytest.mark.broker
def test_bad_input_benchmark_dead_letters_every_kind_and_ranks_the_good_record() -> None:
    out = run("bench_bad_input.py", "--quick")
    rows = re.findall(r"^(\w+, \w+)\s+([\d,]+)\s+([\d.]+)x\s+([\d.]+) s$", out, re.M)
    scenarios = {name for name, *_ in rows}
    assert scenarios == {
        f"{topic}, {kind}"
        for topic, kinds in (
            ("signals", ("unknown_item", "unknown_store", "malformed", "schema")),
            ("feedback", ("unknown_item", "unknown_store", "malformed", "schema")),
            ("catalog", ("malformed", "schema")),
        )
        for kind in kinds
    }, out
    for _name, rate, ratio, delay in rows:  # every burst dead-lettered, every good record seen
        assert float(rate.replace(",", "")) > 0 and float(ratio) > 0 and float(delay) > 0, out
    assert re.search(r"^valid signals \(baseline\)\s+[\d,]+\s+1\.00x\s+[\d.]+ s$", out, re.M), out


@pytest.mark.heavy  # about a minute: a 20,000-event state, three snapshot codecs
def test_snapshot_benchmark_restores_each_codec_to_the_same_model() -> None:
    out = run("bench_snapshot.py", "--quick")
    assert re.search(r"replay baseline: 2,000 events in [\d.]+ s = \d+ us/event", out), out
    for codec in ("none", "zlib", "lzma"):  # each restored engine held the same digests
        assert re.search(rf"^\s+{codec}: .* restore .*\(digests equal\)$", out, re.M), out
    assert re.search(r"snapshot at least every [\d,]+ events", out), out


@pytest.mark.broker
@pytest.mark.heavy  # one to three minutes: four worker processes one after another
def test_restart_benchmark_readies_each_worker_from_the_snapshot_with_every_event_learned() -> None:
    out = run("bench_restart.py", "--quick", timeout=600)
    assert "2. snapshot at offset 17,999: state of 18,000 events" in out, out
    names = ("first of a new group", "the same worker restarted", "a worker added to the group")
    for name in names:  # each waited for all 20,000 learned, the snapshot loaded per its log
        assert re.search(
            rf"{name}: all learned\s+[\d.]+ s .* the snapshot loaded in\s+[\d.]+ s$", out, re.M
        ), out
    assert re.search(r"baseline: a worker without snapshots learned all 5,000 events", out), out
