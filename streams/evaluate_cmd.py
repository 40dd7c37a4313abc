"""``fillrate evaluate``: the offline evaluation (online_learning/offline/evaluation.py), no broker.

Prints a table of every policy over the seeds, and writes ``evaluation.json`` (every number)
and ``learning_curve.png`` (learned vs prior expected acceptance per feedback window) into
``--out``. With ``--personal``, the evaluation of personal replies
(online_learning/offline/personal_evaluation.py) instead: a table by how much feedback each
customer has had, and ``personal_evaluation.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from online_learning.engine import EngineConfig
from online_learning.interactions import InteractionConfig
from online_learning.offline.evaluation import POLICIES, EvalResult, evaluate
from online_learning.offline.horror import ConfidentMistakes
from online_learning.offline.instacart import load_instacart_products
from online_learning.offline.personal_evaluation import (
    BUCKETS,
    PERSONAL_SIM,
    PersonalResult,
    evaluate_personal,
)
from online_learning.offline.personal_evaluation import POLICIES as POLICIES_PERSONAL
from online_learning.offline.populations import population
from online_learning.offline.simulation import SimConfig
from online_learning.personal import TastesConfig
from online_learning.rules import load_rules
from streams.arg_types import add_population_flag, positive_float, positive_int

__all__ = [
    "add_evaluate_flags",
    "format_mistakes",
    "format_off_policy",
    "format_personal",
    "format_table",
    "run_evaluate",
    "write_outputs",
]

QUICK_FEEDBACK = 1500
FEEDBACK = 20000
PERSONAL_FEEDBACK = 6000
WINDOW = 500


def add_evaluate_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=3, help="simulations to run (default: 3)")
    parser.add_argument(
        "--feedback",
        type=int,
        default=None,
        help=f"stop each seed after this many learned feedback events (default: {FEEDBACK};"
        f" {PERSONAL_FEEDBACK} with --personal)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("docs/eval"), help="output directory (default: docs/eval)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"1 seed, {QUICK_FEEDBACK} feedback events, full catalog (under a minute)",
    )
    parser.add_argument(
        "--first-seed", type=int, default=1, help="seeds are first-seed, +1, ... (default: 1)"
    )
    parser.add_argument(
        "--horror",
        type=int,
        default=0,
        metavar="N",
        help="also list the N most confidently wrong substitutions, grouped into themes",
    )
    parser.add_argument(
        "--shift-at",
        type=float,
        default=None,
        metavar="MINUTES",
        help="shift the simulated customers' preferences after this many simulated minutes",
    )
    parser.add_argument(
        "--catalog-limit",
        type=positive_int,
        default=None,
        help="only the first N catalog items (default: all 49,688)",
    )
    parser.add_argument(
        "--customers",
        type=positive_int,
        default=None,
        help="simulated customers (default: 2000; "
        f"{PERSONAL_SIM.n_customers} with --personal, so that many reach 50 feedback events)",
    )
    add_population_flag(parser)
    parser.add_argument(
        "--interactions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the learned engine with hashed interaction weights, as the worker runs by"
        " default (--no-interactions: without, as FILLRATE_INTERACTIONS=false)",
    )
    personal = parser.add_argument_group(
        "personal replies",
        "--personal compares each customer's reply (their choices, needs and learned tastes)"
        " with the store-level ranking on the same requests, by the customer's feedback so far",
    )
    personal.add_argument(
        "--personal",
        action="store_true",
        help="evaluate personal replies instead (customers state needs and item choices)",
    )
    personal.add_argument(
        "--tastes-shrink",
        type=positive_float,
        default=None,
        metavar="X",
        help="the per-customer tastes' prior strength (default: TastesConfig's)",
    )
    personal.add_argument(
        "--tastes-decay",
        type=positive_float,
        default=None,
        metavar="X",
        help="the per-customer tastes' decay per event, in (0, 1] (default: TastesConfig's)",
    )


def format_table(result: EvalResult) -> str:
    summary = result.summary()
    header = (
        f"{'policy':<8}  {'acceptance':>15}  {'gap closure':>13}  {'fill':>6}  "
        f"{'violations':>10}  {'top-1 unavail':>13}"
    )
    lines = [header, "-" * len(header)]
    for policy in POLICIES:
        s = summary[policy]
        gap = s["gap_closure_mean"]
        gap_text = "n/a" if math.isnan(gap) else f"{gap:.3f}±{s['gap_closure_std']:.3f}"
        unavailable = (
            f"{s['top1_unavailable_share_mean']:.1%}" if policy in ("learned", "prior") else "-"
        )
        lines.append(
            f"{policy:<8}  {s['acceptance_mean']:>7.4f}±{s['acceptance_std']:.4f}  "
            f"{gap_text:>13}  {s['fill_mean']:>6.1%}  {int(s['violations_total']):>10}  "
            f"{unavailable:>13}"
        )
    return "\n".join(lines)


def format_personal(result: PersonalResult) -> str:
    """Acceptance of each policy by the customer's feedback so far, mean ± sd over seeds."""
    summary = result.summary()
    header = (
        f"{'events':<6}  {'req/seed':>8}  {'personal':>15}  {'stated':>15}  {'store':>15}  "
        f"{'oracle':>15}  {'personal-store':>16}"
    )
    lines = [
        "true P(accept) of the offer, by the customer's feedback events before the request"
        f" (mean ± sd over {len(result.seeds)} seed(s)); stated: choices and needs, no tastes",
        header,
        "-" * len(header),
    ]
    for bucket in (*(b[0] for b in BUCKETS), "all"):
        row = summary[bucket]
        cells = [_cell(row[name], name == "lift") for name in (*POLICIES_PERSONAL, "lift")]
        lines.append(
            f"{bucket:<6}  {row['requests']['mean']:>8.0f}  "
            + "  ".join(c.rjust(15) for c in cells[:-1])
            + f"  {cells[-1]:>16}"
        )
    customers = " ".join(
        f"{b[0]}: {sum(s.customers[b[0]] for s in result.seeds) / len(result.seeds):.0f}"
        for b in BUCKETS
    )
    lines.append(f"customers per seed by their feedback at the end: {customers}")
    for seed in result.seeds:
        n = seed.no_substitute_lines
        lines.append(
            f"seed {seed.seed}: {seed.feedback} feedback events; {n} no_substitute lines,"
            f" declined by the personal reply {seed.declined['personal']},"
            f" by the store-level ranking {seed.declined['store']}"
        )
    return "\n".join(lines)


