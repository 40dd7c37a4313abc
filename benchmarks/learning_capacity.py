"""Why learning stalls: can any fit of generic features rank as well as the world allows?

A ranking per (store, item) cannot see the customer, so the best it can learn is the true
acceptance averaged over the customers. This benchmark samples substitution requests and their
candidate pools the way ``fillrate evaluate`` does (same aisle, rule-passing, truly in stock:
:class:`~online_learning.offline.evaluation.AislePools`), computes that target for every
candidate (the mean true acceptance over a panel of customers, as
``learnability_ceiling.py --blind`` does) and fits, offline and with far more data than the
online learner ever sees, models over different generic feature sets to it:

- ``linear-15``: the engine's hand-set pair features (its content prior's inputs), one logistic
  regression fitted to the truth (each row twice: accepted with weight p, refused with 1 - p);
- ``linear-15+keys``: the same plus the hashed interaction keys of
  :mod:`online_learning.interactions` (one sparse column per slot);
- ``linear-15+bins``: plus each feature's value in one of 8 quantile bins (piecewise
  constant offsets, the same in every aisle);
- ``linear-15+aisle``: the 15 features plus a per-aisle copy of them (global weights plus an
  aisle's offsets, L2 on both);
- ``linear-15+aisle+keys``: both;
- ``hgb-15``, ``hgb-15+aisle``: gradient-boosted trees on the 15 features (and the aisle, as
  a category), non-linear;
- ``prior``: the engine's shipped prior weights, no fit (today's cold start).

Each fit is scored on later, held-out requests by the gap closure of its argmax: (truth of its
pick - mean truth of the pool) / (best truth of the pool - mean), summed over pools, where the
truth is the panel's mean. 1.0 is the panel's best, the ``panel_best`` ceiling.

The fits to the truth weigh every candidate of a pool alike (a uniform sample of each
training pool's candidates), while a ranking only needs the top right: they are a lower bound
on what a feature set can express for ranking, not its exact ceiling.

Then what finite feedback allows, N feedback events (each accepted with the requesting
customer's true acceptance, not the panel's):

- ``memo-N``: the prior plus a per-(requested, candidate) and a per-candidate offset (shrunk
  log-odds residuals) learned online from its own greedy offers with 5% exploration: its
  gap closure over its last 1,500 requests as it ranked them then, and on the held-out ones;
- ``fit-N greedy``: logistic regressions on those N offers and outcomes, the prior's logit
  a column and L2 pulling every other weight to 0 (so towards the prior);
- ``fit-N uniform``: the same on N uniformly offered candidates, with keys as well.

``--explore`` compares, instead of the fits, how the ``memo`` learner does under other ways
of exploring (:func:`choose`): whether exploring where the learner is unsure pays. Below
them, what any learner that remembers pairs could reach in that much feedback
(:func:`one_shot_bound`: each pair's truth known after one offer) and how many requests name
an item asked for seldom or never before.

If a fit over some features reaches near 1.0 while the online learner stalls near 0.6, the
stall is in learning (data, rate, regularisation); if no fit of them gets far past where the
learner is, it is in what the features can express (capacity); if a richer set does with the
truth but not with N outcomes, it needs more data than N events give.

    .venv/bin/python benchmarks/learning_capacity.py --population tokens-mixed
    .venv/bin/python benchmarks/learning_capacity.py --population default --requests 15000
    .venv/bin/python benchmarks/learning_capacity.py --explore uniform:0.05 uniform:0 ucb:0.5
    .venv/bin/python benchmarks/learning_capacity.py --quick     # CI smoke: 3,000 items
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

# One thread: the machine's two cores are shared, and OpenMP threads contending with another
# process made the tree fits 50x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from online_learning.engine import EngineConfig
from online_learning.features import FEATURES
from online_learning.interactions import InteractionConfig
from online_learning.model import PRIOR_INTERCEPT, PRIOR_WEIGHTS
from online_learning.offline.evaluation import AislePools, offline_engine
from online_learning.offline.instacart import load_instacart_products
from online_learning.offline.populations import POPULATIONS
from online_learning.offline.simulation import SimConfig, Simulation
from online_learning.rules import load_rules

FloatArray = npt.NDArray[np.float64]
# Content columns: the learned ones (history, interactions) are 0 before feedback.
LEARNED = {"item_history", "pair_history", "interactions"}
CONTENT = [i for i, name in enumerate(FEATURES) if name not in LEARNED]
PRIOR = np.array([PRIOR_WEIGHTS.get(FEATURES[i], 0.0) for i in CONTENT])


@dataclass
class Pool:
    """One request: its candidates' content features, interaction keys and truths."""

    requested: str
    aisle: int
    candidates: list[str]
    x: FloatArray  # (n, len(CONTENT))
    panel: FloatArray  # mean true acceptance over the panel: the target
    asker: FloatArray  # this request's customer's true acceptance: draws the outcomes
    # The rows the offline fits see (a random few of a training pool: aisle pools average
    # hundreds of candidates, and every one's keys would not fit in memory) and their keys.
    sample: npt.NDArray[np.intp]
    keys: npt.NDArray[np.int32]  # (len(sample), keys per pair), padding 2**bits


