"""Offline evaluation of personal replies: one customer's reply against the store-level ranking.

One :class:`~online_learning.offline.simulation.Simulation` per seed, whose customers state
needs and item choices (:mod:`~online_learning.offline.stated_preferences`) besides their
hidden tastes. One :class:`SubstitutionEngine` is fed every signal and learns from the
feedback its personal replies get (``SubstitutionEngine.reply``, with the customer's choice
for the item and needs read from a
:class:`~online_learning.preferences.CustomerPreferences` table built from
``Simulation.preferences()``, as a worker builds it from ``customers.preferences``). Every
request is also answered, from the same engine at the same moment, without the customer's
learned tastes (``stated``) and without anything of the customer (``store``), and each answer
is scored on the hidden truth: the true P(accept) of what the shopper would offer from it
(``Simulation.expected_acceptance``: the first listed item in stock, no coin; 0 when none).

Policies (:data:`POLICIES`):

- ``personal``: the customer's choice, needs and learned taste offsets (what the worker sends);
- ``stated``: the choice and needs only, no tastes (what stating preferences alone gives);
- ``store``: the store-level ranking, identical to a reply for a customer with no history,
  no choice and no needs;
- ``oracle``: the rule-passing candidate or own pick that is truly in stock with the highest
  true P(accept) for this customer: an upper bound of the other three on every request.

Requests are bucketed (:data:`BUCKETS`) by how many feedback events the engine had learned
from that customer before the request. A ``no_substitute`` line is not scored for acceptance
(nothing is right to offer): :attr:`PersonalSeedResult.declined` counts how often each
policy offered something there anyway. No Kafka here.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from online_learning.contract import InventorySignal, Product, SubstitutionRequest
from online_learning.engine import EngineConfig, SubstitutionEngine
from online_learning.offline.evaluation import STEP_SECONDS, AislePools, Progress, offline_engine
from online_learning.offline.simulation import SimConfig, Simulation
from online_learning.personal_replies import ReplyContext, reply_to
from online_learning.preferences import CustomerPreferences
from online_learning.rules import HardRules, load_rules

__all__ = [
    "BUCKETS",
    "PERSONAL_SIM",
    "POLICIES",
    "PersonalResult",
    "PersonalSeedResult",
    "bucket_of",
    "evaluate_personal",
    "evaluate_personal_seed",
]

POLICIES = ("personal", "stated", "store", "oracle")
# (label, fewest, most) feedback events of the customer before the request; None: no limit
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0", 0, 0),
    ("1-4", 1, 4),
    ("5-19", 5, 19),
    ("20-49", 20, 49),
    ("50+", 50, None),
)
ALL = "all"
# Customers whose tastes differ (the default population's segments), with stated needs and
# item choices, few enough that many of them reach 50 feedback events in a run.
PERSONAL_SIM = SimConfig(
    n_customers=100,
    needs_share=0.1,
    choice_share=0.2,
)


def bucket_of(events: int) -> str:
    """The label of the bucket a customer with ``events`` learned feedback events is in.

    >>> [bucket_of(n) for n in (0, 1, 4, 5, 19, 20, 49, 50, 500)]
    ['0', '1-4', '1-4', '5-19', '5-19', '20-49', '20-49', '50+', '50+']
    """
    for label, low, high in BUCKETS:
        if events >= low and (high is None or events <= high):
            return label
    raise ValueError(f"events must be >= 0, got {events}")


@dataclass
class PersonalSeedResult:
    """One seed: per bucket (and ``all``), requests scored and each policy's summed true P."""

    seed: int
    feedback: int
    requests: Counter[str] = field(default_factory=Counter)
    sums: dict[str, defaultdict[str, float]] = field(default_factory=dict)  # policy -> bucket
    no_substitute_lines: int = 0
    declined: Counter[str] = field(default_factory=Counter)  # policy -> offered nothing there
    customers: Counter[str] = field(default_factory=Counter)  # bucket -> customers at the end

    def acceptance(self, policy: str, bucket: str = ALL) -> float:
        """Mean true P(accept) of the policy's offer over the bucket's requests (NaN: none)."""
        n = self.requests[bucket]
        return self.sums[policy][bucket] / n if n else math.nan


