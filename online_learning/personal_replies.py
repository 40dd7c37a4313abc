"""A reply for one customer's substitution request: their own choices first, then the model.

The store-level ranking (:mod:`online_learning.ranking`) answers "what replaces this item at
this store?". A request names a customer too, and what that customer said and showed matters
more than what customers in general do:

- ``no_substitute`` for the item: an empty reply, reason :data:`CUSTOMER_DECLINED`;
- ``specific``: the customer's picks that are believed available at the store come first, in
  the customer's order (``source: customer``), never second-guessed by the hard rules; the
  model's candidates follow;
- needs (``lactose_free``, ``halal``, ...): no model candidate without every needed tag;
- the model's candidates are scored with the customer's learned taste offsets added
  (:class:`~online_learning.personal.CustomerTastes`), so a customer with no history gets the
  store-level order and one with history an order that reflects it.

Exploration is as for rankings, seeded by the request id: the same request gets the same
reply while the model stands still. The first substitute of a reply that starts with the
customer's own pick was not chosen by the model: its propensity is 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from online_learning.availability import AvailabilityState
from online_learning.contract import ItemChoice, Product, SubstitutionRequest
from online_learning.contract.replies import CUSTOMER_DECLINED, Reply, ReplySubstitute
from online_learning.effects import RandomEffects
from online_learning.exploration import explore
from online_learning.features import FeatureStore, pair_features
from online_learning.logistic import sigmoid
from online_learning.model import AcceptanceModel
from online_learning.personal import CustomerTastes
from online_learning.ranking import rank_substitutes
from online_learning.rules import HardRules

__all__ = ["ReplyContext", "reply_to"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What a reply is made from: the engine's parts, read only."""

    features: FeatureStore
    model: AcceptanceModel
    effects: RandomEffects | None
    tastes: CustomerTastes | None
    availability: AvailabilityState
    rules: HardRules
    top_k: int
    threshold: float
    explore_epsilon: float
    explore_top: int
    pair_offset: Callable[[Product, Product], float]  # the learned effects of one pair


def reply_to(
    request: SubstitutionRequest,
    requested: Product,
    choice: ItemChoice | None,
    needs: frozenset[str],
    context: ReplyContext,
    now: float,
) -> Reply:
    """The reply to ``request`` (whose item is ``requested``), given the customer's choice for
    the item (None: best match) and needs; ``now`` stamps it."""
    version = context.model.version

    def reply(
        substitutes: tuple[ReplySubstitute, ...],
        reason: str | None,
        propensity: float = 1.0,
        explored: bool = False,
    ) -> Reply:
        return Reply(
            request_id=request.request_id,
            order_id=request.order_id,
            customer_id=request.customer_id,
            store_id=request.store_id,
            item_id=request.item_id,
            substitutes=substitutes,
            reason=None if substitutes else reason,
            model_version=version,
            ts=now,
            source_ts=request.ts,
            propensity=propensity,
            explored=explored,
        )

    if choice is not None and choice.choice == "no_substitute":
        return reply((), CUSTOMER_DECLINED)
    picks = _customer_picks(request, requested, choice, context)
    tastes = context.tastes
    customer = request.customer_id

    def personal(rows: FloatArray) -> FloatArray | None:
        return None if tastes is None else tastes.offsets(customer, rows)

    ranked, reason = rank_substitutes(
        requested,
        request.store_id,
        request.ts,
        features=context.features,
        model=context.model,
        availability=context.availability,
        rules=context.rules,
        top_k=context.top_k,
        threshold=context.threshold,
        effects=context.effects,
        needs=needs,
        exclude=frozenset(s.item_id for s in picks),
        personal=personal,
    )
    model = tuple(
        ReplySubstitute(s.item_id, s.score, s.p_accept, s.p_available, "model") for s in ranked
    )
    if picks:
        return reply(picks + model[: max(0, context.top_k - len(picks))], reason)
    shown, propensity, explored = explore(
        model, request.request_id, context.explore_epsilon, context.explore_top
    )
    return reply(shown, reason, propensity, explored)


def _customer_picks(
    request: SubstitutionRequest,
    requested: Product,
    choice: ItemChoice | None,
    context: ReplyContext,
) -> tuple[ReplySubstitute, ...]:
    """The customer's own picks believed available at the store, in their order, scored as
    the model would score them for this customer (no hard rule applies: their choice)."""
    if choice is None or choice.choice != "specific":
        return ()
    features = context.features
    ids = [i for i in choice.substitute_ids if i != requested.item_id]
    known = [p for p in (features.catalog.get(i) for i in ids) if p is not None]
    if not known:
        return ()
    p_available = context.availability.p_many(
        request.store_id, tuple(p.item_id for p in known), request.ts
    )
    out = []
    for product, p_avail in zip(known, p_available.tolist(), strict=True):
        if p_avail < context.threshold:
            continue
        row = features.pair_vector(requested, product)
        logit = context.model.logit_one(pair_features(row)) + context.pair_offset(
            requested, product
        )
        if context.tastes is not None:
            logit += context.tastes.offset_one(request.customer_id, row)
        p_accept = sigmoid(logit)
        out.append(
            ReplySubstitute(
                product.item_id, p_accept * p_avail, p_accept, float(p_avail), "customer"
            )
        )
    return tuple(out)