def collect(
    population: str,
    seed: int,
    n_requests: int,
    panel_size: int,
    limit: int | None,
    sample_from: int,
    per_pool: int,
) -> tuple[list[Pool], int]:
    """``n_requests`` requests with at least two candidates, in stream order; the pools from
    the ``sample_from``-th on keep every row for the fits, the others ``per_pool``."""
    products = load_instacart_products(limit)
    sim = Simulation(SimConfig(seed=seed, population=population), products)
    catalog = sim.catalog_events()
    config = EngineConfig(interactions=InteractionConfig())
    engine = offline_engine(catalog, load_rules(), config)
    assert config.interactions is not None
    bits = config.interactions.bits
    pools = AislePools(engine, {p.item_id: p.popularity or 0.0 for p in catalog}, seed)
    panel = random.Random(f"capacity-panel|{seed}").sample(sim.customer_ids, panel_size)
    rng = np.random.default_rng(seed)
    aisles: dict[str, int] = {}
    truth: dict[tuple[str, str], float] = {}
    out: list[Pool] = []
    started = time.perf_counter()
    while len(out) < n_requests:
        _, requests = sim.advance(60.0)
        for request in requests:
            sim.expire(request)
            if len(out) >= n_requests:
                continue
            requested = sim.products[request.item_id]
            pool = [c for c in pools.pool(requested) if sim.in_stock(request.store_id, c.item_id)]
            if len(pool) < 2:
                continue
            block = engine.features.candidates(requested)
            rows = [block.positions[c.item_id] for c in pool]
            assert block.keys is not None
            panel_p = []
            for c in pool:
                key = (requested.item_id, c.item_id)
                p = truth.get(key)
                if p is None:
                    p = truth[key] = float(
                        np.mean([sim.true_accept_prob(who, requested, c) for who in panel])
                    )
                panel_p.append(p)
            n = len(pool)
            if len(out) >= sample_from or n <= per_pool:
                sample = np.arange(n)
            else:
                sample = np.sort(rng.choice(n, per_pool, replace=False))
            out.append(
                Pool(
                    requested=requested.item_id,
                    aisle=aisles.setdefault(requested.aisle, len(aisles)),
                    candidates=[c.item_id for c in pool],
                    x=block.content[rows][:, CONTENT].astype(np.float32),
                    panel=np.array(panel_p, dtype=np.float32),
                    asker=np.array(
                        sim.true_accept_probs(request.customer_id, requested, pool),
                        dtype=np.float32,
                    ),
                    sample=sample,
                    keys=block.keys.index(np.asarray(rows)[sample]),
                )
            )
            if len(out) % 2000 == 0:
                rate = len(out) / (time.perf_counter() - started)
                print(f"  {len(out):,}/{n_requests:,} pools ({rate:,.0f}/s)", file=sys.stderr)
    return out, 1 << bits


def gap_closure(pools: Sequence[Pool], scores: Sequence[FloatArray]) -> float:
    """Summed (pick - pool mean) / (pool best - pool mean) of the panel truth, where each
    pool's pick is the argmax of its scores."""
    return offers_closure(pools, [int(np.argmax(s)) for s in scores])


