"""The substitution engine: decoded events in, ranking events out. No Kafka here.

It owns the worker's state (catalog, availability, the model, which rankings are live, kept
by :class:`~online_learning.live_rankings.LiveRankings`) and decides *when* a ranking is due:

- ``stock_out``: an item's P(available) at a store falls below the threshold.
- ``candidate_stock_out``: an item offered in a live ranking at that store falls below it;
  each affected ranking is re-emitted without it.
- ``model_update``: after feedback, :meth:`SubstitutionEngine.refresh` re-ranks live rankings and
  re-emits those whose order changed (the caller debounces it on a timer).

A ranking stays live while its requested item is believed unavailable; a restock ends it.
Every way a live ranking ends (:data:`RETIREMENTS`) is noted, and :meth:`take_retired` hands
the keys over, so the worker can tell the rankings topic's table consumers (a tombstone) and
its changelog. A ranking replaced by a newer one of the same key, or dropped because its store
moved to another worker, is not retired: the key stays live, here or there.

Popularity is learned from what every worker shares, never from this worker's own stream:
the engine counts the ``found`` / ``not_found`` signals it applies (:meth:`take_demand` hands
the counts over, for the learning log) and its popularity changes only through what comes
back from the log (:meth:`apply_demand`, and the requested item of each learned feedback
event), so every worker computes the same features from the same log.

The engine decides and learns; it does not watch itself. :meth:`SubstitutionEngine.on_feedback`
returns what it predicted before learning (a :class:`FeedbackOutcome`), and
``online_learning.monitoring`` scores those beside it. Its state crosses the boundary only
through methods: restore a store's entries, a model digest, a stats snapshot.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from online_learning.availability import AvailabilityConfig, AvailabilityState
from online_learning.catalog import Catalog
from online_learning.contract import (
    CatalogTombstone,
    DemandSummary,
    EventError,
    Feedback,
    InventorySignal,
    ItemChoice,
    Product,
    SubstitutionRequest,
)
from online_learning.contract.replies import Reply
from online_learning.effects import EffectsConfig, Key, RandomEffects
from online_learning.exploration import explore
from online_learning.features import FeatureStore, pair_features
from online_learning.interactions import InteractionConfig
from online_learning.live_rankings import LiveRankings
from online_learning.logistic import sigmoid
from online_learning.model import AcceptanceModel
from online_learning.personal import CustomerTastes, TastesConfig
from online_learning.personal_replies import ReplyContext, reply_to
from online_learning.popularity import Popularity, PopularityConfig
from online_learning.ranking import Ranking, rank_substitutes, ranking_id
from online_learning.recent_ids import RecentIds
from online_learning.refresh_pass import RefreshPass
from online_learning.rules import HardRules
from online_learning.themes import theme_labels

__all__ = [
    "RETIREMENTS",
    "EngineConfig",
    "EngineStats",
    "FeedbackOutcome",
    "FeedbackResult",
    "SignalOutcome",
    "SubstitutionEngine",
    "UnknownItem",
    "UnknownReference",
    "UnknownStore",
]


EXPLORE_PERIOD_S = 3600.0  # an exploration decision holds this long (stream time)
DEMAND_SIGNALS = frozenset({"found", "not_found"})  # a shopper looked for the item
# Why a live ranking ends: a signal put its item back over the threshold (in_stock, found);
# its miss aged out without a signal (seen in a model-update pass); the item left the catalog;
# a restore found the item available again (the previous owner retired it unseen).
RETIREMENTS = ("restock", "aged_out", "not_in_catalog", "not_restored")


class UnknownReference(EventError):
    """A well-formed event names an item or store this worker does not know."""


class UnknownStore(UnknownReference):
    """A store outside the configured ``allowed_stores``: waiting would not change that."""


class UnknownItem(UnknownReference):
    """An item not in the catalog (yet: its catalog record may still be on its way)."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    top_k: int = 10
    threshold: float = 0.5  # below this P(available) an item is treated as out of stock
    dedup_capacity: int = 1_000_000  # feedback event ids remembered for de-duplication
    refresh_budget: int = 500  # live rankings re-ranked per refresh call
    allowed_stores: frozenset[str] | None = None  # None: any well-formed store id
    effects: EffectsConfig | None = field(default_factory=EffectsConfig)  # None: content only
    explore_epsilon: float = 0.05  # share of rankings that put a runner-up first
    explore_top: int = 3  # ... chosen uniformly among the 2nd to this position
    candidate_cache: int = 2048  # requested items whose candidate blocks stay cached (LRU)
    popularity: PopularityConfig = field(default_factory=PopularityConfig)  # demand's half-life
    tastes: TastesConfig | None = field(default_factory=TastesConfig)  # None: no personal part
    # Hashed interaction weights (online_learning/interactions.py); None: off. On customers
    # whose tastes the content features miss they add about 0.02 of the random-to-oracle gap
    # and keep rising; the engine's CPU per event is about 1.85x (docs/evaluation.md).
    interactions: InteractionConfig | None = field(default_factory=InteractionConfig)

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.refresh_budget < 1:
            raise ValueError(f"refresh_budget must be >= 1, got {self.refresh_budget}")
        if not 0.0 <= self.explore_epsilon < 1.0:
            raise ValueError(f"explore_epsilon must be in [0, 1), got {self.explore_epsilon}")
        if self.candidate_cache < 1:
            raise ValueError(f"candidate_cache must be >= 1, got {self.candidate_cache}")
        if self.explore_top < 1:
            raise ValueError(f"explore_top must be >= 1, got {self.explore_top}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")