def _cell(stats: dict[str, float], signed: bool) -> str:
    mean, sd = stats["mean"], stats["sd"]
    if math.isnan(mean):
        return "-"
    return f"{mean:{'+' if signed else ''}.4f}±{sd:.4f}"


def format_off_policy(result: EvalResult) -> str:
    """The greedy ranking's top-1 acceptance: estimated from exploring logs vs its truth."""
    header = (
        f"{'seed':>4}  {'logged':>7}  {'explored':>8}  {'IPS':>6}  {'SNIPS':>6}  {'true':>6}"
        f"  {'drifts':>6}"
    )
    lines = [
        "off-policy check: greedy top-1 acceptance estimated from the learned policy's logs;"
        " drifts: acceptance changes ADWIN detected",
        header,
        "-" * len(header),
    ]
    for seed in result.seeds:
        o = seed.off_policy
        lines.append(
            f"{seed.seed:>4}  {int(o['logged']):>7}  {o['explored_share']:>8.1%}  "
            f"{o['greedy_ips']:>6.3f}  {o['greedy_snips']:>6.3f}  {o['greedy_true']:>6.3f}"
            f"  {seed.drifts:>6}"
        )
    return "\n".join(lines)


def format_mistakes(mistakes: ConfidentMistakes, catalog: dict[str, str], top: int) -> str:
    """Themes of the most confident mistakes, then the worst ones by name."""
    kept = mistakes.worst()
    lines = [
        f"most confidently wrong: {len(kept)} kept of {mistakes.seen} rejections and refunds",
        "themes (a mistake can show several): "
        + ", ".join(f"{t} {n}" for t, n in mistakes.theme_counts().most_common()),
        "aisles: " + ", ".join(f"{a} {n}" for a, n in mistakes.aisle_counts().most_common(8)),
        "",
        f"{'p_accept':>8}  {'outcome':<8}  {'themes':<18}  requested -> offered",
    ]
    for m in kept[:top]:
        lines.append(
            f"{m.p_accept:>8.3f}  {m.outcome:<8}  {','.join(m.themes) or '-':<18}  "
            f"{catalog.get(m.requested_id, m.requested_id)} -> "
            f"{catalog.get(m.substitute_id, m.substitute_id)} ({m.aisle})"
        )
    return "\n".join(lines)