def offers_closure(pools: Sequence[Pool], picks: Sequence[int]) -> float:
    """:func:`gap_closure` of given offers (exploration included), not of an argmax."""
    gained = span = 0.0
    for pool, pick in zip(pools, picks, strict=True):
        mean = float(pool.panel.mean())
        gained += float(pool.panel[pick]) - mean
        span += float(pool.panel.max()) - mean
    return gained / span if span > 0 else math.nan


# --- feature sets -------------------------------------------------------------------------


def design(pools: Sequence[Pool], kind: str, n_aisles: int, slots: int) -> sparse.csr_matrix:
    """The sampled rows of ``pools`` for feature set ``kind``."""
    x = np.vstack([p.x[p.sample] for p in pools]).astype(np.float64)
    parts = [sparse.csr_matrix(x)]
    if "aisle" in kind:
        aisle = np.concatenate([np.full(len(p.sample), p.aisle) for p in pools])
        width = x.shape[1]
        cols = aisle[:, None] * width + np.arange(width)[None, :]
        rows = np.repeat(np.arange(x.shape[0]), width)
        parts.append(
            sparse.csr_matrix(
                (x.ravel(), (rows, cols.ravel())), shape=(x.shape[0], n_aisles * width)
            )
        )
        # and the aisle's own intercept
        parts.append(
            sparse.csr_matrix(
                (np.ones(len(aisle)), (np.arange(len(aisle)), aisle)),
                shape=(len(aisle), n_aisles),
            )
        )
    if "bins" in kind:
        # each feature's value in one of 8 quantile bins of the training rows: a piecewise
        # constant offset per feature, the same in every aisle
        cells = [
            np.searchsorted(_EDGES[j], x[:, j], side="right") + j * (_N_BINS + 1)
            for j in range(x.shape[1])
        ]
        cols = np.stack(cells, axis=1)
        rows = np.repeat(np.arange(x.shape[0]), x.shape[1])
        parts.append(
            sparse.csr_matrix(
                (np.ones(cols.size), (rows, cols.ravel())),
                shape=(x.shape[0], x.shape[1] * (_N_BINS + 1)),
            )
        )
    if "keys" in kind:
        # one column per slot the training pools use (a slot only test pools use has no
        # weight in any fit anyway)
        keys = np.vstack([_pad(p.keys, slots) for p in pools]).ravel()
        at = np.searchsorted(_SLOTS, keys)
        ok = (at < len(_SLOTS)) & (_SLOTS[np.minimum(at, len(_SLOTS) - 1)] == keys)
        rows = np.repeat(np.arange(x.shape[0]), _WIDTH)[ok]
        parts.append(
            sparse.csr_matrix(
                (np.ones(int(ok.sum())), (rows, at[ok])), shape=(x.shape[0], len(_SLOTS))
            )
        )
    return sparse.hstack(parts).tocsr()


_WIDTH = 0
_SLOTS = np.zeros(0, dtype=np.int32)  # the training pools' slots, sorted
_N_BINS = 8
_EDGES: list[FloatArray] = []  # per feature, the inner edges of its quantile bins


def _pad(keys: npt.NDArray[np.int32], slots: int) -> npt.NDArray[np.int32]:
    """Key matrices differ in width (a pool is as wide as its longest name): pad to one."""
    out = np.full((keys.shape[0], _WIDTH), slots, dtype=np.int32)
    out[:, : keys.shape[1]] = keys
    return out


def fit_soft_logistic(
    x: sparse.csr_matrix, p: FloatArray, c: float
) -> Callable[[sparse.csr_matrix], FloatArray]:
    """A logistic regression fitted to probabilities: each row as an accept of weight p and
    a refusal of weight 1 - p."""
    model = LogisticRegression(C=c, max_iter=300, solver="lbfgs")
    both = np.r_[np.ones(len(p)), np.zeros(len(p))]
    model.fit(sparse.vstack([x, x]), both, sample_weight=np.r_[p, 1 - p])
    return lambda rows: model.decision_function(rows)


