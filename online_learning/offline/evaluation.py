"""Offline evaluation: the learning core against baselines and an oracle on the simulator.

One :class:`~online_learning.offline.simulation.Simulation` per seed produces one stream of
signals and substitution requests. Every policy answers *the same* requests and is scored on
the hidden truth, the expected acceptance (``Simulation.true_accept_prob``) of the item it would
offer; only the ``learned`` policy's ranking is actually resolved in the simulation, so the
stream stays one and its feedback is what the learner learns from. No Kafka here.

Policies:

- ``learned``: a :class:`SubstitutionEngine` fed every signal and every feedback event, and
  the demand its signals show (as a worker's summaries come back from the learning log).
- ``prior``: the same engine fed the same signals but never any feedback nor demand (its
  content prior, with the catalog's popularity figures).
- ``random``: a random in-stock, rule-passing candidate of the requested item's aisle.
- ``popular``: of those candidates, the one with the largest popularity figure in the
  catalog (the world's order-line counts).
- ``oracle``: the such candidate with the highest true acceptance for this customer.

An engine policy offers the first item of its latest ranking for (store, item) that is truly
in stock, which is what the shopper does; a request with no ranking, an empty ranking or no
candidate is unfilled for that policy and scores 0. ``acceptance`` is therefore the expected
share of substitution requests filled by an accepted substitute.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from online_learning.contract import InventorySignal, Product
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.monitoring import LearningMonitor
from online_learning.offline.instacart import generic_first_words
from online_learning.offline.off_policy import Logged, ips, snips
from online_learning.offline.shadow import prior_config
from online_learning.offline.simulation import SimConfig, Simulation, SubstitutionRequest
from online_learning.ranking import Ranking
from online_learning.rules import HardRules, load_rules

__all__ = [
    "POLICIES",
    "AislePools",
    "EvalResult",
    "PolicyMetrics",
    "SeedResult",
    "evaluate",
    "evaluate_seed",
    "offline_engine",
]

POLICIES = ("learned", "prior", "random", "popular", "oracle")
ENGINE_POLICIES = ("learned", "prior")
STEP_SECONDS = 60.0  # the engines refresh once per simulated minute


class FeedbackObserver(Protocol):
    """What ``evaluate`` hands each learned feedback event to (ConfidentMistakes is one)."""

    def add(
        self,
        p_accept: float,
        requested_id: str,
        substitute_id: str,
        aisle: str,
        outcome: str,
        x: Mapping[str, float],
        customer_id: str | None = None,
    ) -> None: ...


Progress = Callable[[int, int], None]  # (seed index, feedback learned in that seed)


@dataclass
class PolicyMetrics:
    """Counts of one policy over one seed's requests."""

    requests: int = 0
    offered: int = 0
    expected_accepts: float = 0.0
    violations: int = 0
    unavailable_offers: int = 0  # offered item not in stock (0 by construction)
    top1_seen: int = 0  # requests where the policy had a non-empty ranking (engines only)
    top1_unavailable: int = 0  # ... whose first item was truly out of stock

    @property
    def acceptance(self) -> float:
        return self.expected_accepts / self.requests if self.requests else 0.0

    @property
    def fill(self) -> float:
        return self.offered / self.requests if self.requests else 0.0

    @property
    def top1_unavailable_share(self) -> float:
        return self.top1_unavailable / self.top1_seen if self.top1_seen else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "offered": self.offered,
            "acceptance": self.acceptance,
            "fill": self.fill,
            "violations": self.violations,
            "unavailable_offers": self.unavailable_offers,
            "top1_unavailable_share": self.top1_unavailable_share,
        }


@dataclass
class SeedResult:
    seed: int
    feedback: int
    metrics: dict[str, PolicyMetrics]
    # per window of ``window`` feedback events: mean expected acceptance of learned and prior
    curve_learned: list[float] = field(default_factory=list)
    curve_prior: list[float] = field(default_factory=list)
    # off-policy check: the greedy ranking's top-1 acceptance estimated from the exploring
    # learned policy's logs (IPS, SNIPS) against its true expected value on the same requests
    off_policy: dict[str, float] = field(default_factory=dict)
    drifts: int = 0  # changes in acceptance the learned engine's ADWIN detected

    def gap_closure(self, policy: str) -> float:
        """(policy - random) / (oracle - random): 0 is random, 1 is the oracle."""
        low = self.metrics["random"].acceptance
        high = self.metrics["oracle"].acceptance
        if high - low <= 0:
            return math.nan
        return (self.metrics[policy].acceptance - low) / (high - low)