def write_outputs(result: EvalResult, out: Path) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``learning_curve.png`` into ``out``; returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "evaluation.json"
    json_path.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=True) + "\n")

    curve = result.curve()
    summary = result.summary()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = curve["feedback"]
    for seed in result.seeds:
        n = len(x)
        ax.plot(x, seed.curve_learned[:n], color="tab:blue", alpha=0.2, linewidth=0.8)
        ax.plot(x, seed.curve_prior[:n], color="tab:orange", alpha=0.2, linewidth=0.8)
    ax.plot(x, curve["learned"], color="tab:blue", marker="o", markersize=3, label="learned")
    ax.plot(x, curve["prior"], color="tab:orange", marker="o", markersize=3, label="prior")
    for policy, color in (("oracle", "tab:green"), ("popular", "tab:purple"), ("random", "grey")):
        ax.axhline(
            summary[policy]["acceptance_mean"],
            color=color,
            linestyle="--",
            linewidth=1,
            label=f"{policy} (whole run)",
        )
    ax.set_xlabel(f"feedback events learned (window of {result.window})")
    ax.set_ylabel("expected top-1 acceptance")
    ax.set_title(
        f"Learned vs prior, {len(result.seeds)} seed(s); thin lines: single seeds",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    png_path = out / "learning_curve.png"
    fig.savefig(png_path, dpi=120)
    plt.close(fig)
    return json_path, png_path


class _ProgressLine:
    """A single ``\\r`` line on stderr: feedback so far / target, and an ETA."""

    def __init__(self, seeds: int, target: int, stream: TextIO = sys.stderr) -> None:
        self.seeds = seeds
        self.target = target
        self.stream = stream
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, seed_index: int, feedback: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and feedback < self.target:
            return
        self.last = now
        done = seed_index * self.target + feedback
        total = self.seeds * self.target
        elapsed = now - self.started
        eta = elapsed / done * (total - done) if done else math.nan
        eta_text = "?" if math.isnan(eta) else f"{eta:4.0f}s"
        self.stream.write(
            f"\rseed {seed_index + 1}/{self.seeds}  feedback {feedback:>6}/{self.target}  "
            f"elapsed {elapsed:4.0f}s  ETA {eta_text}   "
        )
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run_evaluate(args: argparse.Namespace) -> int:
    default = PERSONAL_FEEDBACK if args.personal else FEEDBACK
    feedback = default if args.feedback is None else args.feedback
    seeds, feedback = (1, QUICK_FEEDBACK) if args.quick else (args.seeds, feedback)
    if seeds < 1 or feedback < 1:
        print("fillrate evaluate: --seeds and --feedback must be >= 1", file=sys.stderr)
        return 2
    if args.horror < 0:
        print("fillrate evaluate: --horror must be >= 0", file=sys.stderr)
        return 2
    # Now, not after a run that can take many minutes: an output directory we cannot write to.
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"fillrate evaluate: cannot create --out {args.out}: {exc}", file=sys.stderr)
        return 2
    if not os.access(args.out, os.W_OK):
        print(f"fillrate evaluate: cannot write to --out {args.out}", file=sys.stderr)
        return 2
    if args.tastes_decay is not None and args.tastes_decay > 1.0:
        print("fillrate evaluate: --tastes-decay must be in (0, 1]", file=sys.stderr)
        return 2
    base = PERSONAL_SIM if args.personal else SimConfig()
    config = replace(base, catalog_limit=args.catalog_limit, population=args.population)
    if args.customers is not None:
        config = replace(config, n_customers=args.customers)
    if args.shift_at is not None:
        if not (args.shift_at >= 0 and math.isfinite(args.shift_at)):
            print("fillrate evaluate: --shift-at must be a number of minutes >= 0", file=sys.stderr)
            return 2
        config = replace(config, shift_at=60.0 * args.shift_at)  # seconds after the start
    progress = _ProgressLine(seeds, feedback)
    if args.personal:
        return _run_personal(args, seeds, feedback, config, progress)
    mistakes = ConfidentMistakes(capacity=max(args.horror, 200), rules=load_rules())
    result = evaluate(
        [args.first_seed + i for i in range(seeds)],
        feedback,
        sim_config=config,
        window=WINDOW,
        progress=progress,
        mistakes=mistakes if args.horror else None,
        engine_config=EngineConfig(interactions=_interactions(args)),
    )
    progress.done()
    people = population(args.population)
    print(f"customers: the {people.name!r} population ({people.description})")
    print(format_table(result))
    print()
    print(format_off_policy(result))
    if args.horror:
        names = {p.item_id: p.name for p in load_instacart_products(args.catalog_limit)}
        print()
        print(format_mistakes(mistakes, names, args.horror))
    json_path, png_path = write_outputs(result, args.out)
    print(f"wrote {json_path} and {png_path}")
    return 0


def _run_personal(
    args: argparse.Namespace,
    seeds: int,
    feedback: int,
    config: SimConfig,
    progress: _ProgressLine,
) -> int:
    tastes = TastesConfig()
    if args.tastes_shrink is not None:
        tastes = replace(tastes, shrink=args.tastes_shrink)
    if args.tastes_decay is not None:
        tastes = replace(tastes, decay=args.tastes_decay)
    result = evaluate_personal(
        [args.first_seed + i for i in range(seeds)],
        feedback,
        sim_config=config,
        progress=progress,
        engine_config=EngineConfig(tastes=tastes, interactions=_interactions(args)),
    )
    progress.done()
    people = population(args.population)
    print(
        f"customers: {config.n_customers} of the {people.name!r} population ({people.description});"
        f" {config.needs_share:.0%} state a dietary need, a choice for"
        f" {config.choice_share:.0%} of the {config.choice_items} most-ordered items;"
        f" tastes shrink {tastes.shrink}, decay {tastes.decay}"
    )
    print(format_personal(result))
    json_path = args.out / "personal_evaluation.json"
    json_path.write_text(json.dumps(result.to_dict(), indent=2, allow_nan=True) + "\n")
    print(f"wrote {json_path}")
    return 0


def _interactions(args: argparse.Namespace) -> InteractionConfig | None:
    """The interaction weights as the worker has them by default, unless --no-interactions."""
    return InteractionConfig() if args.interactions else None
