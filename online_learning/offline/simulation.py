"""A seeded grocery world: stores whose shelves run empty, shoppers who pick orders, customers
who accept or reject substitutes for reasons the learner never sees.

It drives two things through one API: ``fillrate simulate`` (which produces the events into
Kafka and feeds the worker's rankings back through :meth:`Simulation.resolve`) and the offline
evaluator (which runs the learning core, baselines and an oracle against it). No Kafka here.

This module is the event stream: orders arrive, shoppers pick their lines one by one, a line
whose item is not found becomes a :class:`SubstitutionRequest`, and a ranking resolves it into
feedback. The world it runs on lives beside it:

- :mod:`~online_learning.offline.baskets`: what an order holds (real Instacart baskets or
  synthetic ones) and how popular each item is;
- :mod:`~online_learning.offline.shelves`: stock of each (store, item) pair over sim time, and
  what the store system reports of it;
- :mod:`~online_learning.offline.acceptance_truth`: the customers' hidden tastes, the latent
  item, brand and pair effects, and the preference shift. They reach the outside only through
  :meth:`Simulation.true_accept_prob` and :meth:`Simulation.hidden_effects`, which the oracle
  and the evaluation may call and the learner must not;
- :mod:`~online_learning.offline.stated_preferences`: what customers say they want (dietary
  needs, ``specific`` picks and ``no_substitute`` for some items), off by default, listed by
  :meth:`Simulation.preferences` as the ``customers.preferences`` records;
- :mod:`~online_learning.offline.sim_config`: the knobs; who the customers are is a named
  :class:`~online_learning.offline.populations.Population` (``SimConfig.population``), or a
  token world (:mod:`~online_learning.offline.token_worlds`), whose tastes come from the
  words of the names and which :class:`~online_learning.offline.token_worlds.TokenTruth`
  scores in place of the acceptance truth.

Randomness comes from one ``random.Random`` for order arrivals and from keyed hashes
(:mod:`~online_learning.offline.keyed_random`) for everything else (shelf trajectories, shopper
noise, customer decisions). Hence two runs with the same seed and the same ``advance`` calls see
the same orders and stock-outs whatever policy resolves their requests (common random numbers),
and a customer offered the same substitute for the same request decides the same way under
every policy.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from online_learning.contract import (
    CompletedOrder,
    CustomerNeeds,
    Feedback,
    InventorySignal,
    ItemChoice,
    OrderLine,
    Product,
    SubstitutionRequest,
)
from online_learning.offline.acceptance_truth import P_MAX, P_MIN, AcceptanceTruth
from online_learning.offline.baskets import Baskets
from online_learning.offline.comments import CommentWriter
from online_learning.offline.instacart import load_instacart_products
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.populations import AnyPopulation, population
from online_learning.offline.shelves import Shelves
from online_learning.offline.sim_config import SimConfig
from online_learning.offline.stated_preferences import StatedPreferences
from online_learning.offline.token_worlds import TokenTruth, TokenWorld

__all__ = ["P_MAX", "P_MIN", "SimConfig", "Simulation", "SubstitutionRequest"]

_SHOPPER = "shopper"

_Pick = tuple[float, int, str, int, str]  # (ts, tie-break seq, order id, line, item id)


class _Order:
    __slots__ = ("lines", "lines_left", "open_requests", "perfect")

    def __init__(self, lines: int) -> None:
        self.lines_left = lines
        self.open_requests = 0
        self.perfect = True
        self.lines: list[OrderLine | None] = [None] * lines  # each line's outcome, once known


class Simulation:
    """Stores, shoppers and customers on a sim clock; see the module docstring.

    >>> products = [
    ...     Product("1", "Acme Whole Milk", "milk", "dairy eggs", 3.0, brand="acme",
    ...             tags=frozenset({"whole"})),
    ...     Product("2", "Dairyco Whole Milk", "milk", "dairy eggs", 3.2, brand="dairyco",
    ...             tags=frozenset({"whole"})),
    ...     Product("3", "Acme Skim Milk", "milk", "dairy eggs", 3.0, brand="acme",
    ...             tags=frozenset({"fat_free"})),
    ... ]
    >>> sim = Simulation(SimConfig(seed=1, n_stores=2, n_customers=50), products)
    >>> signals, requests = sim.advance(600)
    >>> sim.now - sim.config.start_ts, all(s.ts <= sim.now for s in signals)
    (600.0, True)
    >>> whole, other_whole, skim = products
    >>> p_other = sim.true_accept_prob("customer-00001", whole, other_whole)
    >>> p_skim = sim.true_accept_prob("customer-00001", whole, skim)
    >>> 0.01 <= p_skim < p_other <= 0.99
    True
    """

    def __init__(
        self,
        config: SimConfig,
        products: Sequence[Product] | None = None,
        baskets: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Build the world; nothing hidden is drawn until something touches it.

        ``products`` defaults to the Instacart catalog (``config.catalog_limit`` items);
        ``baskets`` (lists of item ids) defaults to the real Instacart orders, subject to
        ``config.basket_source``.
        """
        self.config = config
        if products is None:
            products = load_instacart_products(config.catalog_limit)
        else:
            products = products[: config.catalog_limit]
        if not products:
            raise ValueError("the simulation needs at least one product")
        self.products: dict[str, Product] = {p.item_id: p for p in products}
        self.now = config.start_ts
        self._prefix = config.id_prefix if config.id_prefix is not None else f"sim{config.seed}"
        draws = KeyedRandom(config.seed)
        self._draws = draws
        self._rng = random.Random(config.seed)
        self.population: AnyPopulation = population(config.population)
        width = max(3, len(str(config.n_stores)))
        self._store_ids = [f"store-{i:0{width}d}" for i in range(1, config.n_stores + 1)]
        width = max(5, len(str(config.n_customers)))
        self._customer_ids = [f"customer-{i:0{width}d}" for i in range(1, config.n_customers + 1)]

        self._baskets = Baskets(config, self.products, draws, self._rng, baskets)
        self._signals: list[InventorySignal] = []  # reported since the last advance
        self._shelves = Shelves(config, draws, self._baskets, self._signals)
        self._truth: AcceptanceTruth | TokenTruth
        if isinstance(self.population, TokenWorld):
            self._truth = TokenTruth(config, self.population, draws)
        else:
            self._truth = AcceptanceTruth(
                config, self.population, draws, self._baskets.popularity_score
            )
        self._stated = StatedPreferences(config, self.products, self._baskets.popularity, draws)
        self._notes = CommentWriter(config.seed)  # what customers write (comments.py)

        self._pick_queue: list[_Pick] = []
        self._order_info: dict[str, tuple[str, str]] = {}  # order -> (customer, store)
        self._orders: dict[str, _Order] = {}
        self._requests: dict[str, tuple[str, int]] = {}  # open request id -> (order id, line)
        self._completed: list[CompletedOrder] | None = None  # kept only if record_orders()
        self._seq = itertools.count()
        self._n_orders = 0
        self._n_requests = 0
        rate = config.orders_per_minute / 60.0
        self._order_rate = rate
        self._next_order_ts = (
            config.start_ts + self._rng.expovariate(rate) if rate > 0 else math.inf
        )
        self._counts: Counter[str] = Counter()

    # ------------------------------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------------------------------

    @property
    def customer_ids(self) -> tuple[str, ...]:
        """Every customer who may place an order."""
        return tuple(self._customer_ids)

    def preferences(self) -> list[tuple[str, ItemChoice | CustomerNeeds]]:
        """Every customer's stated needs and item choices with their message keys, to
        publish on ``customers.preferences`` before the first order (empty unless
        ``SimConfig.needs_share`` or ``choice_share`` is set). The truth honours them:
        nothing is accepted on a ``no_substitute`` line nor without a needed tag, and a
        customer's own pick is accepted with probability ``SimConfig.pick_accept``."""
        return self._stated.records(self._customer_ids)

    def needs(self, customer_id: str) -> frozenset[str]:
        """The customer's stated needs (as :meth:`preferences` lists them)."""
        return self._stated.needs(customer_id)

    def choice(self, customer_id: str, item_id: str) -> ItemChoice | None:
        """The customer's stated choice for the item (None: best match)."""
        return self._stated.choice(customer_id, item_id)

    def catalog_events(self) -> list[Product]:
        """The catalog, to publish before any other event.

        Each item carries this world's order-line count (the Instacart order lines its baskets
        come from, or the synthetic draw) as its ``popularity``, as a grocer would send its
        sales figures, unless it came with a figure of its own; an item no order holds
        carries none.
        """
        counts = self._baskets.popularity
        return [
            replace(p, popularity=float(counts[i])) if p.popularity is None and i in counts else p
            for i, p in self.products.items()
        ]

    def advance(self, seconds: float) -> tuple[list[InventorySignal], list[SubstitutionRequest]]:
        """Move the clock forward, placing and picking orders and flipping shelves on the way.

        Returns the inventory signals and the substitution requests with ``ts`` in
        ``(now, now + seconds]``, each list in ts order. Lines of an order are picked
        ``line_pick_seconds`` apart, so an order placed near the end finishes in a later call.
        """
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be finite and >= 0, got {seconds}")
        end = self.now + seconds
        while self._next_order_ts <= end:
            self._place_order(self._next_order_ts)
            self._next_order_ts += self._rng.expovariate(self._order_rate)
        requests: list[SubstitutionRequest] = []
        while self._pick_queue and self._pick_queue[0][0] <= end:
            ts, _, order_id, line, item_id = heapq.heappop(self._pick_queue)
            request = self._pick_line(ts, order_id, line, item_id)
            if request is not None:
                requests.append(request)
        self._shelves.report_until(end)
        self.now = end
        signals = sorted(self._signals, key=_signal_ts)
        self._signals.clear()
        return signals, requests

    def resolve(
        self,
        request: SubstitutionRequest,
        ranked_item_ids: Sequence[str],
        ranking_id: str | None = None,
    ) -> Feedback | None:
        """The shopper walks the ranking best-first and offers the first substitute in stock.

        The customer accepts or rejects it with :meth:`true_accept_prob`; an accepted one is
        refunded later with a probability that grows as that probability falls, reported here
        as outcome ``"refunded"``. The feedback carries what the customer wrote and the reason
        buttons pressed, if any (:mod:`~online_learning.offline.comments`). ``position`` is
        the substitute's index in ``ranked_item_ids``; the requested item itself and unknown
        ids are skipped. Returns
        None, and counts the line unfilled, when nothing listed is in stock. A request that was
        already resolved or expired returns None and changes nothing.
        """
        open_request = self._requests.pop(request.request_id, None)
        if open_request is None:
            self._counts["stale_resolutions"] += 1
            return None
        order_id, line = open_request
        requested = self.products[request.item_id]
        ts = max(self.now, request.ts)
        offer = self._first_in_stock(request, ranked_item_ids, ts)
        if offer is None:
            self._counts["unfilled"] += 1
            self._counts["nothing_in_stock"] += 1
            self._close_request(order_id, line, OrderLine(request.item_id, "missing"), ts)
            return None
        position, candidate = offer
        item_id = candidate.item_id
        p = self.true_accept_prob(request.customer_id, requested, candidate, ts)
        u_accept, u_refund = self._draws.uniform2(f"decide|{request.request_id}|{item_id}")
        if u_accept < p:
            refund_p = self.config.refund_base + self.config.refund_scale * (1.0 - p) ** 2
            outcome = "refunded" if u_refund < refund_p else "accepted"
        else:
            outcome = "rejected"
        self._counts["substituted"] += 1
        self._counts[outcome] += 1
        line_outcome = "substituted" if outcome == "accepted" else outcome
        self._close_request(order_id, line, OrderLine(request.item_id, line_outcome, item_id), ts)
        note = self._notes.write(request.request_id, outcome, requested, candidate)
        return Feedback(
            event_id=f"{request.request_id}-fb",
            store_id=request.store_id,
            item_id=request.item_id,
            substitute_id=item_id,
            outcome=outcome,
            ts=ts,
            order_id=request.order_id,
            customer_id=request.customer_id,
            ranking_id=ranking_id,
            position=position,
            comment=note.comment,
            reason=note.reason,
        )

    def expected_acceptance(
        self, request: SubstitutionRequest, ranked_item_ids: Sequence[str]
    ) -> float | None:
        """The true P(accept) of what the shopper would offer from this ranking, decided by no
        coin: the first listed item in stock, as :meth:`resolve` walks it. None when nothing
        listed is in stock. Changes nothing, so two rankings can be compared on one request
        (evaluation only: it reads the hidden truth).
        """
        requested = self.products.get(request.item_id)
        if requested is None:
            return None
        ts = max(self.now, request.ts)
        offer = self._first_in_stock(request, ranked_item_ids, ts)
        if offer is None:
            return None
        return self.true_accept_prob(request.customer_id, requested, offer[1], ts)

    def _first_in_stock(
        self, request: SubstitutionRequest, ranked_item_ids: Sequence[str], ts: float
    ) -> tuple[int, Product] | None:
        """(position, product) of the first listed item the shopper would offer: known, not
        the requested item itself, on the shelf at ``ts``; None when there is none."""
        for position, item_id in enumerate(ranked_item_ids):
            candidate = self.products.get(item_id)
            if candidate is None or item_id == request.item_id:
                continue
            if self._shelves.in_stock(request.store_id, item_id, ts):
                return position, candidate
        return None

    def expire(self, request: SubstitutionRequest) -> None:
        """The shopper gave up waiting for a ranking: the line goes unfilled."""
        open_request = self._requests.pop(request.request_id, None)
        if open_request is None:
            return
        self._counts["unfilled"] += 1
        self._counts["expired"] += 1
        order_id, line = open_request
        self._close_request(order_id, line, OrderLine(request.item_id, "missing"), self.now)

    def record_orders(self) -> None:
        """Keep each order as it completes, with every line's outcome, until
        :meth:`take_completed_orders` (``fillrate simulate`` publishes them); off by default, so
        an offline run holds no orders it will not read."""
        if self._completed is None:
            self._completed = []

    def take_completed_orders(self) -> list[CompletedOrder]:
        """The orders completed since the last call, in completion order (see
        :meth:`record_orders`). An order is perfect exactly when :meth:`stats` counts it so."""
        if self._completed is None:
            return []
        completed, self._completed = self._completed, []
        return completed

    def true_accept_prob(
        self,
        customer_id: str,
        requested: Product,
        candidate: Product,
        now: float | None = None,
    ) -> float:
        """P(the customer accepts ``candidate`` for ``requested``) at sim time ``now``.

        Hidden truth, for the oracle and the evaluation only. In [0.01, 0.99]; 0.01 for a
        customer who refuses substitutes, a lost dietary promise, an alcohol mismatch or a
        non-organic offer to an organic-only customer asking for organic. What the customer
        stated (:meth:`preferences`) comes first: 0.0 on a ``no_substitute`` line or without
        a needed tag, ``SimConfig.pick_accept`` for their own pick.
        """
        stated = self._stated.accept_override(customer_id, requested, candidate)
        if stated is not None:
            return stated
        ts = self.now if now is None else now
        return self._truth.accept_prob(customer_id, requested, candidate, ts)

    def true_accept_probs(
        self,
        customer_id: str,
        requested: Product,
        candidates: Sequence[Product],
        now: float | None = None,
    ) -> list[float]:
        """:meth:`true_accept_prob` for many candidates (oracle and evaluation only)."""
        return [self.true_accept_prob(customer_id, requested, c, now) for c in candidates]

    def hidden_effects(
        self, requested: Product, candidate: Product, now: float | None = None
    ) -> dict[str, float]:
        """The latent terms of the acceptance logit for this pair, keyed by the effect.

        Hidden truth, for measuring what a learner could learn at best (the learnability
        ceiling benchmark); never for a policy. A key names its level first (``appeal``,
        ``pair``, ``brand``, ``switch``, whose prior sds are the population's ``appeal_sd``,
        ``pair_sd``, ``brand_sd`` and ``switch_sd``) and then what shares it: two pairs with the
        same key share that effect. Their sum is what :meth:`true_accept_prob` adds to the
        logit for every customer (before clipping). The part of an item's appeal that follows
        its order count (``popularity_appeal``) is left out: the order counts show it.
        """
        return self._truth.hidden_effects(requested, candidate, self.now if now is None else now)

    def in_stock(self, store_id: str, item_id: str) -> bool:
        """Whether the item is on the shelf at the store right now (hidden truth)."""
        return self._shelves.in_stock(store_id, item_id, self.now)

    def popularity_score(self, item_id: str) -> float:
        """How often the item is ordered, as log count scaled to [0, 1] (not hidden: the engine
        reads the same order lines)."""
        return self._baskets.popularity_score(item_id)

    def stats(self) -> dict[str, float]:
        """Counters of the run so far, and the rates users care about.

        ``perfect_order_fill_rate`` is over completed orders (every line picked and every
        substitution request resolved or expired): the share where each line was found or its
        substitute accepted (a refunded substitute does not count). It is 0.0 before any order
        completes. ``acceptance_rate`` is accepted / substituted (offered substitutes).
        """
        c = self._counts
        shelves = self._shelves.counts
        substituted = c["substituted"]
        completed = c["orders_completed"]
        lines = c["lines"]
        return {
            "orders": float(self._n_orders),
            "orders_completed": float(completed),
            "lines": float(lines),
            "found_lines": float(c["found_lines"]),
            "not_found_lines": float(c["not_found_lines"]),
            "out_of_stock_lines": float(c["out_of_stock_lines"]),
            "false_not_found_lines": float(c["false_not_found_lines"]),
            "out_of_stock_line_share": c["out_of_stock_lines"] / lines if lines else 0.0,
            "substitution_requests": float(self._n_requests),
            "open_requests": float(len(self._requests)),
            "substituted": float(substituted),
            "accepted": float(c["accepted"]),
            "rejected": float(c["rejected"]),
            "refunded": float(c["refunded"]),
            "acceptance_rate": c["accepted"] / substituted if substituted else 0.0,
            "unfilled": float(c["unfilled"]),
            "expired": float(c["expired"]),
            "perfect_orders": float(c["perfect_orders"]),
            "perfect_order_fill_rate": c["perfect_orders"] / completed if completed else 0.0,
            "stock_outs": float(shelves["stock_outs"]),
            "restocks": float(shelves["restocks"]),
            "shelves_tracked": float(len(self._shelves)),
        }

    # ------------------------------------------------------------------------------------------
    # Orders and shoppers
    # ------------------------------------------------------------------------------------------

    def _place_order(self, ts: float) -> None:
        rng = self._rng
        self._n_orders += 1
        order_id = f"{self._prefix}-o{self._n_orders:08d}"
        customer_id = self._customer_ids[rng.randrange(len(self._customer_ids))]
        if rng.random() < self.config.home_store_share:
            home = int(self._draws.uniform(f"home|{customer_id}") * len(self._store_ids))
            store_id = self._store_ids[home]
        else:
            store_id = self._store_ids[rng.randrange(len(self._store_ids))]
        basket = self._baskets.sample()
        self._orders[order_id] = _Order(len(basket))
        self._order_info[order_id] = (customer_id, store_id)
        step = self.config.line_pick_seconds
        for line, item_id in enumerate(basket):
            entry = (ts + line * step, next(self._seq), order_id, line, item_id)
            heapq.heappush(self._pick_queue, entry)

    def _pick_line(
        self, ts: float, order_id: str, line: int, item_id: str
    ) -> SubstitutionRequest | None:
        customer_id, store_id = self._order_info[order_id]
        truly_in = self._shelves.pick(store_id, item_id, ts)
        u_noise, u_report = self._draws.uniform2(f"line|{order_id}|{line}")
        counts = self._counts
        counts["lines"] += 1
        order = self._orders[order_id]
        order.lines_left -= 1
        if truly_in and u_noise >= self.config.false_not_found_rate:
            counts["found_lines"] += 1
            if u_report < self.config.found_signal_rate:
                self._signals.append(
                    InventorySignal(store_id, item_id, "found", ts, None, _SHOPPER)
                )
            order.lines[line] = OrderLine(item_id, "found")
            self._maybe_complete(order_id, order, ts)
            return None
        counts["not_found_lines"] += 1
        counts["out_of_stock_lines" if not truly_in else "false_not_found_lines"] += 1
        self._signals.append(InventorySignal(store_id, item_id, "not_found", ts, 0, _SHOPPER))
        self._n_requests += 1
        request_id = f"{self._prefix}-r{self._n_requests:08d}"
        self._requests[request_id] = (order_id, line)
        order.open_requests += 1
        return SubstitutionRequest(request_id, order_id, customer_id, store_id, item_id, ts)

    def _close_request(self, order_id: str, line: int, outcome: OrderLine, ts: float) -> None:
        order = self._orders[order_id]
        order.open_requests -= 1
        order.lines[line] = outcome
        if outcome.outcome != "substituted":  # missing, rejected, refunded
            order.perfect = False
        self._maybe_complete(order_id, order, ts)

    def _maybe_complete(self, order_id: str, order: _Order, ts: float) -> None:
        if order.lines_left or order.open_requests:
            return
        self._counts["orders_completed"] += 1
        self._counts["perfect_orders"] += order.perfect
        customer_id, store_id = self._order_info.pop(order_id)
        del self._orders[order_id]
        if self._completed is not None:
            lines = tuple(line for line in order.lines if line is not None)
            self._completed.append(CompletedOrder(order_id, store_id, ts, lines, customer_id))


def _signal_ts(signal: InventorySignal) -> float:
    return signal.ts