def fit_hgb(pools: Sequence[Pool], aisle: bool) -> Callable[[Sequence[Pool]], FloatArray]:
    """Gradient-boosted trees on the 15 features (and the aisle, as a category)."""

    def inputs(q: Pool, rows: npt.NDArray[np.intp]) -> FloatArray:
        return np.c_[q.x[rows], np.full(len(rows), q.aisle)] if aisle else q.x[rows]

    x = np.vstack([inputs(p, p.sample) for p in pools])
    p = np.concatenate([pool.panel[pool.sample] for pool in pools])
    model = HistGradientBoostingClassifier(
        max_iter=300,
        learning_rate=0.1,
        categorical_features=[x.shape[1] - 1] if aisle else None,
        random_state=0,
    )
    model.fit(np.r_[x, x], np.r_[np.ones(len(p)), np.zeros(len(p))], sample_weight=np.r_[p, 1 - p])

    def score(test: Sequence[Pool]) -> FloatArray:
        return model.decision_function(
            np.vstack([inputs(q, np.arange(len(q.candidates))) for q in test])
        )

    return score


def fit_outcomes(
    label: str,
    offered: Sequence[Pool],
    y: FloatArray,
    test: Sequence[Pool],
    kinds: Sequence[str],
    n_aisles: int,
    slots: int,
    c: float,
) -> None:
    """Logistic regressions on observed outcomes (one row per offer), scored on ``test``.

    The prior's logit is one more column, so a fit starts from what the online learner
    starts from, and its L2 (``c``: sklearn's C) pulls every other weight towards 0, that is
    towards the prior."""
    if not 0 < y.sum() < len(y):
        return

    def rows(pools: Sequence[Pool], kind: str) -> sparse.csr_matrix:
        prior = np.concatenate([p.x[p.sample] @ PRIOR for p in pools])[:, None]
        return sparse.hstack([design(pools, kind, n_aisles, slots), prior]).tocsr()

    for kind in kinds:
        model = LogisticRegression(C=c, max_iter=300).fit(rows(offered, kind), y)
        scores = split(model.decision_function(rows(test, kind)), test)
        print(f"{label + ' ' + kind:<44} {gap_closure(test, scores):>9.3f}", flush=True)


def split(flat: FloatArray, pools: Sequence[Pool]) -> list[FloatArray]:
    bounds = np.cumsum([len(p.candidates) for p in pools])[:-1]
    return list(np.split(flat, bounds))


# --- what finite feedback allows ------------------------------------------------------------


EXPLORATION = ("uniform", "runner-up", "ucb", "thompson")
TOP = 10  # ucb and thompson choose among the learner's 10 best means


def choose(policy: str, param: float, z: FloatArray, n: FloatArray, rng: random.Random) -> int:
    """The offer of an exploration ``policy`` given the learner's means ``z`` and how often
    each candidate was offered for this requested item ``n``:

    - ``uniform``: with probability ``param`` a candidate of the whole pool at random, else
      the best mean (``uniform:0`` is greedy);
    - ``runner-up``: with probability ``param`` the 2nd or 3rd best (the engine's);
    - ``ucb``: among the 10 best means, the highest mean + ``param`` / sqrt(1 + n);
    - ``thompson``: among the 10 best means, the highest draw of N(mean, (``param`` /
      sqrt(n + 4))^2), a Gaussian posterior whose sd shrinks as the pair's offset does.

    >>> z, n = np.array([0.0, 1.0, 0.9]), np.array([0.0, 50.0, 0.0])
    >>> rng = random.Random(1)
    >>> choose("uniform", 0.0, z, n, rng), choose("ucb", 0.5, z, n, rng)
    (1, 2)
    """
    if policy == "uniform":
        return rng.randrange(len(z)) if rng.random() < param else int(np.argmax(z))
    order = np.argsort(-z, kind="stable")
    if policy == "runner-up":
        if len(z) > 1 and rng.random() < param:
            return int(order[rng.randrange(1, min(3, len(z)))])
        return int(order[0])
    top = order[:TOP]
    if policy == "ucb":
        return int(top[int(np.argmax(z[top] + param / np.sqrt(1.0 + n[top])))])
    if policy == "thompson":
        draw = [rng.gauss(float(z[i]), param / math.sqrt(float(n[i]) + 4.0)) for i in top]
        return int(top[int(np.argmax(draw))])
    raise ValueError(f"unknown exploration policy {policy!r}; choose from {EXPLORATION}")


