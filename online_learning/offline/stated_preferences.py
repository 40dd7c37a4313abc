"""What the simulated customers *say* they want: dietary needs and choices for their items.

The hidden tastes (:mod:`~online_learning.offline.acceptance_truth`) are what feedback can
teach; these are what a customer writes down in the shop's app and a worker reads from the
``customers.preferences`` topic:

- **needs**: a share (``SimConfig.needs_share``) of customers need one dietary tag, drawn
  from the tags the catalog carries, weighted by how many items carry each (gluten free,
  lactose free, dairy free, ... as often as the shelves offer them). A substitute without
  the tag is never accepted (probability 0: the customer said so; the hidden tastes' floor
  of 0.01 is for what nobody said);
- **item choices** for the items most ordered in this world (the ``SimConfig.choice_items``
  most-ordered ones, the items a customer is likely to order again): each (customer, item)
  has one with probability ``choice_share``; of those, ``no_substitute_choice_share`` say
  ``no_substitute`` (any substitute is refused) and the rest ``specific`` with 1 to 3 picks
  among the most-ordered other items of the same aisle that meet the customer's needs (a
  pick is accepted with probability ``pick_accept``; any other substitute as the hidden
  tastes say).

Every draw is keyed by (seed, customer, item) (:class:`KeyedRandom`), so it is the same
whichever requests asked first, and :meth:`StatedPreferences.records` lists exactly what
:meth:`StatedPreferences.accept_override` honours. With both shares 0 (the default) nothing
is drawn and the world is the one docs/evaluation.md measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from online_learning.contract import CustomerNeeds, ItemChoice, Product, preference_key
from online_learning.offline.keyed_random import KeyedRandom
from online_learning.offline.sim_config import SimConfig
from online_learning.product_text import DIETARY_TAGS

__all__ = ["PICKS_POOL", "StatedPreferences"]

PICKS_POOL = 30  # a customer picks among the aisle's this many most-ordered items
_MAX_PICKS = 3


@dataclass(frozen=True, slots=True)
class _Choice:
    no_substitute: bool
    picks: tuple[str, ...]


class StatedPreferences:
    """Needs and item choices of every customer of one simulation, drawn lazily.

    ``popularity``: order-line count (or weight) per item, which says which items are
    frequent and which ones a customer knows well enough to pick.
    """

    def __init__(
        self,
        config: SimConfig,
        products: Mapping[str, Product],
        popularity: Mapping[str, float],
        draws: KeyedRandom,
    ) -> None:
        self._config = config
        self._products = products
        self._draws = draws
        self.enabled = config.needs_share > 0 or config.choice_share > 0
        self._needs: dict[str, frozenset[str]] = {}
        self._choices: dict[tuple[str, str], _Choice | None] = {}
        if not self.enabled:
            self.frequent: tuple[str, ...] = ()
            return
        ranked = sorted(products, key=lambda i: (-popularity.get(i, 0.0), i))
        self.frequent = tuple(ranked[: config.choice_items]) if config.choice_share > 0 else ()
        self._frequent = frozenset(self.frequent)
        # Most-ordered first within each aisle: the items a customer knows and would pick.
        self._by_aisle: dict[str, list[str]] = {}
        for item_id in ranked:
            self._by_aisle.setdefault(products[item_id].aisle, []).append(item_id)
        counts = Counter(t for p in products.values() for t in p.tags if t in DIETARY_TAGS)
        self._tags = sorted(counts)
        total = sum(counts.values())
        self._tag_cum = []
        running = 0.0
        for tag in self._tags:
            running += counts[tag] / total
            self._tag_cum.append(running)

    def needs(self, customer_id: str) -> frozenset[str]:
        """The tags every substitute must carry for this customer (empty: none)."""
        needs = self._needs.get(customer_id)
        if needs is None:
            needs = frozenset()
            if self.enabled and self._tags:
                u_has, u_tag = self._draws.uniform2(f"needs|{customer_id}")
                if u_has < self._config.needs_share:
                    index = next(
                        (i for i, c in enumerate(self._tag_cum) if u_tag < c), len(self._tags) - 1
                    )
                    needs = frozenset({self._tags[index]})
            self._needs[customer_id] = needs
        return needs

    def choice(self, customer_id: str, item_id: str) -> ItemChoice | None:
        """The customer's choice for the item (None: best match), as the topic carries it."""
        drawn = self._choice(customer_id, item_id)
        if drawn is None:
            return None
        if drawn.no_substitute:
            return ItemChoice(customer_id, item_id, "no_substitute", (), self._config.start_ts)
        return ItemChoice(customer_id, item_id, "specific", drawn.picks, self._config.start_ts)

    def accept_override(
        self, customer_id: str, requested: Product, candidate: Product
    ) -> float | None:
        """P(accept) where what the customer said decides it, else None (the hidden tastes).

        0.0 on a ``no_substitute`` line and for a substitute lacking a needed tag;
        ``pick_accept`` for one of the customer's own picks for the item.
        """
        if not self.enabled:
            return None
        drawn = self._choice(customer_id, requested.item_id)
        if drawn is not None:
            if drawn.no_substitute:
                return 0.0
            if candidate.item_id in drawn.picks:
                return self._config.pick_accept
        if not self.needs(customer_id) <= candidate.tags:
            return 0.0
        return None

    def records(self, customer_ids: Iterable[str]) -> list[tuple[str, ItemChoice | CustomerNeeds]]:
        """Every stated preference of these customers with its message key
        (:func:`~online_learning.contract.preference_key`): needs first, then item choices,
        as a producer would publish them before the first order."""
        out: list[tuple[str, ItemChoice | CustomerNeeds]] = []
        if not self.enabled:
            return out
        ts = self._config.start_ts
        customers = list(customer_ids)
        for customer_id in customers:
            needs = self.needs(customer_id)
            if needs:
                record = CustomerNeeds(customer_id, needs, ts)
                out.append((preference_key(record), record))
        for customer_id in customers:
            for item_id in self.frequent:
                choice = self.choice(customer_id, item_id)
                if choice is not None:
                    out.append((preference_key(choice), choice))
        return out

    def _choice(self, customer_id: str, item_id: str) -> _Choice | None:
        if item_id not in self._frequent:
            return None
        key = (customer_id, item_id)
        if key in self._choices:
            return self._choices[key]
        config, draws = self._config, self._draws
        drawn: _Choice | None = None
        u_has, u_kind = draws.uniform2(f"choice|{customer_id}|{item_id}")
        if u_has < config.choice_share:
            if u_kind < config.no_substitute_choice_share:
                drawn = _Choice(True, ())
            else:
                drawn = self._draw_picks(customer_id, item_id)
        self._choices[key] = drawn
        return drawn

    def _draw_picks(self, customer_id: str, item_id: str) -> _Choice | None:
        """1 to 3 distinct picks among the aisle's most-ordered items meeting the needs; None
        when the aisle has none (the customer leaves the item on best match)."""
        needs = self.needs(customer_id)
        aisle = self._products[item_id].aisle
        pool = [
            i
            for i in self._by_aisle.get(aisle, ())
            if i != item_id and needs <= self._products[i].tags
        ][:PICKS_POOL]
        if not pool:
            return None
        draws = self._draws
        n = 1 + int(draws.uniform(f"picks|{customer_id}|{item_id}") * _MAX_PICKS)
        # A keyed shuffle of the pool: the first n by their own draw.
        ranked = sorted(pool, key=lambda i: draws.uniform(f"pick|{customer_id}|{item_id}|{i}"))
        return _Choice(False, tuple(ranked[: min(n, len(ranked))]))