@dataclass
class EvalResult:
    seeds: list[SeedResult]
    target_feedback: int
    window: int
    sim_config: SimConfig

    def summary(self) -> dict[str, dict[str, float]]:
        """Per policy: mean and std over seeds of each metric."""
        out: dict[str, dict[str, float]] = {}
        for policy in POLICIES:
            rows = {
                "acceptance": [s.metrics[policy].acceptance for s in self.seeds],
                "gap_closure": [s.gap_closure(policy) for s in self.seeds],
                "fill": [s.metrics[policy].fill for s in self.seeds],
                "violations": [float(s.metrics[policy].violations) for s in self.seeds],
                "unavailable_offers": [
                    float(s.metrics[policy].unavailable_offers) for s in self.seeds
                ],
                "top1_unavailable_share": [
                    s.metrics[policy].top1_unavailable_share for s in self.seeds
                ],
            }
            stats: dict[str, float] = {}
            for name, values in rows.items():
                stats[f"{name}_mean"] = statistics.fmean(values)
                stats[f"{name}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
            stats["violations_total"] = sum(rows["violations"])
            out[policy] = stats
        return out

    def curve(self) -> dict[str, list[float]]:
        """Window ends (feedback events) and the mean over seeds of each engine's acceptance."""
        n = min(len(s.curve_learned) for s in self.seeds)
        ends = [min((i + 1) * self.window, self.target_feedback) for i in range(n)]
        learned = [statistics.fmean(s.curve_learned[i] for s in self.seeds) for i in range(n)]
        prior = [statistics.fmean(s.curve_prior[i] for s in self.seeds) for i in range(n)]
        return {"feedback": [float(e) for e in ends], "learned": learned, "prior": prior}

    def to_dict(self) -> dict[str, Any]:
        config = {
            k: getattr(self.sim_config, k)
            for k in (
                "n_stores",
                "n_customers",
                "orders_per_minute",
                "catalog_limit",
                "shift_at",
                "population",
            )
        }
        return {
            "target_feedback": self.target_feedback,
            "window": self.window,
            "sim_config": config,
            "summary": self.summary(),
            "curve": self.curve(),
            "seeds": [
                {
                    "seed": s.seed,
                    "feedback": s.feedback,
                    "policies": {p: s.metrics[p].to_dict() for p in POLICIES},
                    "gap_closure": {p: s.gap_closure(p) for p in POLICIES},
                    "curve_learned": s.curve_learned,
                    "curve_prior": s.curve_prior,
                    "off_policy": s.off_policy,
                    "drifts_detected": s.drifts,
                }
                for s in self.seeds
            ],
        }


class AislePools:
    """The candidate pool of a requested item (same aisle, rule-passing), cached per item.

    What the random, popular and oracle baselines choose from (and the learnability ceiling
    benchmark too), so that their gap closures are over the same pools.
    """

    def __init__(
        self, engine: SubstitutionEngine, popularity: Mapping[str, float], seed: int
    ) -> None:
        self.engine = engine
        self.popularity = popularity
        self.rng = random.Random(f"fillrate-eval-random|{seed}")
        self._pools: dict[str, tuple[Product, ...]] = {}

    def pool(self, requested: Product) -> tuple[Product, ...]:
        cached = self._pools.get(requested.item_id)
        if cached is not None:
            return cached
        catalog = self.engine.catalog
        rules = self.engine.rules
        pool = []
        for item_id in self.engine.features.candidates(requested).candidate_ids:
            candidate = catalog.get(item_id)
            if (
                candidate is not None
                and candidate.aisle == requested.aisle
                and rules.violation(requested, candidate) is None
            ):
                pool.append(candidate)
        pool.sort(key=lambda p: p.item_id)
        self._pools[requested.item_id] = result = tuple(pool)
        return result


def offline_engine(
    products: Sequence[Product], rules: HardRules, config: EngineConfig | None = None
) -> SubstitutionEngine:
    """An engine for an offline run: deterministic, with the catalog's popularity figures."""
    # A fixed wall clock: ranking timestamps (and so the whole run) stay deterministic.
    # Popularity seeds come with the products (the world publishes its order counts).
    return SubstitutionEngine(
        rules=rules,
        products=products,
        generic_words=generic_first_words(),  # the vocabulary the catalog was enriched with
        wall_clock=lambda: 0.0,
        config=config,
    )


def evaluate_seed(
    config: SimConfig,
    target_feedback: int,
    *,
    window: int = 500,
    rules: HardRules | None = None,
    products: Sequence[Product] | None = None,
    progress: Progress | None = None,
    seed_index: int = 0,
    max_sim_seconds: float = 30 * 24 * 3600.0,
    mistakes: FeedbackObserver | None = None,
    engine_config: EngineConfig | None = None,
) -> SeedResult:
    """Run one simulation until ``target_feedback`` feedback events were learned.

    ``mistakes``, if given, sees every learned feedback event with the model's prediction
    before it learned (a :class:`~online_learning.offline.horror.ConfidentMistakes` keeps the most
    confidently wrong ones).
    """
    if target_feedback < 1 or window < 1:
        raise ValueError("target_feedback and window must be >= 1")
    rules = rules or load_rules()
    sim = Simulation(config, products)
    catalog = sim.catalog_events()
    popularity = {p.item_id: p.popularity or 0.0 for p in catalog}
    configs = {"learned": engine_config, "prior": prior_config(engine_config)}
    engines = {name: offline_engine(catalog, rules, configs[name]) for name in ENGINE_POLICIES}
    learned = engines["learned"]
    monitor = LearningMonitor()  # drift detection on the learned policy's feedback
    baselines = AislePools(learned, popularity, config.seed)
    latest: dict[str, dict[tuple[str, str], Ranking]] = {name: {} for name in ENGINE_POLICIES}
    metrics = {p: PolicyMetrics() for p in POLICIES}
    window_sums = {name: [0.0, 0] for name in ENGINE_POLICIES}  # [sum, count] of this window
    curves: dict[str, list[float]] = {name: [] for name in ENGINE_POLICIES}
    n_feedback = 0
    logged: list[Logged] = []
    greedy_truth: list[float] = []
    explored_offers = 0

    def keep(name: str, rankings: list[Ranking]) -> None:
        table = latest[name]
        for ranking in rankings:
            table[(ranking.store_id, ranking.item_id)] = ranking

    def close_window() -> None:
        for name in ENGINE_POLICIES:
            total, count = window_sums[name]
            curves[name].append(total / count if count else math.nan)
            window_sums[name] = [0.0, 0]

    def score(
        policy: str, request: SubstitutionRequest, requested: Product, offer: str | None
    ) -> None:
        m = metrics[policy]
        m.requests += 1
        p = 0.0
        if offer is not None:
            candidate = sim.products[offer]
            m.offered += 1
            if rules.violation(requested, candidate) is not None:
                m.violations += 1
            if not sim.in_stock(request.store_id, offer):
                m.unavailable_offers += 1
            p = sim.true_accept_prob(request.customer_id, requested, candidate)
            m.expected_accepts += p
        if policy in window_sums:
            window_sums[policy][0] += p
            window_sums[policy][1] += 1

    def engine_offer(
        policy: str, request: SubstitutionRequest
    ) -> tuple[Ranking | None, str | None]:
        ranking = latest[policy].get((request.store_id, request.item_id))
        if ranking is None or not ranking.substitutes:
            return ranking, None
        m = metrics[policy]
        ids = ranking.substitute_ids()
        m.top1_seen += 1
        if not sim.in_stock(request.store_id, ids[0]):
            m.top1_unavailable += 1
        for item_id in ids:
            if item_id != request.item_id and sim.in_stock(request.store_id, item_id):
                return ranking, item_id
        return ranking, None

    def log_decision(
        request: SubstitutionRequest,
        requested: Product,
        ranking: Ranking,
        offer: str | None,
        accepted: bool,
    ) -> None:
        """Log (shown first item, propensity, outcome) when the first item was the offer."""
        nonlocal explored_offers
        ids = ranking.substitute_ids()
        if offer is None or offer != ids[0]:
            return
        greedy_top = ids[1] if ranking.explored else ids[0]
        if not sim.in_stock(request.store_id, greedy_top):
            return
        explored_offers += ranking.explored
        logged.append(Logged(float(accepted), ranking.propensity, not ranking.explored))
        truth = sim.true_accept_prob(request.customer_id, requested, sim.products[greedy_top])
        greedy_truth.append(truth)

    def answer(request: SubstitutionRequest) -> None:
        nonlocal n_feedback
        requested = sim.products[request.item_id]
        ranking, offer = engine_offer("learned", request)
        score("learned", request, requested, offer)
        score("prior", request, requested, engine_offer("prior", request)[1])
        in_stock = [
            c for c in baselines.pool(requested) if sim.in_stock(request.store_id, c.item_id)
        ]
        pick_random: str | None = None
        pick_popular: str | None = None
        pick_oracle: str | None = None
        if in_stock:
            probs = sim.true_accept_probs(request.customer_id, requested, in_stock)
            best = max(range(len(in_stock)), key=lambda i: (probs[i], in_stock[i].item_id))
            pick_random = in_stock[baselines.rng.randrange(len(in_stock))].item_id
            pick_popular = max(
                in_stock, key=lambda c: (popularity.get(c.item_id, 0), c.item_id)
            ).item_id
            pick_oracle = in_stock[best].item_id
        score("random", request, requested, pick_random)
        score("popular", request, requested, pick_popular)
        score("oracle", request, requested, pick_oracle)
        if ranking is None:
            sim.expire(request)
            return
        feedback = sim.resolve(request, ranking.substitute_ids(), ranking.ranking_id)
        if feedback is not None:
            # accepted at the door (a refund comes later): what true_accept_prob describes
            log_decision(request, requested, ranking, offer, feedback.outcome != "rejected")
            outcome = learned.on_feedback(feedback)
            monitor.observe(outcome)
            if mistakes is not None and outcome.features is not None:
                mistakes.add(
                    outcome.p,
                    requested.item_id,
                    feedback.substitute_id,
                    requested.aisle,
                    feedback.outcome,
                    outcome.features,
                    feedback.customer_id,
                )
            n_feedback += 1
            if n_feedback % window == 0:
                close_window()

    end_ts = config.start_ts + max_sim_seconds
    while n_feedback < target_feedback and sim.now < end_ts:
        signals, requests = sim.advance(STEP_SECONDS)
        events: list[tuple[float, int, InventorySignal | SubstitutionRequest]] = [
            (s.ts, 0, s) for s in signals
        ]
        events.extend((r.ts, 1, r) for r in requests)
        events.sort(key=lambda e: (e[0], e[1]))
        for _, kind, event in events:
            if kind == 0:
                assert isinstance(event, InventorySignal)
                for name, engine in engines.items():
                    keep(name, engine.on_signal(event))
                continue
            assert isinstance(event, SubstitutionRequest)
            if n_feedback >= target_feedback:
                sim.expire(event)  # past the target: close the line without scoring it
            else:
                answer(event)
        for name, engine in engines.items():
            demand = engine.take_demand()
            if demand is not None and name == "learned":
                # one worker: its demand summaries come back from the learning log unchanged;
                # the prior never learns, popularity included
                engine.apply_demand(demand)
            keep(name, engine.refresh())
        if progress is not None:
            progress(seed_index, min(n_feedback, target_feedback))
    if n_feedback % window:
        close_window()
    off_policy = {
        "logged": float(len(logged)),
        "explored_share": explored_offers / len(logged) if logged else math.nan,
        "greedy_ips": ips(logged),
        "greedy_snips": snips(logged),
        "greedy_true": statistics.fmean(greedy_truth) if greedy_truth else math.nan,
    }
    return SeedResult(
        seed=config.seed,
        feedback=n_feedback,
        metrics=metrics,
        curve_learned=curves["learned"],
        curve_prior=curves["prior"],
        off_policy=off_policy,
        drifts=monitor.drifts,
    )


def evaluate(
    seeds: Sequence[int],
    target_feedback: int,
    *,
    sim_config: SimConfig | None = None,
    window: int = 500,
    rules: HardRules | None = None,
    products: Sequence[Product] | None = None,
    progress: Progress | None = None,
    mistakes: FeedbackObserver | None = None,
    engine_config: EngineConfig | None = None,
) -> EvalResult:
    """:func:`evaluate_seed` for each seed (the seed replaces ``sim_config.seed``)."""
    if not seeds:
        raise ValueError("evaluate needs at least one seed")
    base = sim_config or SimConfig()
    rules = rules or load_rules()
    results = [
        evaluate_seed(
            replace(base, seed=seed),
            target_feedback,
            window=window,
            rules=rules,
            products=products,
            progress=progress,
            seed_index=index,
            mistakes=mistakes,
            engine_config=engine_config,
        )
        for index, seed in enumerate(seeds)
    ]
    return EvalResult(
        seeds=results, target_feedback=target_feedback, window=window, sim_config=base
    )