def memorise(
    stream: Sequence[Pool],
    n: int,
    test: Sequence[Pool],
    seed: int,
    policy: str = "uniform",
    param: float = 0.05,
) -> tuple[list[int], list[int], float, list[tuple[Pool, int, bool]]]:
    """The prior plus per-pair and per-candidate offsets (shrunk log-odds residuals) learned
    from the learner's own offers over the first ``n`` requests, chosen by ``policy``
    (:func:`choose`). Returns its offers and its best means at the time (indices into each
    pool), its gap closure on ``test`` (greedy, after all ``n``) and the offers with their
    outcomes."""
    rng = random.Random(f"capacity-memo|{seed}")
    pair: dict[tuple[str, str], list[float]] = {}  # [residual sum, count]
    item: dict[str, list[float]] = {}
    shrink_pair, shrink_item = 4.0, 8.0

    def scores(pool: Pool) -> tuple[FloatArray, FloatArray]:
        z = pool.x @ PRIOR + PRIOR_INTERCEPT
        offered = np.zeros(len(z))
        for i, cand in enumerate(pool.candidates):
            s = item.get(cand)
            if s is not None:
                z[i] += s[0] / (s[1] + shrink_item)
            t = pair.get((pool.requested, cand))
            if t is not None:
                z[i] += t[0] / (t[1] + shrink_pair)
                offered[i] = t[1]
        return z, offered

    log: list[tuple[Pool, int, bool]] = []
    picks: list[int] = []
    greedy: list[int] = []
    for pool in stream[:n]:
        z, offered = scores(pool)
        pick = choose(policy, param, z, offered, rng)
        picks.append(pick)
        greedy.append(int(np.argmax(z)))
        accepted = rng.random() < pool.asker[pick]
        log.append((pool, pick, accepted))
        # a logit-scale residual (the working response of one IRLS step), clipped
        p = 1.0 / (1.0 + math.exp(-z[pick]))
        residual = max(-4.0, min(4.0, (float(accepted) - p) / max(p * (1 - p), 0.05)))
        cand = pool.candidates[pick]
        for sums in (
            item.setdefault(cand, [0.0, 0.0]),
            pair.setdefault((pool.requested, cand), [0.0, 0.0]),
        ):
            sums[0] += residual
            sums[1] += 1.0
    return picks, greedy, gap_closure(test, [scores(p)[0] for p in test]), log


def one_shot_bound(stream: Sequence[Pool]) -> list[int]:
    """The offers of a learner that knows a pair's panel truth exactly after offering it once,
    but learns nothing across requested items: at each request of an item it offers the best
    of the pairs it has tried for that item (still in the pool) and the prior's best untried
    one, whichever is truly better (an oracle's choice, no exploration cost), and tries the
    latter. No learner that remembers pairs, however it explores, can do better while it
    follows the prior's order; what it cannot reach is the share of requests whose item was
    seldom asked for before.

    >>> def pool(cands, prior, panel):
    ...     x = np.zeros((len(cands), len(PRIOR)))
    ...     x[:, 0] = np.array(prior) / (PRIOR[0] or 1.0)
    ...     none = np.array([], dtype=np.intp)
    ...     return Pool("r", 0, cands, x, np.array(panel), np.array(panel), none, none)
    >>> one_shot_bound([pool(["a", "b"], [2.0, 1.0], [0.2, 0.9])] * 3)
    [0, 1, 1]
    """
    tried: dict[str, set[str]] = {}
    picks: list[int] = []
    for pool in stream:
        done = tried.setdefault(pool.requested, set())
        order = np.argsort(-(pool.x @ PRIOR), kind="stable")
        untried = next((int(i) for i in order if pool.candidates[i] not in done), None)
        options = [i for i, c in enumerate(pool.candidates) if c in done]
        if untried is not None:
            options.append(untried)
            done.add(pool.candidates[untried])
        picks.append(max(options, key=lambda i: float(pool.panel[i])))
    return picks


def parse_policy(spec: str) -> tuple[str, float]:
    """``POLICY[:P]`` as (policy, P); raises ValueError naming what is wrong.

    >>> parse_policy("ucb:0.5"), parse_policy("uniform")
    (('ucb', 0.5), ('uniform', 0.0))
    """
    policy, _, param = spec.partition(":")
    if policy not in EXPLORATION:
        raise ValueError(f"unknown policy; choose from {', '.join(EXPLORATION)}")
    try:
        return policy, float(param or 0.0)
    except ValueError:
        raise ValueError(f"{param!r} is not a number") from None