class FeedbackResult(Enum):
    LEARNED = "learned"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class FeedbackOutcome:
    """What one feedback event did: learned (with the prediction made before learning) or not."""

    result: FeedbackResult
    event_id: str
    accepted: bool
    p: float = math.nan  # P(accept) the engine gave the pair before learning from it
    prior_p: float = math.nan  # the frozen content prior's P(accept) for the same pair
    features: Mapping[str, float] | None = None  # the pair's features, as the model saw them


@dataclass(frozen=True, slots=True)
class SignalOutcome:
    """What one stock signal did to the engine's state."""

    rankings: list[Ranking]
    changed: bool  # the (store, item) availability entry changed (a stale signal changes none)
    was_live: bool  # (store, item) had a live ranking before the signal


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Sizes and counters of the engine's state, for gauges and health checks."""

    catalog_items: int
    availability_entries: int
    live_rankings: int
    feedback_learned: int
    model_version: str
    stale_signals: int
    interactions_counted: bool  # the interaction weights count in predictions now


class SubstitutionEngine:
    """State and decisions of one worker; every method is synchronous and broker-free."""

    def __init__(
        self,
        *,
        rules: HardRules | None = None,
        config: EngineConfig | None = None,
        availability: AvailabilityConfig | None = None,
        model: AcceptanceModel | None = None,
        popularity: Mapping[str, float] | None = None,
        products: Iterable[Product] = (),
        generic_words: frozenset[str] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``popularity``: seed figures per item id for items whose catalog record has no
        ``popularity`` of its own (:class:`~online_learning.popularity.Popularity`; the
        catalog field is the usual way). ``generic_words``: first words of names that are not
        brands; None: learned from the catalog's own names as items arrive and leave (see
        :class:`~online_learning.product_text.BrandVocabulary`)."""
        self.wall_clock = wall_clock  # stamps each ranking's ts (when it was emitted)
        self.config = config or EngineConfig()
        self.rules = rules or HardRules()
        self.catalog = Catalog(products, generic_words, self.rules.tags_by_taxonomy())
        self.popularity = Popularity(self.config.popularity, popularity)
        for product in self.catalog:
            if product.popularity is not None:
                self.popularity.seed(product.item_id, product.popularity)
        self.features = FeatureStore(
            self.catalog, self.rules, self.popularity, max_blocks=self.config.candidate_cache
        )
        self.availability = AvailabilityState(availability)
        self.model = model or AcceptanceModel(interactions=self.config.interactions)
        self.features.interactions = self.model.interactions  # its column reads them live
        self.effects = RandomEffects(self.config.effects) if self.config.effects else None
        self.tastes = CustomerTastes(self.config.tastes) if self.config.tastes else None
        self.seen_feedback = RecentIds(self.config.dedup_capacity)
        self.live = LiveRankings()
        self.clock = 0.0  # stream time: the newest event ts seen
        self.refresh_pass = RefreshPass()  # the model-update pass under way, if any
        self.stale_signals = 0
        # looks for items in this worker's signals, not yet handed over (take_demand)
        self._demand: Counter[str] = Counter()
        self._demand_ts = 0.0

    # -- catalog -------------------------------------------------------------------------------
    def apply_catalog(self, record: Product | CatalogTombstone) -> None:
        if isinstance(record, CatalogTombstone):
            self.catalog.remove(record.item_id)
            self.features.forget(record.item_id)
            self.popularity.seed(record.item_id, None)
        else:
            self.catalog.upsert(record)
            self.popularity.seed(record.item_id, record.popularity)

    def load_catalog(self, records: Sequence[Product | CatalogTombstone]) -> None:
        """Apply a catalog's backlog at once (the last record of each item wins).

        Brands missing from the records are guessed from names, which needs to know which
        first words are generic ("Organic", "Chocolate") in *this* catalog's language: the
        catalog learns that from all the backlog's names before guessing any, and keeps
        learning from the records applied later (:meth:`apply_catalog`).
        """
        latest: dict[str, Product | CatalogTombstone] = {}
        for record in records:
            latest[record.item_id] = record
        for record in latest.values():
            if isinstance(record, CatalogTombstone):
                self.apply_catalog(record)
        self.catalog.load(p for p in latest.values() if isinstance(p, Product))
        for record in latest.values():
            if isinstance(record, Product):
                self.popularity.seed(record.item_id, record.popularity)

    def warm_features(self) -> int:
        """Parse every name and build every pool's columns now; returns the pools built."""
        return self.features.warm()

    def warm_pools(self) -> Iterator[str | None]:
        """:meth:`warm_features` in small steps (see :meth:`FeatureStore.warm_pools`)."""
        return self.features.warm_pools()

    # -- validation of references (the schema is checked by the decoders) ----------------------
    def _check_store(self, store_id: str) -> None:
        allowed = self.config.allowed_stores
        if allowed is not None and store_id not in allowed:
            raise UnknownStore(f"unknown store {store_id!r}")

    def _product(self, item_id: str, field: str) -> Product:
        product = self.catalog.get(item_id)
        if product is None:
            raise UnknownItem(f"unknown item {item_id!r} in field '{field}' (not in the catalog)")
        return product

    # -- signals -------------------------------------------------------------------------------
    def on_signal(self, signal: InventorySignal) -> list[Ranking]:
        """Apply a stock signal; returns the rankings it makes due (possibly none)."""
        return self.apply_signal(signal).rankings

    def apply_signal(self, signal: InventorySignal) -> SignalOutcome:
        """Apply a stock signal; returns the rankings it makes due and what it changed."""
        key = (signal.store_id, signal.item_id)
        was_live = key in self.live
        rankings = self._apply_signal(signal)
        changed = rankings is not None
        return SignalOutcome(rankings or [], changed, was_live)

    def _apply_signal(self, signal: InventorySignal) -> list[Ranking] | None:
        """The rankings a signal makes due; None if it was stale (changed nothing)."""
        self._check_store(signal.store_id)
        product = self._product(signal.item_id, "item_id")
        self.clock = max(self.clock, signal.ts)
        if signal.signal in DEMAND_SIGNALS:  # counted even if stale: a look is a look
            self._demand[signal.item_id] += 1
            self._demand_ts = max(self._demand_ts, signal.ts)
        change = self.availability.observe(
            signal.store_id, signal.item_id, signal.signal, signal.ts
        )
        if change is None:
            self.stale_signals += 1
            return None
        _before, after = change
        threshold = self.config.threshold
        key = (signal.store_id, signal.item_id)
        out: list[Ranking] = []
        if after < threshold:
            if key not in self.live:
                out.append(self._emit(product, signal.store_id, "stock_out", signal.ts))
            for requested_id in self.live.offering(signal.store_id, signal.item_id):
                requested = self.catalog.get(requested_id)
                if requested is not None:
                    out.append(
                        self._emit(requested, signal.store_id, "candidate_stock_out", signal.ts)
                    )
        elif key in self.live:
            self.live.end(key, "restock")
        return out

    # -- feedback ------------------------------------------------------------------------------
    def on_feedback(self, feedback: Feedback) -> FeedbackOutcome:
        """Learn from one feedback event, once per event_id.

        Returns the prediction made *before* learning from it, for progressive validation
        (``online_learning.monitoring``) and error analysis.
        """
        self._check_store(feedback.store_id)
        requested = self._product(feedback.item_id, "item_id")
        substitute = self._product(feedback.substitute_id, "substitute_id")
        y = feedback.outcome == "accepted"  # a refund is a rejection that came late
        if not self.seen_feedback.add(feedback.event_id):
            return FeedbackOutcome(FeedbackResult.DUPLICATE, feedback.event_id, y)
        self.clock = max(self.clock, feedback.ts)
        row, keys = self.features.pair_row(requested, substitute)
        x = pair_features(row)
        base = self.model.logit_one(x)
        key = self.effect_key(requested, substitute)
        effects = self.effects
        population = base + (effects.offset(key) if effects is not None else 0.0)
        # The customer's own offset (0 without a customer or any evidence of theirs): what
        # their reply was scored with, so also what the prediction is judged by.
        tastes, customer = self.tastes, feedback.customer_id
        own = tastes.offset_one(customer, row) if tastes is not None else 0.0
        p = sigmoid(population + own)
        prior_p = self.model.prior_proba_one(x)
        if tastes is not None and customer is not None:
            # backfitting: the population's logit without the customer's own offset
            tastes.learn_one(customer, row, y, population)
        self.model.learn_one(x, y, keys, base)
        self.features.history.update(requested.item_id, substitute.item_id, y)
        if effects is not None:
            # with the customer's offset, so a brand's effect does not absorb one customer's
            # loyalty to it
            effects.update(key, y, base + own)
        # After the features: the event was predicted with the popularity known before it.
        self.popularity.observe(requested.item_id, 1.0, feedback.ts)
        self.refresh_pass.learned()
        return FeedbackOutcome(FeedbackResult.LEARNED, feedback.event_id, y, p, prior_p, x)

    def effect_key(self, requested: Product, candidate: Product) -> Key:
        """What the learned offsets of this pair are keyed by."""
        return Key(
            requested.item_id,
            candidate.item_id,
            self.features.pool_key(requested),
            requested.brand,
            candidate.brand,
        )

    def p_accept(self, requested: Product, candidate: Product) -> float:
        """P(accept) of one pair as a ranking scores it: River's logit plus learned offsets."""
        x = pair_features(self.features.pair_vector(requested, candidate))
        offset = self.effects.offset(self.effect_key(requested, candidate)) if self.effects else 0.0
        return sigmoid(self.model.logit_one(x) + offset)

    # -- one customer's request ----------------------------------------------------------------
    def reply(
        self,
        request: SubstitutionRequest,
        choice: ItemChoice | None = None,
        needs: frozenset[str] = frozenset(),
    ) -> Reply:
        """The reply to a substitution request, given the customer's choice for the item and
        their needs (:mod:`online_learning.personal_replies`); raises
        :class:`UnknownReference` for an unknown store or item. Changes no state."""
        self._check_store(request.store_id)
        requested = self._product(request.item_id, "item_id")
        return reply_to(request, requested, choice, needs, self._reply_context, self.wall_clock())

    @property
    def _reply_context(self) -> ReplyContext:
        config = self.config
        return ReplyContext(
            features=self.features,
            model=self.model,
            effects=self.effects,
            tastes=self.tastes,
            availability=self.availability,
            rules=self.rules,
            top_k=config.top_k,
            threshold=config.threshold,
            explore_epsilon=config.explore_epsilon,
            explore_top=config.explore_top,
            pair_offset=self._pair_offset,
        )

    def _pair_offset(self, requested: Product, candidate: Product) -> float:
        effects = self.effects
        return effects.offset(self.effect_key(requested, candidate)) if effects else 0.0

    # -- popularity ----------------------------------------------------------------------------
    def take_demand(self) -> DemandSummary | None:
        """The looks for items in the signals applied since the last call (None: none).

        They do not change this engine's popularity: the worker appends them to the shared
        learning log, and every worker applies them from there (:meth:`apply_demand`).
        """
        if not self._demand:
            return None
        summary = DemandSummary(self._demand_ts, tuple(sorted(self._demand.items())))
        self._demand.clear()
        self._demand_ts = 0.0
        return summary

    def apply_demand(self, summary: DemandSummary) -> None:
        """Learn popularity from a demand summary of the learning log (in log order)."""
        self.popularity.apply(summary)

    def popularity_of(self, item_id: str) -> float:
        """The ``popularity`` feature of an item as a ranking would read it now."""
        return self.popularity.value(item_id)

    def popularity_digest(self) -> str:
        """A short hash of the learned demand and the seeds: equal on engines that applied the
        same learning log to the same catalog."""
        return self.popularity.digest()

    # -- model updates -------------------------------------------------------------------------
    @property
    def refresh_pending(self) -> int:
        """Live rankings left in the re-ranking pass under way (0: none under way)."""
        return len(self.refresh_pass)

    def refresh(self, budget: int | None = None) -> list[Ranking]:
        """Re-rank live rankings after learning; emit those whose order changed.

        One call re-ranks at most ``budget`` (default ``refresh_budget``) rankings of the pass
        under way, so a worker with many live rankings spreads a pass over several calls
        instead of stalling its stream (:mod:`online_learning.refresh_pass` says in what order
        and when a pass begins). A ranking whose item has drifted back over the threshold (its
        miss has aged out without a restock signal) is retired here instead: nobody needs it
        any more. A pass does not cache the candidate blocks it builds (it visits each item
        once).
        """
        budget = self.config.refresh_budget if budget is None else budget
        out = []
        threshold = self.config.threshold
        for key in self.refresh_pass.take(self.live, budget):
            store_id, item_id = key
            previous = self.live.substitutes(key)
            if previous is None:  # retired since the pass began
                continue
            requested = self.catalog.get(item_id)
            if requested is None:
                self.live.end(key, "not_in_catalog")
                continue
            if self.availability.p(store_id, item_id, self.clock) >= threshold:
                self.live.end(key, "aged_out")
                continue
            ranking = self._rank(requested, store_id, "model_update", self.clock, keep_block=False)
            if ranking.substitute_ids() != previous:
                self._remember(ranking)
                out.append(ranking)
        return out

    def live_rankings(self) -> int:
        return len(self.live)

    def live_keys(self) -> list[tuple[str, str]]:
        """(store, item) of every live ranking, sorted: what a table of the rankings holds."""
        return sorted(self.live)

    def take_retired(self) -> dict[tuple[str, str], str]:
        """The live rankings that ended since the last call: (store, item) -> why
        (:data:`RETIREMENTS`). A key ranked again before the call is not in it (it is live)."""
        return self.live.take_retired()

    def stats(self) -> EngineStats:
        return EngineStats(
            catalog_items=len(self.catalog),
            availability_entries=len(self.availability),
            live_rankings=len(self.live),
            feedback_learned=self.model.n_learned,
            model_version=self.model.version,
            stale_signals=self.stale_signals,
            interactions_counted=self.model.interactions_count,
        )

    def model_digest(self) -> str:
        """A short hash of the weights and learned offsets: equal on engines that learned alike."""
        weights, intercept = self.model.coefficients()
        h = hashlib.blake2b(digest_size=8)
        h.update(weights.tobytes())
        h.update(repr((intercept, self.model.n_learned)).encode())
        h.update(self.model.interactions_digest().encode())
        if self.effects is not None:
            h.update(self.effects.summary().encode())
        if self.tastes is not None and len(self.tastes):
            h.update(self.tastes.digest().encode())
        return h.hexdigest()

    # -- internals -----------------------------------------------------------------------------
    def _rank(
        self,
        requested: Product,
        store_id: str,
        trigger: str,
        source_ts: float,
        keep_block: bool = True,
    ) -> Ranking:
        substitutes, reason = rank_substitutes(
            requested,
            store_id,
            source_ts,
            features=self.features,
            model=self.model,
            effects=self.effects,
            availability=self.availability,
            rules=self.rules,
            top_k=self.config.top_k,
            threshold=self.config.threshold,
            keep_block=keep_block,
        )
        version = self.model.version
        rid = ranking_id(store_id, requested.item_id, trigger, source_ts, version)
        # One draw per (store, item) and hour of stream time, not per ranking: a model-update
        # re-rank must not flip an explored order back and forth (and re-emit it) every tick.
        seed = f"{store_id}\x1f{requested.item_id}\x1f{int(source_ts // EXPLORE_PERIOD_S)}"
        shown, propensity, explored = explore(
            substitutes, seed, self.config.explore_epsilon, self.config.explore_top
        )
        return Ranking(
            ranking_id=rid,
            store_id=store_id,
            item_id=requested.item_id,
            substitutes=shown,
            reason=reason,
            model_version=version,
            trigger=trigger,
            ts=self.wall_clock(),
            source_ts=source_ts,
            propensity=propensity,
            explored=explored,
        )

    def _emit(self, requested: Product, store_id: str, trigger: str, source_ts: float) -> Ranking:
        ranking = self._rank(requested, store_id, trigger, source_ts)
        self._remember(ranking)
        return ranking

    def _remember(self, ranking: Ranking) -> None:
        self.live.remember((ranking.store_id, ranking.item_id), ranking.substitute_ids())

    # -- checks and lookups for the worker's agents (nothing learned) -------------------------
    def validate_feedback(self, feedback: Feedback) -> Product:
        """Raise :class:`UnknownReference` if ``on_feedback`` would refuse it; learn nothing.

        Returns the requested item's catalog record (its department labels the outcome).
        """
        self._check_store(feedback.store_id)
        requested = self._product(feedback.item_id, "item_id")
        self._product(feedback.substitute_id, "substitute_id")
        return requested

    def feedback_themes(self, feedback: Feedback) -> tuple[str, ...]:
        """The structural themes of the feedback's (requested, substitute) pair, ``("none",)``
        if it shows none (:func:`online_learning.themes.theme_labels`, with this engine's
        rules): what a count of rejections by theme counts the event under. Learns nothing;
        raises :class:`UnknownReference` as :meth:`validate_feedback` does."""
        requested = self._product(feedback.item_id, "item_id")
        substitute = self._product(feedback.substitute_id, "substitute_id")
        x = pair_features(self.features.content_vector(requested, substitute))
        return theme_labels(x, self.rules)

    def has_learned(self, event_id: str) -> bool:
        """Was a feedback event with this id learned (among the last ``dedup_capacity``)?"""
        return event_id in self.seen_feedback

    def knows_item(self, item_id: str) -> bool:
        """Is the item in the catalog? (Cheaper than a refused event: no exception.)"""
        return item_id in self.catalog

    def department(self, item_id: str) -> str | None:
        """The item's catalog department, or None if the catalog lacks the item."""
        product = self.catalog.get(item_id)
        return None if product is None else product.department

    # -- durable state: export, restore and hand-over of stores (the worker's changelog) -------
    def live_ranking(self, store_id: str, item_id: str) -> tuple[str, ...] | None:
        """Substitute ids of the live ranking of (store, item), or None if it has none."""
        return self.live.substitutes((store_id, item_id))

    def availability_entry(self, store_id: str, item_id: str) -> tuple[float, float, bool] | None:
        """(p, ts, held) of a (store, item) seen in a signal, or None: what the changelog keeps."""
        return self.availability.entry(store_id, item_id)

    def restore_availability(
        self, store_id: str, item_id: str, p: float, ts: float, held: bool
    ) -> None:
        """Put back an availability entry as a restart found it (stream time moves with it)."""
        self.availability.restore(store_id, item_id, p, ts, held)
        self.clock = max(self.clock, ts)

    def restore_live_ranking(
        self, store_id: str, item_id: str, substitute_ids: tuple[str, ...]
    ) -> bool:
        """Make (store, item) live again with these substitutes, as a restart found it.

        Restore availability first. A ranking whose item is believed available again (its
        miss aged out before the previous owner's model-update pass saw it) is not restored:
        returns False, and it counts as retired (``not_restored``), so the worker writes the
        tombstones the previous owner could not. (The catalog is not asked: a restore may run
        before the catalog is loaded; a model-update pass retires an item that left it.)
        """
        key = (store_id, item_id)
        if self.availability.p(store_id, item_id, self.clock) >= self.config.threshold:
            self.live.end(key, "not_restored")
            return False
        self.live.remember(key, substitute_ids)
        return True

    def forget_stores(self, store_ids: set[str] | frozenset[str]) -> None:
        """Drop availability and live rankings of these stores (another worker owns them now)."""
        self.availability.forget_stores(store_ids)
        self.live.forget_stores(store_ids)  # their new owner decides whether they ended
        self.refresh_pass.forget_stores(store_ids)