@dataclass
class PersonalResult:
    seeds: list[PersonalSeedResult]
    target_feedback: int
    sim_config: SimConfig

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """bucket -> policy (and ``lift``: personal - store, paired per seed) -> mean, sd,
        and ``requests``: mean requests per seed in the bucket. A seed with no request in a
        bucket is left out of that bucket."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for bucket in (*(b[0] for b in BUCKETS), ALL):
            seeds = [s for s in self.seeds if s.requests[bucket]]
            row: dict[str, dict[str, float]] = {}
            values: dict[str, list[float]] = {
                p: [s.acceptance(p, bucket) for s in seeds] for p in POLICIES
            }
            values["lift"] = [
                s.acceptance("personal", bucket) - s.acceptance("store", bucket) for s in seeds
            ]
            for name, xs in values.items():
                row[name] = _mean_sd(xs)
            row["requests"] = {
                "mean": statistics.fmean(s.requests[bucket] for s in seeds) if seeds else 0.0,
                "sd": 0.0,
            }
            out[bucket] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_feedback": self.target_feedback,
            "sim_config": {
                k: getattr(self.sim_config, k)
                for k in (
                    "n_stores",
                    "n_customers",
                    "catalog_limit",
                    "population",
                    "needs_share",
                    "choice_share",
                    "choice_items",
                    "no_substitute_choice_share",
                    "pick_accept",
                )
            },
            "summary": self.summary(),
            "seeds": [
                {
                    "seed": s.seed,
                    "feedback": s.feedback,
                    "requests": dict(s.requests),
                    "acceptance": {
                        p: {b: s.acceptance(p, b) for b in s.requests} for p in POLICIES
                    },
                    "no_substitute_lines": s.no_substitute_lines,
                    "declined": dict(s.declined),
                    "customers": dict(s.customers),
                }
                for s in self.seeds
            ],
        }


def _mean_sd(xs: Sequence[float]) -> dict[str, float]:
    if not xs:
        return {"mean": math.nan, "sd": math.nan}
    return {"mean": statistics.fmean(xs), "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0}


def _plain_context(engine: SubstitutionEngine) -> ReplyContext:
    """The engine's reply context without the customers' tastes (nothing learned per customer
    is read): the same model, effects and availability as its personal replies."""
    config = engine.config
    effects = engine.effects

    def pair_offset(requested: Product, candidate: Product) -> float:
        return effects.offset(engine.effect_key(requested, candidate)) if effects else 0.0

    return ReplyContext(
        features=engine.features,
        model=engine.model,
        effects=effects,
        tastes=None,
        availability=engine.availability,
        rules=engine.rules,
        top_k=config.top_k,
        threshold=config.threshold,
        explore_epsilon=config.explore_epsilon,
        explore_top=config.explore_top,
        pair_offset=pair_offset,
    )


def evaluate_personal_seed(
    config: SimConfig,
    target_feedback: int,
    *,
    rules: HardRules | None = None,
    products: Sequence[Product] | None = None,
    progress: Progress | None = None,
    seed_index: int = 0,
    max_sim_seconds: float = 30 * 24 * 3600.0,
    engine_config: EngineConfig | None = None,
) -> PersonalSeedResult:
    """Run one simulation until ``target_feedback`` feedback events were learned."""
    if target_feedback < 1:
        raise ValueError("target_feedback must be >= 1")
    rules = rules or load_rules()
    sim = Simulation(config, products)
    engine = offline_engine(sim.catalog_events(), rules, engine_config)
    plain = _plain_context(engine)
    pools = AislePools(engine, {}, config.seed)
    table = CustomerPreferences()
    for key, record in sim.preferences():
        table.apply(key, record)
    result = PersonalSeedResult(seed=config.seed, feedback=0)
    result.sums = {p: defaultdict(float) for p in POLICIES}
    learned: Counter[str] = Counter()  # customer -> feedback events learned

    def oracle(request: SubstitutionRequest, requested: Product, offers: Sequence[str]) -> float:
        # The evaluation's oracle pool (the aisle's rule-passing items), the customer's own
        # picks and whatever the replies offered (another aisle's item, say): so it bounds
        # every policy on every request.
        ids = [c.item_id for c in pools.pool(requested)]
        best = 0.0
        for item_id in dict.fromkeys([*offers, *ids]):
            candidate = sim.products.get(item_id)
            if candidate is None or item_id == request.item_id:
                continue
            if sim.in_stock(request.store_id, item_id):
                best = max(best, sim.true_accept_prob(request.customer_id, requested, candidate))
        return best

    def answer(request: SubstitutionRequest) -> None:
        requested = sim.products[request.item_id]
        customer = request.customer_id
        choice = table.choice(customer, request.item_id)
        needs = table.needs(customer)
        personal = engine.reply(request, choice, needs)
        if choice is not None and choice.choice == "no_substitute":
            result.no_substitute_lines += 1
            store = reply_to(request, requested, None, frozenset(), plain, 0.0)
            for policy, reply in (("personal", personal), ("store", store)):
                result.declined[policy] += not reply.substitutes
        else:
            replies = {
                "personal": personal,
                "stated": reply_to(request, requested, choice, needs, plain, 0.0),
                "store": reply_to(request, requested, None, frozenset(), plain, 0.0),
            }
            bucket = bucket_of(learned[customer])
            for name in (bucket, ALL):
                result.requests[name] += 1
            offers: list[str] = list(choice.substitute_ids) if choice is not None else []
            for policy, reply in replies.items():
                ids = reply.substitute_ids()
                offers.extend(ids)
                p = sim.expected_acceptance(request, ids) or 0.0
                result.sums[policy][bucket] += p
                result.sums[policy][ALL] += p
            p_oracle = oracle(request, requested, offers)
            result.sums["oracle"][bucket] += p_oracle
            result.sums["oracle"][ALL] += p_oracle
        feedback = sim.resolve(request, personal.substitute_ids(), personal.request_id)
        if feedback is not None:
            engine.on_feedback(feedback)
            learned[customer] += 1
            result.feedback += 1

    end_ts = config.start_ts + max_sim_seconds
    while result.feedback < target_feedback and sim.now < end_ts:
        signals, requests = sim.advance(STEP_SECONDS)
        # signals before requests at the same ts, as the evaluation orders them
        events: list[tuple[float, int, InventorySignal | SubstitutionRequest]] = [
            (s.ts, 0, s) for s in signals
        ]
        events.extend((r.ts, 1, r) for r in requests)
        events.sort(key=lambda e: (e[0], e[1]))
        for *_, event in events:
            if isinstance(event, InventorySignal):
                engine.on_signal(event)
            elif result.feedback >= target_feedback:
                sim.expire(event)  # past the target: close the line without scoring it
            else:
                answer(event)
        demand = engine.take_demand()
        if demand is not None:  # one worker: its summaries come back from the learning log
            engine.apply_demand(demand)
        engine.refresh()  # as a worker's timer does: retires rankings whose miss aged out
        if progress is not None:
            progress(seed_index, min(result.feedback, target_feedback))
    result.customers = Counter(bucket_of(n) for n in learned.values())
    return result


def evaluate_personal(
    seeds: Sequence[int],
    target_feedback: int,
    *,
    sim_config: SimConfig | None = None,
    rules: HardRules | None = None,
    products: Sequence[Product] | None = None,
    progress: Progress | None = None,
    engine_config: EngineConfig | None = None,
) -> PersonalResult:
    """:func:`evaluate_personal_seed` for each seed (the seed replaces ``sim_config.seed``);
    ``sim_config`` defaults to :data:`PERSONAL_SIM`."""
    if not seeds:
        raise ValueError("evaluate_personal needs at least one seed")
    base = sim_config or PERSONAL_SIM
    rules = rules or load_rules()
    results = [
        evaluate_personal_seed(
            replace(base, seed=seed),
            target_feedback,
            rules=rules,
            products=products,
            progress=progress,
            seed_index=index,
            engine_config=engine_config,
        )
        for index, seed in enumerate(seeds)
    ]
    return PersonalResult(seeds=results, target_feedback=target_feedback, sim_config=base)