def compare_exploration(
    train: Sequence[Pool], test: Sequence[Pool], seed: int, policies: Sequence[str]
) -> None:
    """The memo learner under each ``policy:param``: its own offers' gap closure per window
    of the stream (what it earned while learning) and the held-out greedy closure after."""
    n = len(train)
    windows = [(a, b) for a, b in ((0, 1500), (3500, 5000), (13500, 15000), (18500, 20000))]
    windows = [(a, b) for a, b in windows if b <= n] or [(0, n)]

    def row(label: str, picks: Sequence[int], held: str) -> None:
        values = [offers_closure(train[a:b], picks[a:b]) for a, b in windows]
        values.append(offers_closure(train[:n], picks))
        print(f"{label:<28}" + "".join(f"{v:>10.3f}" for v in values) + f" {held:>9}", flush=True)

    heads = [f"{a / 1000:g}-{b / 1000:g}k" for a, b in windows]
    print(f"\n{'exploration (memo learner)':<28}" + "".join(f"{h:>10}" for h in heads), end="")
    print(f"{'whole run':>10} {'held out':>9}")
    print("-" * (28 + 10 * len(heads) + 20))
    for spec in policies:
        picks, _, held, _ = memorise(train, n, test, seed, *parse_policy(spec))
        row(spec, picks, f"{held:.3f}")
    row("one-shot memo bound", one_shot_bound(train[:n]), "-")
    asked: dict[str, int] = {}
    before = []
    for pool in train[:n]:
        before.append(asked.get(pool.requested, 0))
        asked[pool.requested] = before[-1] + 1
    never, often = "  requests asked 0 times before", "  requests asked 5+ times before"
    for label, counts in ((never, lambda k: k == 0), (often, lambda k: k >= 5)):
        share = [sum(map(counts, before[a:b])) / (b - a) for a, b in windows]
        print(f"{label:<28}" + "".join(f"{v:>10.0%}" for v in share))


