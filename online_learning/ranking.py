"""Rank substitutes for one requested item at one store: hard rules, availability, then the model.

The score of a candidate is ``p_accept * p_available``: the probability that the shopper finds
it on the shelf *and* the customer accepts it, which is exactly the chance that offering it
fills the line. Candidates that break a hard rule or are believed unavailable
(``p_available < threshold``) are never offered, whatever their score.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from online_learning.availability import AvailabilityState
from online_learning.contract import Product, Ranking, Substitute
from online_learning.contract.replies import CUSTOMER_DECLINED
from online_learning.effects import RandomEffects
from online_learning.features import FeatureStore
from online_learning.model import AcceptanceModel
from online_learning.rules import HardRules

# Ranking and Substitute are the contract's ranking record (online_learning.contract.rankings),
# named here too because this is where rankings are made.
__all__ = [
    "EMPTY_REASONS",
    "Ranking",
    "Substitute",
    "empty_reason",
    "rank_substitutes",
    "ranking_id",
]

NO_CANDIDATE = "no candidate passes the hard rules"
NONE_AVAILABLE = "every rule-passing candidate is believed unavailable at this store"
NONE_MEETS_NEEDS = "no available candidate carries every tag the customer needs"
EMPTY_REASONS = (
    "never_substituted",
    "no_other_items",
    "no_candidates",
    "none_available",
    "customer_needs",
    "other",
)
"""Why a ranking is empty, in a few words a metric label can carry (see :func:`empty_reason`)."""


def ranking_id(store_id: str, item_id: str, trigger: str, source_ts: float, version: str) -> str:
    """Deterministic id, so a replayed input yields the same ranking id.

    >>> a = ranking_id("s1", "42", "stock_out", 1.5, "v1")
    >>> a == ranking_id("s1", "42", "stock_out", 1.5, "v1")
    True
    >>> a == ranking_id("s2", "42", "stock_out", 1.5, "v1")
    False
    """
    raw = f"{store_id}\x1f{item_id}\x1f{trigger}\x1f{source_ts!r}\x1f{version}".encode()
    return hashlib.blake2b(raw, digest_size=10).hexdigest()


def empty_reason(reason: str | None) -> str:
    """The category (one of :data:`EMPTY_REASONS`, or a reply's ``customer_declined``) of an
    empty ranking's or reply's ``reason``, which names items, aisles and tags and so cannot be
    a label itself.

    >>> empty_reason("rule: items tagged infant formula are never substituted")
    'never_substituted'
    >>> empty_reason("no other items in aisle 'tofu meat alternatives'")
    'no_other_items'
    >>> empty_reason(NONE_AVAILABLE), empty_reason(None), empty_reason("customer_declined")
    ('none_available', 'other', 'customer_declined')
    """
    if reason is None:
        return "other"
    if reason.startswith("rule:"):  # every HardRules.no_substitution_reason
        return "never_substituted"
    if reason.startswith("no other items in "):
        return "no_other_items"
    if reason == NO_CANDIDATE:
        return "no_candidates"
    if reason == NONE_AVAILABLE:
        return "none_available"
    if reason == NONE_MEETS_NEEDS:
        return "customer_needs"
    if reason == CUSTOMER_DECLINED:  # a reply's: the customer chose no substitute
        return CUSTOMER_DECLINED
    return "other"


def rank_substitutes(
    requested: Product,
    store_id: str,
    now: float,
    *,
    features: FeatureStore,
    model: AcceptanceModel,
    availability: AvailabilityState,
    rules: HardRules,
    top_k: int = 10,
    threshold: float = 0.5,
    effects: RandomEffects | None = None,
    keep_block: bool = True,
    needs: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
    personal: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64] | None] | None = None,
) -> tuple[tuple[Substitute, ...], str | None]:
    """The best ``top_k`` substitutes, best first, or an empty tuple with the reason.

    ``keep_block=False``: do not add the item's candidate block to the feature store's cache
    if it has to be built (see :meth:`FeatureStore.candidates`). For one customer's reply:
    ``needs``, tags every candidate must carry (the customer's dietary and allergen needs);
    ``exclude``, ids not to rank (offered already); ``personal``, the customer's logit offsets
    for the candidates' pair-feature rows (None: none).
    """
    reason = rules.no_substitution_reason(requested)
    if reason is not None:
        return (), reason
    if len(features.matrix(requested)) == 0:
        return (), f"no other items in {rules.scope} '{features.pool_key(requested)}'"
    block = features.candidates(requested, keep=keep_block)
    if not block.n_allowed:
        return (), NO_CANDIDATE
    p_all = availability.p_many(
        store_id, block.ids, now, block.positions, features.pool_key(requested)
    )
    rows = np.flatnonzero((p_all >= threshold) & block.allowed)
    if rows.size == 0:
        return (), NONE_AVAILABLE
    if needs or exclude:
        rows = _keep(rows, block.ids, features, needs, exclude)
        if rows.size == 0:
            return (), NONE_MEETS_NEEDS if needs else NONE_AVAILABLE
    pair = block.with_history(requested.item_id, features.history, rows, model.interactions_count)
    p_available = p_all[rows]
    offsets = None
    if effects is not None and effects.n_updates:
        offsets = effects.offsets(
            requested.item_id,
            requested.brand,
            features.pool_key(requested),
            block.positions,
            block.brand_codes,
            block.brand_names,
            block.brand_index,
        )[rows]
    if personal is not None:
        own = personal(pair)
        if own is not None:
            offsets = own if offsets is None else offsets + own
    p_accept = model.predict_proba_matrix(pair, offsets)
    score = p_accept * p_available
    k = min(top_k, rows.size)
    if k < rows.size:
        # Keep every candidate tied with the k-th best, so a tie at the cut is also settled by
        # item id below rather than by where argpartition happened to leave it.
        kth = np.partition(score, rows.size - k)[rows.size - k]
        best = np.flatnonzero(score >= kth)
    else:
        best = np.arange(rows.size)
    # Ties broken by item id so the order is deterministic. The few best rows are read out
    # as Python floats once (the same values float() gives), not element by element.
    ids = block.ids
    chosen = sorted(
        zip(
            score[best].tolist(),
            [ids[row] for row in rows[best].tolist()],
            p_accept[best].tolist(),
            p_available[best].tolist(),
            strict=True,
        ),
        key=lambda c: (-c[0], c[1]),
    )[:k]
    return tuple(
        Substitute(item_id=item_id, score=s, p_accept=accept, p_available=available)
        for s, item_id, accept, available in chosen
    ), None


def _keep(
    rows: npt.NDArray[np.intp],
    ids: tuple[str, ...],
    features: FeatureStore,
    needs: frozenset[str],
    exclude: frozenset[str],
) -> npt.NDArray[np.intp]:
    """The rows whose candidate carries every needed tag and is not excluded."""
    catalog = features.catalog
    kept = []
    for row in rows.tolist():
        item_id = ids[row]
        if item_id in exclude:
            continue
        product = catalog.get(item_id)
        if product is not None and needs <= product.tags:
            kept.append(row)
    return np.array(kept, dtype=np.intp)
