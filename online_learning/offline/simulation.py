"""A seeded grocery world: stores whose shelves run empty, shoppers who pick orders, customers
who accept or reject substitutes for reasons the learner never sees.

It drives two things through one API: ``fillrate simulate`` (which produces the events into
Kafka and feeds the worker's rankings back through :meth:`Simulation.resolve`) and the offline
evaluator (which runs the learning core, baselines and an oracle against it). No Kafka here.

What is hidden, and why it is shaped this way:

- **Customers** are mixtures of segments (brand loyal, price sensitive, organic, size
  sensitive, flavour/variant sensitive) plus a small share who refuse every substitute. Their
  preferences reach the outside only through :meth:`Simulation.true_accept_prob`, which the
  oracle and the evaluation may call and the learner must not.
- **Items and brands** carry latent effects (an item's appeal, an (aisle, brand) affinity, a
  brand-to-brand switch affinity and a small per-pair effect) that no content feature shows, so
  only feedback history can learn them.
- **Who the customers are** (segment mix, willingness, the size of every latent effect) is a
  named :class:`~online_learning.offline.populations.Population`; ``default`` unless
  ``SimConfig.population`` says otherwise.
- **A preference shift** at ``shift_at`` doubles price sensitivity and, in about half the
  aisles, turns brand loyalty into brand fatigue (the requested brand becomes the one to avoid)
  and redraws every hidden item, brand and pair effect: a policy fitted before it gets worse
  after it until the learner adapts.
- **Stock** for each (store, item) pair is a two-state Markov process over sim time whose
  trajectory is a pure function of (seed, store, item, time): which pairs anyone looks at, and
  in which order, never changes what is on the shelf. State exists only for pairs touched.

Randomness comes from one ``random.Random`` for order arrivals and from keyed hashes for
everything else (shelf trajectories, shopper noise, customer decisions). Hence two runs with the
same seed and the same ``advance`` calls see the same orders and stock-outs whatever policy
resolves their requests (common random numbers), and a customer offered the same substitute
for the same request decides the same way under every policy.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from online_learning.contract import Feedback, InventorySignal, Product
from online_learning.offline.instacart import load_instacart_products, load_order_baskets
from online_learning.offline.populations import SEGMENTS, Population, population
from online_learning.product_text import flavor_tokens, to_base_units

__all__ = ["SimConfig", "Simulation", "SubstitutionRequest"]

P_MIN = 0.01
P_MAX = 0.99
DIETARY_TAGS = frozenset({"gluten_free", "vegan", "kosher", "dairy_free"})
# Milk-fat levels as steps apart: skim for whole is three steps, 2% for whole one.
_FAT_LEVELS = {"whole": 0, "reduced_fat": 1, "low_fat": 2, "fat_free": 3}
# Words that say nothing about what a product *is*.
_KIND_STOPWORDS = frozenset({"and", "with", "of", "the", "in", "a", "for", "organic", "natural"})
_BASKET_SOURCES = ("auto", "instacart", "synthetic")
_SHOPPER = "shopper"
_STORE_SYSTEM = "store_system"
_NORMAL = NormalDist()
_TWO_64 = float(2**64)
_TWO_32 = float(2**32)

_Pick = tuple[float, int, str, int, str]  # (ts, tie-break seq, order id, line, item id)


@dataclass(frozen=True, slots=True)
class SubstitutionRequest:
    """A shopper could not find ``item_id`` for an order line and waits for a ranking."""

    request_id: str
    order_id: str
    customer_id: str
    store_id: str
    item_id: str
    ts: float


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of the simulated world. Rates are per sim-time unit; durations in seconds.

    ``out_of_stock_rate`` is roughly the share of order lines whose item is truly out: each
    item's long-run out-of-stock probability is it, scaled up for less popular items and down
    for popular ones so that the order-line-weighted mean stays near it, times a store factor.
    ``basket_source``: ``"instacart"`` samples real orders (restricted to the catalog),
    ``"synthetic"`` draws baskets by item popularity, ``"auto"`` picks Instacart when the catalog
    covers most real order lines and synthetic otherwise (a small ``catalog_limit`` or a
    hand-made product list).
    """

    seed: int = 7
    n_stores: int = 20
    n_customers: int = 2000
    orders_per_minute: float = 60.0
    start_ts: float = 1_700_000_000.0
    shift_at: float | None = None
    catalog_limit: int | None = None
    found_signal_rate: float = 0.5
    out_of_stock_rate: float = 0.06
    restock_minutes: tuple[float, float] = (30.0, 120.0)
    out_of_stock_signal_rate: float = 0.6
    in_stock_signal_rate: float = 0.7
    false_not_found_rate: float = 0.01
    line_pick_seconds: float = 5.0
    home_store_share: float = 0.9
    no_substitution_share: float = 0.04
    refund_base: float = 0.01
    refund_scale: float = 0.25
    shift_price_factor: float = 2.0
    shift_aisle_share: float = 0.5
    basket_source: str = "auto"
    synthetic_basket_mean: float = 10.0
    id_prefix: str | None = None  # prefix of order/request/feedback ids; None: f"sim{seed}"
    population: str = "default"  # whose tastes: a name in online_learning.offline.populations

    def __post_init__(self) -> None:
        if self.n_stores < 1 or self.n_customers < 1:
            raise ValueError("n_stores and n_customers must be >= 1")
        population(self.population)  # a clear error for an unknown name, before any work
        if not (self.orders_per_minute >= 0 and math.isfinite(self.orders_per_minute)):
            raise ValueError(
                f"orders_per_minute must be finite and >= 0, got {self.orders_per_minute}"
            )
        for name in (
            "found_signal_rate",
            "out_of_stock_signal_rate",
            "in_stock_signal_rate",
            "false_not_found_rate",
            "home_store_share",
            "no_substitution_share",
            "shift_aisle_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.out_of_stock_rate < 0.5:
            raise ValueError(f"out_of_stock_rate must be in [0, 0.5), got {self.out_of_stock_rate}")
        low, high = self.restock_minutes
        if not 0 < low <= high:
            raise ValueError(f"restock_minutes must be 0 < low <= high, got {self.restock_minutes}")
        if self.basket_source not in _BASKET_SOURCES:
            raise ValueError(f"basket_source must be one of {_BASKET_SOURCES}")
        if self.line_pick_seconds < 0 or self.synthetic_basket_mean < 1:
            raise ValueError("line_pick_seconds must be >= 0 and synthetic_basket_mean >= 1")


@dataclass(frozen=True, slots=True)
class _Customer:
    """Hidden tastes of one customer; the weights are penalties on the acceptance logit."""

    willingness: float
    refuses_all: bool
    organic_only: bool
    w_brand: float
    w_price: float
    w_cheap: float
    w_organic: float
    w_size: float
    w_kind: float
    w_fat: float


@dataclass(frozen=True, slots=True)
class _ItemTaste:
    """What the customer model reads off an item, computed once per item on first use."""

    kind: frozenset[str]
    base_size: tuple[float, str] | None
    fat_level: int | None


@dataclass(frozen=True, slots=True)
class _ItemStock:
    out_probability: float  # long-run share of time out, before the store factor
    restock_rate: float  # per second (1 / mean time to restock)


class _Shelf:
    """One (store, item) pair's stock: current state, next flip time, flips so far."""

    __slots__ = ("flips", "in_stock", "next_flip", "out_rate", "registered", "restock_rate")

    def __init__(self, in_stock: bool, out_rate: float, restock_rate: float) -> None:
        self.in_stock = in_stock
        self.out_rate = out_rate  # in stock -> out, per second
        self.restock_rate = restock_rate  # out -> in stock, per second
        self.next_flip = math.inf
        self.flips = 0
        self.registered = False  # the store system reports its flips (the pair was picked)


class _Order:
    __slots__ = ("lines_left", "open_requests", "perfect")

    def __init__(self, lines: int) -> None:
        self.lines_left = lines
        self.open_requests = 0
        self.perfect = True


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
        self._hash_key = hashlib.blake2b(f"fillrate-sim|{config.seed}".encode()).digest()[:32]
        self._rng = random.Random(config.seed)
        self.population: Population = population(config.population)
        self._shift_ts = None if config.shift_at is None else config.start_ts + config.shift_at
        width = max(3, len(str(config.n_stores)))
        self._store_ids = [f"store-{i:0{width}d}" for i in range(1, config.n_stores + 1)]
        width = max(5, len(str(config.n_customers)))
        self._customer_ids = [f"customer-{i:0{width}d}" for i in range(1, config.n_customers + 1)]

        self._baskets: list[list[str]] = []
        self._synthetic_items: list[str] = []
        self._synthetic_cum: list[float] = []
        popularity = self._choose_baskets(baskets)
        self._popularity = popularity
        self._pop_log_max = math.log1p(max(popularity.values(), default=0.0))
        self._pop_norm = self._popularity_normaliser()

        # Hidden state, all filled lazily.
        self._customers: dict[str, _Customer] = {}
        self._tastes: dict[str, _ItemTaste] = {}
        self._stock_cache: dict[str, _ItemStock] = {}
        self._store_factor: dict[str, float] = {}
        self._appeals: dict[tuple[str, int], float] = {}
        self._brand_appeal: dict[tuple[str, str, int], float] = {}
        self._switch: dict[tuple[str, str, str, int], float] = {}
        self._aisle_shifts: dict[str, bool] = {}
        self._shelves: dict[tuple[str, str], _Shelf] = {}
        self._flip_queue: list[tuple[float, int, str, str]] = []  # registered shelves' next flips
        self._pick_queue: list[_Pick] = []
        self._order_info: dict[str, tuple[str, str]] = {}  # order -> (customer, store)
        self._orders: dict[str, _Order] = {}
        self._requests: dict[str, str] = {}  # open request id -> order id
        self._signals: list[InventorySignal] = []
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

    def catalog_events(self) -> list[Product]:
        """The catalog, to publish before any other event."""
        return list(self.products.values())

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
        # Report every flip of the shelves the store system watches, up to the new time.
        queue = self._flip_queue
        while queue and queue[0][0] <= end:
            due, _, store_id, item_id = heapq.heappop(queue)
            shelf = self._shelves[(store_id, item_id)]
            if due == shelf.next_flip:  # otherwise stale: a pick rolled it on already
                self._roll(store_id, item_id, shelf, end)
        self.now = end
        signals = sorted(self._signals, key=_signal_ts)
        self._signals = []
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
        as outcome ``"refunded"``. ``position`` is the substitute's index in
        ``ranked_item_ids``; the requested item itself and unknown ids are skipped. Returns
        None, and counts the line unfilled, when nothing listed is in stock. A request that was
        already resolved or expired returns None and changes nothing.
        """
        order_id = self._requests.pop(request.request_id, None)
        if order_id is None:
            self._counts["stale_resolutions"] += 1
            return None
        requested = self.products[request.item_id]
        ts = max(self.now, request.ts)
        offer = self._first_in_stock(request, ranked_item_ids, ts)
        if offer is None:
            self._counts["unfilled"] += 1
            self._counts["nothing_in_stock"] += 1
            self._close_request(order_id, filled=False)
            return None
        position, candidate = offer
        item_id = candidate.item_id
        p = self.true_accept_prob(request.customer_id, requested, candidate, ts)
        u_accept, u_refund = self._uniform2(f"decide|{request.request_id}|{item_id}")
        if u_accept < p:
            refund_p = self.config.refund_base + self.config.refund_scale * (1.0 - p) ** 2
            outcome = "refunded" if u_refund < refund_p else "accepted"
        else:
            outcome = "rejected"
        self._counts["substituted"] += 1
        self._counts[outcome] += 1
        self._close_request(order_id, filled=outcome == "accepted")
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
            if self._stock_at(request.store_id, item_id, ts):
                return position, candidate
        return None

    def expire(self, request: SubstitutionRequest) -> None:
        """The shopper gave up waiting for a ranking: the line goes unfilled."""
        order_id = self._requests.pop(request.request_id, None)
        if order_id is None:
            return
        self._counts["unfilled"] += 1
        self._counts["expired"] += 1
        self._close_request(order_id, filled=False)

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
        non-organic offer to an organic-only customer asking for organic.
        """
        ts = self.now if now is None else now
        shifted = self._shift_ts is not None and ts >= self._shift_ts
        customer = self._customer(customer_id)
        req_tags, cand_tags = requested.tags, candidate.tags
        if customer.refuses_all or (req_tags & DIETARY_TAGS) - cand_tags:
            return P_MIN
        if ("alcohol" in req_tags) != ("alcohol" in cand_tags):
            return P_MIN
        req_organic, cand_organic = "organic" in req_tags, "organic" in cand_tags
        if req_organic and not cand_organic and customer.organic_only:
            return P_MIN
        req, cand = self._taste(requested), self._taste(candidate)
        # In a flipped aisle every hidden effect is redrawn: what history taught goes stale.
        flipped = self._flipped(requested.aisle, ts)
        epoch = 1 if flipped else 0
        z = customer.willingness + self._appeal(candidate.item_id, epoch)
        z += self.population.pair_sd * self._normal(
            f"pair|{requested.item_id}|{candidate.item_id}|{epoch}"
        )
        if candidate.aisle != requested.aisle:
            z -= 1.5 if candidate.department == requested.department else 3.0
        z += self._brand_effect(candidate.aisle, candidate.brand or "", epoch)
        if requested.brand is not None:
            # After the shift, loyalty in a flipped aisle turns into fatigue with the brand.
            if (candidate.brand == requested.brand) == flipped:
                z -= customer.w_brand
            if candidate.brand != requested.brand:
                z += self._switch_effect(
                    requested.aisle, requested.brand, candidate.brand or "", epoch
                )
        if requested.price and candidate.price:
            ratio = candidate.price / requested.price
            w_price = customer.w_price * (self.config.shift_price_factor if shifted else 1.0)
            z -= w_price * max(0.0, ratio - 1.0)
            z += customer.w_cheap * max(0.0, 1.0 - ratio)
        if req.base_size is not None and cand.base_size is not None:
            if req.base_size[1] == cand.base_size[1]:
                z -= customer.w_size * abs(math.log(cand.base_size[0] / req.base_size[0]))
            else:
                z -= customer.w_size * 2.0  # a count for a weight: not the same thing at all
        z -= customer.w_kind * (1.0 - _jaccard(req.kind, cand.kind))
        if req.fat_level is not None:
            if cand.fat_level is None:
                z -= 0.5 * customer.w_fat
            else:
                z -= customer.w_fat * abs(req.fat_level - cand.fat_level)
        if req_organic and not cand_organic:
            z -= customer.w_organic
        elif cand_organic:
            z += 0.3 * customer.w_organic
        return min(P_MAX, max(P_MIN, _sigmoid(z)))

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
        epoch = 1 if self._flipped(requested.aisle, self.now if now is None else now) else 0
        people = self.population
        item, brand = candidate.item_id, candidate.brand or ""
        appeal = self._appeal(item, epoch) - people.popularity_appeal * (
            self.popularity_score(item) - 0.5
        )
        effects = {
            f"appeal|{item}|{epoch}": appeal,
            f"pair|{requested.item_id}|{item}|{epoch}": people.pair_sd
            * self._normal(f"pair|{requested.item_id}|{item}|{epoch}"),
            f"brand|{candidate.aisle}|{brand}|{epoch}": self._brand_effect(
                candidate.aisle, brand, epoch
            ),
        }
        if requested.brand is not None and candidate.brand != requested.brand:
            key = f"switch|{requested.aisle}|{requested.brand}|{brand}|{epoch}"
            effects[key] = self._switch_effect(requested.aisle, requested.brand, brand, epoch)
        return effects

    def in_stock(self, store_id: str, item_id: str) -> bool:
        """Whether the item is on the shelf at the store right now (hidden truth)."""
        return self._stock_at(store_id, item_id, self.now)

    def stats(self) -> dict[str, float]:
        """Counters of the run so far, and the rates users care about.

        ``perfect_order_fill_rate`` is over completed orders (every line picked and every
        substitution request resolved or expired): the share where each line was found or its
        substitute accepted (a refunded substitute does not count). It is 0.0 before any order
        completes. ``acceptance_rate`` is accepted / substituted (offered substitutes).
        """
        c = self._counts
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
            "stock_outs": float(c["stock_outs"]),
            "restocks": float(c["restocks"]),
            "shelves_tracked": float(len(self._shelves)),
        }

    # ------------------------------------------------------------------------------------------
    # Orders and shoppers
    # ------------------------------------------------------------------------------------------

    def _choose_baskets(self, baskets: Sequence[Sequence[str]] | None) -> dict[str, float]:
        """Fill the basket sampler; returns order-line counts (or weights) per item."""
        source = self.config.basket_source
        if baskets is None and source != "synthetic":
            baskets = _instacart_baskets()
        if baskets is not None and source != "synthetic":
            total = sum(len(b) for b in baskets)
            kept = [_dedupe([i for i in b if i in self.products]) for b in baskets]
            kept = [b for b in kept if b]
            covered = sum(len(b) for b in kept)
            if kept and (source == "instacart" or covered >= 0.5 * total):
                self._baskets = kept
                return dict(Counter(item for basket in kept for item in basket))
            if source == "instacart":
                raise ValueError("no basket has an item of the catalog")
        # Synthetic: a heavy-tailed popularity per item, the same for an item in any catalog.
        items = list(self.products)
        weights = [math.exp(1.5 * self._normal(f"popularity|{item}")) for item in items]
        self._synthetic_items = items
        self._synthetic_cum = list(itertools.accumulate(weights))
        return dict(zip(items, weights, strict=True))

    def popularity_score(self, item_id: str) -> float:
        """How often the item is ordered, as log count scaled to [0, 1] (not hidden: the engine
        reads the same order lines)."""
        if self._pop_log_max <= 0:
            return 0.0
        return math.log1p(self._popularity.get(item_id, 0.0)) / self._pop_log_max

    def _popularity_normaliser(self) -> float:
        """Scale so the order-line-weighted mean out-of-stock probability is the configured one."""
        total = sum(self._popularity.values())
        if total <= 0:
            return 1.0
        weighted = sum(
            count * (1.5 - self.popularity_score(item)) for item, count in self._popularity.items()
        )
        return total / weighted

    def _sample_basket(self) -> list[str]:
        if self._baskets:
            return self._baskets[self._rng.randrange(len(self._baskets))]
        rng = self._rng
        size = 1 + int(rng.expovariate(1.0 / (self.config.synthetic_basket_mean - 0.5)))
        size = min(size, len(self._synthetic_items))
        top = self._synthetic_cum[-1]
        picks = [
            self._synthetic_items[bisect_right(self._synthetic_cum, rng.random() * top)]
            for _ in range(size)
        ]
        return _dedupe(picks)

    def _place_order(self, ts: float) -> None:
        rng = self._rng
        self._n_orders += 1
        order_id = f"{self._prefix}-o{self._n_orders:08d}"
        customer_id = self._customer_ids[rng.randrange(len(self._customer_ids))]
        if rng.random() < self.config.home_store_share:
            home = int(self._uniform(f"home|{customer_id}") * len(self._store_ids))
            store_id = self._store_ids[home]
        else:
            store_id = self._store_ids[rng.randrange(len(self._store_ids))]
        basket = self._sample_basket()
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
        shelf = self._shelf(store_id, item_id)
        self._roll(store_id, item_id, shelf, ts)
        if not shelf.registered:
            shelf.registered = True
            self._schedule(store_id, item_id, shelf)
        truly_in = shelf.in_stock
        u_noise, u_report = self._uniform2(f"line|{order_id}|{line}")
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
            self._maybe_complete(order_id, order)
            return None
        counts["not_found_lines"] += 1
        counts["out_of_stock_lines" if not truly_in else "false_not_found_lines"] += 1
        self._signals.append(InventorySignal(store_id, item_id, "not_found", ts, 0, _SHOPPER))
        self._n_requests += 1
        request_id = f"{self._prefix}-r{self._n_requests:08d}"
        self._requests[request_id] = order_id
        order.open_requests += 1
        return SubstitutionRequest(request_id, order_id, customer_id, store_id, item_id, ts)

    def _close_request(self, order_id: str, filled: bool) -> None:
        order = self._orders[order_id]
        order.open_requests -= 1
        if not filled:
            order.perfect = False
        self._maybe_complete(order_id, order)

    def _maybe_complete(self, order_id: str, order: _Order) -> None:
        if order.lines_left or order.open_requests:
            return
        self._counts["orders_completed"] += 1
        self._counts["perfect_orders"] += order.perfect
        del self._orders[order_id]
        del self._order_info[order_id]

    # ------------------------------------------------------------------------------------------
    # Shelves
    # ------------------------------------------------------------------------------------------

    def _stock_traits(self, item_id: str) -> _ItemStock:
        traits = self._stock_cache.get(item_id)
        if traits is None:
            cfg = self.config
            scarcity = (1.5 - self.popularity_score(item_id)) * self._pop_norm
            noise = math.exp(0.4 * self._normal(f"oos|{item_id}") - 0.08)  # mean 1
            low, high = cfg.restock_minutes
            minutes = low + (high - low) * self._uniform(f"restock|{item_id}")
            traits = _ItemStock(cfg.out_of_stock_rate * scarcity * noise, 1.0 / (60.0 * minutes))
            self._stock_cache[item_id] = traits
        return traits

    def _shelf(self, store_id: str, item_id: str) -> _Shelf:
        """The pair's shelf, created at sim start from its stationary distribution if new."""
        key = (store_id, item_id)
        shelf = self._shelves.get(key)
        if shelf is None:
            traits = self._stock_traits(item_id)
            factor = self._store_factor.get(store_id)
            if factor is None:
                factor = math.exp(0.3 * self._normal(f"store|{store_id}") - 0.045)
                self._store_factor[store_id] = factor
            p_out = min(0.5, traits.out_probability * factor)
            out_rate = traits.restock_rate * p_out / (1.0 - p_out)
            in_stock = self._uniform(f"shelf|{store_id}|{item_id}|0") >= p_out
            shelf = _Shelf(in_stock, out_rate, traits.restock_rate)
            shelf.next_flip = self._next_flip(store_id, item_id, shelf, self.config.start_ts)
            self._shelves[key] = shelf
        return shelf

    def _next_flip(self, store_id: str, item_id: str, shelf: _Shelf, since: float) -> float:
        rate = shelf.out_rate if shelf.in_stock else shelf.restock_rate
        if rate <= 0:
            return math.inf
        u = self._uniform(f"shelf|{store_id}|{item_id}|{shelf.flips + 1}")
        return since - math.log(u) / rate

    def _roll(self, store_id: str, item_id: str, shelf: _Shelf, until: float) -> None:
        """Apply the shelf's flips up to ``until``; a watched shelf reports them."""
        if shelf.next_flip > until:
            return
        cfg = self.config
        while shelf.next_flip <= until:
            at = shelf.next_flip
            shelf.in_stock = not shelf.in_stock
            shelf.flips += 1
            shelf.next_flip = self._next_flip(store_id, item_id, shelf, at)
            if shelf.registered:
                self._counts["restocks" if shelf.in_stock else "stock_outs"] += 1
                report = self._uniform(f"report|{store_id}|{item_id}|{shelf.flips}")
                if shelf.in_stock and report < cfg.in_stock_signal_rate:
                    self._signals.append(
                        InventorySignal(store_id, item_id, "in_stock", at, None, _STORE_SYSTEM)
                    )
                elif not shelf.in_stock and report < cfg.out_of_stock_signal_rate:
                    self._signals.append(
                        InventorySignal(store_id, item_id, "out_of_stock", at, 0, _STORE_SYSTEM)
                    )
        if shelf.registered:
            self._schedule(store_id, item_id, shelf)

    def _schedule(self, store_id: str, item_id: str, shelf: _Shelf) -> None:
        if shelf.next_flip < math.inf:
            heapq.heappush(self._flip_queue, (shelf.next_flip, next(self._seq), store_id, item_id))

    def _stock_at(self, store_id: str, item_id: str, ts: float) -> bool:
        shelf = self._shelf(store_id, item_id)
        self._roll(store_id, item_id, shelf, ts)
        return shelf.in_stock

    # ------------------------------------------------------------------------------------------
    # Hidden tastes
    # ------------------------------------------------------------------------------------------

    def _customer(self, customer_id: str) -> _Customer:
        customer = self._customers.get(customer_id)
        if customer is None:
            rng = random.Random(f"{self.config.seed}|customer|{customer_id}")
            # Segment memberships: a peaked Dirichlet, so most customers lean one or two ways.
            mix = self.population.segment_weights
            raw = [rng.gammavariate(0.4 * mix[i], 1.0) for i in range(len(SEGMENTS))]
            total = sum(raw) or 1.0
            brand, price, organic, size, kind = (r / total for r in raw)
            customer = _Customer(
                willingness=rng.gauss(
                    self.population.willingness_mean, self.population.willingness_sd
                ),
                refuses_all=rng.random() < self.config.no_substitution_share,
                organic_only=organic > 0.5,
                w_brand=0.4 + 3.0 * brand,
                w_price=0.5 + 4.0 * price,
                w_cheap=0.1 + 0.6 * price,
                w_organic=0.2 + 2.0 * organic,
                w_size=0.5 + 3.0 * size,
                w_kind=1.5 + 3.0 * kind,
                w_fat=1.0 + 2.5 * kind,
            )
            self._customers[customer_id] = customer
        return customer

    def _taste(self, product: Product) -> _ItemTaste:
        taste = self._tastes.get(product.item_id)
        if taste is None:
            kind = frozenset(flavor_tokens(product.name, product.brand)) - _KIND_STOPWORDS
            base_size = None
            if product.size is not None and product.unit is not None and product.size > 0:
                base_size = to_base_units(product.size, product.unit)
            levels = [_FAT_LEVELS[t] for t in product.tags if t in _FAT_LEVELS]
            taste = _ItemTaste(
                kind=kind,
                base_size=base_size,
                fat_level=max(levels) if levels else None,
            )
            self._tastes[product.item_id] = taste
        return taste

    def _appeal(self, item_id: str, epoch: int) -> float:
        key = (item_id, epoch)
        value = self._appeals.get(key)
        if value is None:
            people = self.population
            value = people.appeal_sd * self._normal(f"appeal|{item_id}|{epoch}")
            value += people.popularity_appeal * (self.popularity_score(item_id) - 0.5)
            self._appeals[key] = value
        return value

    def _brand_effect(self, aisle: str, brand: str, epoch: int) -> float:
        key = (aisle, brand, epoch)
        value = self._brand_appeal.get(key)
        if value is None:
            value = self.population.brand_sd * self._normal(f"brand|{aisle}|{brand}|{epoch}")
            self._brand_appeal[key] = value
        return value

    def _switch_effect(self, aisle: str, from_brand: str, to_brand: str, epoch: int) -> float:
        key = (aisle, from_brand, to_brand, epoch)
        value = self._switch.get(key)
        if value is None:
            value = self.population.switch_sd * self._normal(
                f"switch|{aisle}|{from_brand}|{to_brand}|{epoch}"
            )
            self._switch[key] = value
        return value

    def _flipped(self, aisle: str, ts: float) -> bool:
        """Whether the shift has redrawn this aisle's hidden effects by ``ts``."""
        return self._shift_ts is not None and ts >= self._shift_ts and self._aisle_shifted(aisle)

    def _aisle_shifted(self, aisle: str) -> bool:
        shifted = self._aisle_shifts.get(aisle)
        if shifted is None:
            shifted = self._uniform(f"shift|{aisle}") < self.config.shift_aisle_share
            self._aisle_shifts[aisle] = shifted
        return shifted

    # ------------------------------------------------------------------------------------------
    # Keyed randomness: a pure function of (seed, key), independent of call order.
    # ------------------------------------------------------------------------------------------

    def _hash64(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8, key=self._hash_key).digest()
        return int.from_bytes(digest, "big")

    def _uniform(self, key: str) -> float:
        """Uniform in (0, 1)."""
        return (self._hash64(key) + 0.5) / _TWO_64

    def _uniform2(self, key: str) -> tuple[float, float]:
        """Two independent uniforms in (0, 1) from one hash."""
        h = self._hash64(key)
        return ((h >> 32) + 0.5) / _TWO_32, ((h & 0xFFFFFFFF) + 0.5) / _TWO_32

    def _normal(self, key: str) -> float:
        return _NORMAL.inv_cdf(self._uniform(key))


@lru_cache(maxsize=1)
def _instacart_baskets() -> list[list[str]]:
    """Real Instacart orders, read once per process (callers copy before changing them)."""
    return load_order_baskets()


def _signal_ts(signal: InventorySignal) -> float:
    return signal.ts


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
