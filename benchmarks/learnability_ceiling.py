"""How much of the oracle gap *any* learner could close with so many feedback events.

The target is a gap closure of 0.85 after 20,000 feedback events: (policy - random) /
(oracle - random), where the oracle knows every hidden effect and this customer's tastes. This
benchmark measures what is learnable at all in that many events, with policies given far more
than a learner ever sees (the simulator's hidden truth, so never a policy to ship):

- ``known``: the simulator's own acceptance formula, each customer's hidden tastes and the true
  shelves; every latent effect (an item's appeal, a pair's twist, an aisle's standing of a
  brand, a brand-to-brand switch: ``Simulation.hidden_effects``) taken at its prior mean, 0.
- ``ideal``: the same, and it learns every latent effect from the outcomes of its own offers
  with the exact prior sds of the population: Gaussian assumed-density filtering on the logit
  (the AdPredictor update: one Newton step on the sum of the pair's effects, split by each
  effect's share of the variance). It offers the argmax of its posterior mean.
- ``thompson`` (``--thompson``): the same learner offering a posterior sample's argmax.
- ``--blind``: ``known`` and the learner do not know who is asking, as a ranking per
  (store, item) cannot: the formula is averaged over a fixed panel of customers (their mean
  logit for the pair without the latent effects), and the learner learns against that average,
  so a customer's own tastes are noise to it. Still given the formula and the panel's tastes.
  It also scores ``panel_best``: the candidate with the highest true acceptance averaged over
  the panel, every latent effect known. That is the most a ranking that cannot see the
  customer could offer however much it learned, the ceiling to hold a per-(store, item)
  ranking to; on a token world (``--population tokens-...``, whose only latent effect is an
  item's appeal) it is the number to state the bar against.

Every policy answers the same requests of one simulation (the ideal learner's offers are the
ones resolved, so its feedback is what it learns from) from the same pools as ``fillrate
evaluate``'s baselines (same aisle, rule-passing, truly in stock). Acceptance is expected
acceptance (the true probability of the offer), over all requests of the run, as in the
evaluator; the per-window table shows when the learner's gap closure would pass a bar.

    .venv/bin/python benchmarks/learnability_ceiling.py                 # 3 seeds x 20,000
    .venv/bin/python benchmarks/learnability_ceiling.py --quick         # CI smoke
    .venv/bin/python benchmarks/learnability_ceiling.py --learn brand,switch --seeds 1
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from online_learning.contract import Product
from online_learning.engine import SubstitutionEngine
from online_learning.logistic import logit, sigmoid
from online_learning.offline.evaluation import AislePools
from online_learning.offline.instacart import load_instacart_products, load_order_popularity
from online_learning.offline.populations import POPULATIONS
from online_learning.offline.simulation import P_MAX, P_MIN, SimConfig, Simulation
from online_learning.rules import load_rules

LEVELS = ("appeal", "pair", "brand", "switch")
REFUSAL = -math.inf  # the blind known logit of a pair every panel customer refuses


class LatentPosterior:
    """Independent Gaussian beliefs about each latent effect, updated by ADF on the logit.

    Three accepts in four on an offer whose known part is 0 teach the sum of its effects
    logit(0.75) = 1.10, shared by how uncertain each effect was (the brand's sd is larger):

    >>> post = LatentPosterior({"appeal": 0.4, "brand": 0.6})
    >>> keys = ["appeal|item-1|0", "brand|milk|acme|0"]
    >>> for i in range(400):
    ...     post.update(keys, known_logit=0.0, accepted=i % 4 != 0)
    >>> round(post.mean_var(keys)[0], 1), post.mean_var(keys[:1])[0] < post.mean_var(keys[1:])[0]
    (1.1, True)
    """

    def __init__(self, prior_sd: dict[str, float]) -> None:
        self.prior_var = {level: sd * sd for level, sd in prior_sd.items()}
        self.beliefs: dict[str, tuple[float, float]] = {}

    def _belief(self, key: str) -> tuple[float, float]:
        belief = self.beliefs.get(key)
        return belief if belief is not None else (0.0, self.prior_var[key.split("|", 1)[0]])

    def mean_var(self, keys: Sequence[str]) -> tuple[float, float]:
        """Mean and variance of the sum of these effects."""
        mean = var = 0.0
        for key in keys:
            m, v = self._belief(key)
            mean += m
            var += v
        return mean, var

    def update(self, keys: Sequence[str], known_logit: float, accepted: bool) -> None:
        """One outcome of an offer whose logit is ``known_logit`` plus the sum of ``keys``."""
        total_mean, total_var = self.mean_var(keys)
        p = sigmoid(known_logit + total_mean)
        gradient, curvature = float(accepted) - p, p * (1.0 - p)
        shrink = 1.0 + total_var * curvature
        for key in keys:
            m, v = self._belief(key)
            self.beliefs[key] = (m + v * gradient / shrink, v * (1.0 - v * curvature / shrink))


@dataclass
class SeedRun:
    seed: int
    totals: dict[str, float]  # policy -> sum of the true acceptance of its offers
    feedback: int = 0
    requests: int = 0
    windows: list[dict[str, float]] = field(default_factory=list)

    def acceptance(self, policy: str) -> float:
        return self.totals[policy] / self.requests if self.requests else math.nan

    def gap(self, policy: str, totals: dict[str, float] | None = None) -> float:
        t = self.totals if totals is None else totals
        span = t["oracle"] - t["random"]
        return (t[policy] - t["random"]) / span if span > 0 else math.nan


def run_seed(
    seed: int,
    feedback: int,
    *,
    engine: SubstitutionEngine,
    population: str,
    learn: Sequence[str],
    thompson: bool,
    window: int,
    products: Sequence[Product],
    blind_panel: int = 0,
    max_days: float = 30.0,
) -> SeedRun:
    """One simulation whose requests the ideal learner resolves (greedy, or by Thompson
    sampling if asked); every policy is scored on the same requests. Stops at ``feedback``
    events, or after ``max_days`` simulated days if the world never gives that many.
    ``engine`` only supplies the evaluator's candidate pools (it learns nothing here)."""
    sim = Simulation(SimConfig(seed=seed, population=population), products)
    pools = AislePools(engine, load_order_popularity(), seed)
    people = sim.population
    # A token world's only latent level is an item's appeal; the others are 0 there.
    prior_sd = {level: float(getattr(people, f"{level}_sd", 0.0)) for level in LEVELS}
    posterior = LatentPosterior({level: prior_sd[level] for level in learn})
    sampler = random.Random(f"ceiling-thompson|{seed}")
    panel = random.Random(f"ceiling-panel|{seed}").sample(sim.customer_ids, blind_panel)
    panel_known: dict[tuple[str, str], tuple[float, float]] = {}

    def blind(requested: Product, candidate: Product, latent: float) -> tuple[float, float]:
        """The panel's mean logit for this pair, less its latent effects, and the panel's mean
        true acceptance of it.

        The logit is over the customers whose acceptance is not clipped (where the logit is
        exact): one who refuses everything sits at 0.01 whatever the latent effects, and would
        turn them around. A pair every panel customer refuses scores as a refusal.
        """
        key = (requested.item_id, candidate.item_id)
        value = panel_known.get(key)
        if value is None:
            probs = [sim.true_accept_prob(c, requested, candidate) for c in panel]
            exact = [logit(p) - latent for p in probs if P_MIN < p < P_MAX]
            known = statistics.fmean(exact) if exact else REFUSAL
            value = panel_known[key] = (known, statistics.fmean(probs))
        return value

    learner = "thompson" if thompson else "ideal"
    policies = ("random", "known", learner, *(("panel_best",) if panel else ()), "oracle")
    result = SeedRun(seed, totals=dict.fromkeys(policies, 0.0))
    window_totals = dict.fromkeys(policies, 0.0)
    started = time.perf_counter()
    end_ts = sim.now + max_days * 86_400.0
    while result.feedback < feedback and sim.now < end_ts:
        _, requests = sim.advance(60.0)
        for request in requests:
            if result.feedback >= feedback:
                sim.expire(request)
                continue
            requested = sim.products[request.item_id]
            pool = [c for c in pools.pool(requested) if sim.in_stock(request.store_id, c.item_id)]
            if not pool:
                sim.expire(request)  # unfilled for every policy alike: not scored
                continue
            probs = sim.true_accept_probs(request.customer_id, requested, pool)
            effects = [sim.hidden_effects(requested, c) for c in pool]
            latent = [sum(e.values()) for e in effects]
            panel_p: list[float] = []
            if panel:
                seen = [blind(requested, c, z) for c, z in zip(pool, latent, strict=True)]
                known = [k for k, _ in seen]
                panel_p = [p for _, p in seen]
                # a hard refusal the formula shows for the whole panel
                refused = [k <= REFUSAL for k in known]
            else:
                known = [logit(p) - z for p, z in zip(probs, latent, strict=True)]
                refused = [p <= P_MIN for p in probs]  # ... for this customer
            learned_keys = [[k for k in e if k.split("|", 1)[0] in learn] for e in effects]
            scores: list[float] = []
            for k, keys, no in zip(known, learned_keys, refused, strict=True):
                if no:  # never worth offering
                    scores.append(-math.inf)
                    continue
                mean, var = posterior.mean_var(keys)
                noise = sampler.gauss(0.0, math.sqrt(var)) if thompson else 0.0
                scores.append(k + mean + noise)
            picks = {
                "random": pools.rng.randrange(len(pool)),
                "known": max(range(len(pool)), key=lambda i: known[i]),
                learner: max(range(len(pool)), key=lambda i: scores[i]),
                "oracle": max(range(len(pool)), key=lambda i: probs[i]),
            }
            if panel:
                picks["panel_best"] = max(range(len(pool)), key=lambda i: panel_p[i])
            for policy, index in picks.items():
                result.totals[policy] += probs[index]
                window_totals[policy] += probs[index]
            result.requests += 1
            offer = picks[learner]
            outcome = sim.resolve(request, [pool[offer].item_id])
            if outcome is None:
                continue
            if known[offer] > REFUSAL:  # a refusal teaches nothing about the latent effects
                posterior.update(learned_keys[offer], known[offer], outcome.outcome != "rejected")
            result.feedback += 1
            if result.feedback % window == 0:
                result.windows.append(window_totals)
                window_totals = dict.fromkeys(policies, 0.0)
                rate = result.feedback / (time.perf_counter() - started)
                print(
                    f"  seed {seed}: {result.feedback:,}/{feedback:,} feedback events"
                    f" ({rate:,.0f}/s), gap closure of the {learner} learner so far"
                    f" {result.gap(learner):.3f}",
                    file=sys.stderr,
                    flush=True,
                )
    if any(window_totals.values()):
        result.windows.append(window_totals)
    return result


def _row(name: str, values: Sequence[float], gaps: Sequence[float]) -> str:
    per_seed = ", ".join(f"{g:.3f}" for g in gaps)
    mean_gap = statistics.fmean(gaps)
    return f"{name:<10} {statistics.fmean(values):>10.4f} {mean_gap:>12.3f}   ({per_seed})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--feedback", type=int, default=20_000, help="per seed (default 20,000)")
    parser.add_argument("--population", choices=sorted(POPULATIONS), default="default")
    parser.add_argument(
        "--learn",
        default=",".join(LEVELS),
        help="latent levels the ideal learner learns, comma separated (default: all four)",
    )
    parser.add_argument(
        "--thompson", action="store_true", help="offer posterior samples instead of the mean"
    )
    parser.add_argument(
        "--blind",
        type=int,
        nargs="?",
        const=20,
        default=0,
        metavar="PANEL",
        help="know only a panel's average customer (default panel: 20), not who is asking",
    )
    parser.add_argument(
        "--max-days",
        type=float,
        default=30.0,
        help="stop a seed after this many simulated days however little feedback (default 30)",
    )
    parser.add_argument("--window", type=int, default=5_000, help="feedback events per window")
    parser.add_argument(
        "--quick", action="store_true", help="CI smoke: 1 seed, 400 events, 3,000-item catalog"
    )
    args = parser.parse_args(argv)
    learn = [level.strip() for level in args.learn.split(",") if level.strip()]
    unknown = sorted(set(learn) - set(LEVELS))
    if unknown:
        parser.error(
            f"--learn: unknown level(s) {', '.join(unknown)}; choose from {', '.join(LEVELS)}"
        )
    if args.feedback < 1 or args.window < 1 or args.blind < 0 or not args.max_days > 0:
        parser.error("--feedback and --window must be >= 1, --blind >= 0, --max-days > 0")
    seeds = args.seeds
    if args.quick:
        seeds, args.feedback, args.window = seeds[:1], 400, 200
    # one catalog for every seed's simulation and for the candidate pools
    products = load_instacart_products(3000 if args.quick else None)
    learner = "thompson" if args.thompson else "ideal"
    print(
        f"learnability ceiling: population {args.population}, {args.feedback:,} feedback events"
        f" per seed, seeds {' '.join(map(str, seeds))}; the {learner} learner learns"
        f" {', '.join(learn) or 'nothing'}"
        + (
            f"; blind: knows a panel of {args.blind} customers' mean, not who asks"
            if args.blind
            else ""
        )
    )
    engine = SubstitutionEngine(
        rules=load_rules(),
        popularity=load_order_popularity(),
        products=products,
        wall_clock=lambda: 0.0,
    )
    runs = [
        run_seed(
            seed,
            args.feedback,
            engine=engine,
            population=args.population,
            learn=learn,
            thompson=args.thompson,
            window=args.window,
            products=products,
            blind_panel=args.blind,
            max_days=args.max_days,
        )
        for seed in seeds
    ]
    for run in runs:
        if run.feedback < args.feedback:
            print(
                f"note: seed {run.seed} stopped after {args.max_days:g} simulated days with"
                f" {run.feedback:,} feedback events of the {args.feedback:,} asked"
            )
    print(f"\n{'policy':<10} {'acceptance':>10} {'gap closure':>12}   (per seed)")
    print("-" * 60)
    for policy in runs[0].totals:  # random, known, the learner, oracle
        print(_row(policy, [r.acceptance(policy) for r in runs], [r.gap(policy) for r in runs]))
    print(f"\n{learner} learner's gap closure per window of {args.window:,} feedback events:")
    n = min(len(r.windows) for r in runs)
    for i in range(n):
        gaps = [r.gap(learner, r.windows[i]) for r in runs]
        end = min((i + 1) * args.window, min(r.feedback for r in runs))
        print(f"  events {i * args.window:>7,}-{end:<7,} {statistics.fmean(gaps):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