def main(argv: Sequence[str] | None = None) -> int:
    global _WIDTH, _SLOTS, _EDGES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", choices=sorted(POPULATIONS), default="tokens-mixed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=20_000, help="training requests")
    parser.add_argument("--test", type=int, default=1_000, help="held-out requests after them")
    parser.add_argument(
        "--per-pool", type=int, default=24, help="candidates of a training pool the fits see"
    )
    parser.add_argument("--panel", type=int, default=20, help="customers averaged (default 20)")
    parser.add_argument("--feedback", type=int, nargs="+", default=[1_500, 5_000, 20_000])
    parser.add_argument(
        "--cache", help="pickle of the collected pools: read if it exists, else written"
    )
    parser.add_argument(
        "--c", type=float, default=0.1, help="inverse L2 of the fits on outcomes (default 0.1)"
    )
    parser.add_argument("--no-keys", action="store_true", help="skip the fits with keys")
    parser.add_argument("--no-full", action="store_true", help="only the finite-feedback part")
    parser.add_argument(
        "--explore",
        nargs="+",
        metavar="POLICY:P",
        help="instead of the fits, compare the memo learner's exploration policies over the"
        f" training stream ({', '.join(EXPLORATION)}; e.g. uniform:0.05 ucb:0.5)",
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke: 3,000 items, 600 pools")
    args = parser.parse_args(argv)
    for spec in args.explore or ():
        try:
            parse_policy(spec)
        except ValueError as exc:
            parser.error(f"--explore {spec}: {exc}")
    limit = None
    if args.quick:
        limit, args.requests, args.test, args.panel, args.feedback = 3000, 500, 100, 5, [300]
    started = time.perf_counter()
    if args.cache and os.path.exists(args.cache):
        with open(args.cache, "rb") as cached:
            pools, slots = pickle.load(cached)
    else:
        pools, slots = collect(
            args.population,
            args.seed,
            args.requests + args.test,
            args.panel,
            limit,
            sample_from=args.requests,
            per_pool=args.per_pool,
        )
        if args.cache:
            with open(args.cache, "wb") as out:
                pickle.dump((pools, slots), out)
    _WIDTH = max(p.keys.shape[1] for p in pools)
    train, test = pools[: args.requests], pools[args.requests :]
    _SLOTS = np.unique(np.concatenate([p.keys.ravel() for p in train]))
    _SLOTS = _SLOTS[slots > _SLOTS]
    sampled = np.vstack([p.x[p.sample] for p in train])
    quantiles = np.linspace(0, 1, _N_BINS + 1)[1:-1]
    _EDGES = [np.unique(np.quantile(sampled[:, j], quantiles)) for j in range(sampled.shape[1])]
    n_aisles = 1 + max(p.aisle for p in pools)
    sizes = [len(p.candidates) for p in pools]
    print(
        f"learning capacity: population {args.population}, seed {args.seed}, {len(train):,}"
        f" training and {len(test):,} held-out requests (pools of {np.mean(sizes):.1f}"
        f" candidates on average), truth averaged over {args.panel} customers"
        f" ({time.perf_counter() - started:.0f} s to collect)"
    )
    if args.explore:
        compare_exploration(train, test, args.seed, args.explore)
        print(f"\n{time.perf_counter() - started:.0f} s in all")
        return 0
    print(f"\n{'model':<24} {'gap closure (held out)':>22} {'fit s':>7}")
    print("-" * 56)

    def report(name: str, value: float, seconds: float) -> None:
        print(f"{name:<24} {value:>22.3f} {seconds:>7.1f}", flush=True)

    prior = [p.x @ PRIOR for p in test]  # every row of a held-out pool is sampled
    report("prior (shipped)", gap_closure(test, prior), 0.0)
    target = np.concatenate([p.panel[p.sample] for p in train]).astype(np.float64)
    kinds = ["linear-15", "linear-15+bins", "linear-15+aisle"]
    if not args.no_keys:
        kinds += ["linear-15+keys", "linear-15+aisle+keys"]
    for kind in [] if args.no_full else kinds:
        t0 = time.perf_counter()
        fitted = fit_soft_logistic(design(train, kind, n_aisles, slots), target, c=1.0)
        scores = split(fitted(design(test, kind, n_aisles, slots)), test)
        report(kind, gap_closure(test, scores), time.perf_counter() - t0)
    if not args.no_full:
        for aisle in (False, True):
            t0 = time.perf_counter()
            hgb = fit_hgb(train, aisle)
            name = "hgb-15+aisle" if aisle else "hgb-15"
            report(name, gap_closure(test, split(hgb(test), test)), time.perf_counter() - t0)

    print(f"\n{'N feedback events':<44} {'held out':>9}")
    print("-" * 54)
    for n in args.feedback:
        if n > len(train):
            continue
        _, greedy, held, log = memorise(train, n, test, args.seed)
        late = offers_closure(train[max(0, n - 1500) : n], greedy[max(0, n - 1500) :])
        label = f"memo-{n} (online, last {min(n, 1500):,}: {late:.3f})"
        print(f"{label:<44} {held:>9.3f}")
        kinds = ["linear-15", "linear-15+bins", "linear-15+aisle"]
        offered = [
            replace(pool, sample=np.array([pick]), keys=pool.keys[:0]) for pool, pick, _ in log
        ]
        y = np.array([float(a) for _, _, a in log])
        fit_outcomes(f"fit-{n} greedy", offered, y, test, kinds, n_aisles, slots, args.c)
        # Uniform offers, one a pool, among the rows whose keys were kept: what the same
        # number of outcomes teaches a fit with keys.
        rng = np.random.default_rng(args.seed + n)
        picks = [int(rng.integers(len(pool.sample))) for pool in train[:n]]
        offered = [
            replace(pool, sample=pool.sample[[j]], keys=pool.keys[[j]])
            for pool, j in zip(train[:n], picks, strict=True)
        ]
        y = np.array(
            [
                rng.random() < pool.asker[pool.sample[j]]
                for pool, j in zip(train[:n], picks, strict=True)
            ],
            dtype=np.float64,
        )
        if not args.no_keys:
            kinds.append("linear-15+aisle+keys")
        fit_outcomes(f"fit-{n} uniform", offered, y, test, kinds, n_aisles, slots, args.c)
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
