"""Who the simulated customers are: named customer populations for the simulator.

The rankings will meet customers nobody simulated, so one simulated population is not enough
to tune against. A :class:`Population` sets what the simulator hides from the learner: how
big the latent item, pair and brand effects are (what only feedback can teach), how strongly
customers lean into each taste segment, how willing they are to accept anything at all, and
whether an item's appeal follows how often it is really ordered. ``default`` is the world
every number in docs/evaluation.md was measured on; the others pull one way each, so that
``fillrate evaluate --population NAME`` can show how the same learner does when the
customers are not the ones it was written against.

Those six were written beside the engine's features. A second family, the token worlds
(:mod:`~online_learning.offline.token_worlds`), reads tastes off the words of the names and
was specified apart from them. :data:`FAMILIES` holds both; :data:`POPULATIONS` and
:func:`population` answer for every name of either.

>>> sorted(HAND_WRITTEN)
['catalog', 'default', 'loyal', 'picky', 'popular', 'thrifty']
>>> sorted(POPULATIONS) == sorted(HAND_WRITTEN) + sorted(TOKEN_WORLDS)
True
>>> population("thrifty").segment_weights
(1.0, 4.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from online_learning.offline.token_worlds import TOKEN_WORLDS, TokenWorld

__all__ = [
    "FAMILIES",
    "HAND_WRITTEN",
    "POPULATIONS",
    "SEGMENTS",
    "AnyPopulation",
    "Population",
    "population",
]

# The order of Population.segment_weights.
SEGMENTS = ("brand", "price", "organic", "size", "kind")


@dataclass(frozen=True, slots=True)
class Population:
    """Parameters of a customer population (all effects are on the acceptance logit).

    ``segment_weights`` multiply the Dirichlet concentration (0.4) of each segment in
    :data:`SEGMENTS` order: 4.0 for price makes most customers mainly price sensitive.
    ``popularity_appeal`` adds that much times (popularity score - 0.5) to an item's appeal,
    the popularity score being log order count scaled to [0, 1] (0: items' appeal is
    unrelated to how often they are ordered).
    """

    name: str
    description: str
    appeal_sd: float = 0.4
    pair_sd: float = 0.35
    brand_sd: float = 0.6
    switch_sd: float = 0.6
    popularity_appeal: float = 0.0
    willingness_mean: float = 1.6
    willingness_sd: float = 0.6
    segment_weights: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        for field in ("appeal_sd", "pair_sd", "brand_sd", "switch_sd", "willingness_sd"):
            if getattr(self, field) < 0:
                raise ValueError(f"population {self.name!r}: {field} must be >= 0")
        if len(self.segment_weights) != len(SEGMENTS) or min(self.segment_weights) <= 0:
            raise ValueError(
                f"population {self.name!r}: segment_weights needs {len(SEGMENTS)} weights > 0"
            )


HAND_WRITTEN: dict[str, Population] = {
    p.name: p
    for p in (
        Population(
            "default",
            "mixed tastes, large latent item, pair and brand effects (docs/evaluation.md)",
        ),
        Population(
            "catalog",
            "no latent effects: every preference shows in what the catalog says",
            appeal_sd=0.0,
            pair_sd=0.0,
            brand_sd=0.0,
            switch_sd=0.0,
        ),
        Population(
            "thrifty",
            "mostly price sensitive: a dearer substitute is refused, a cheaper one welcome",
            segment_weights=(1.0, 4.0, 1.0, 1.0, 1.0),
        ),
        Population(
            "loyal",
            "mostly brand loyal: another brand is a big step down",
            segment_weights=(4.0, 1.0, 1.0, 1.0, 1.0),
        ),
        Population(
            "picky",
            "reluctant and particular about the kind of product: accept less of anything",
            willingness_mean=0.8,
            segment_weights=(1.0, 1.0, 1.0, 2.0, 4.0),
        ),
        Population(
            "popular",
            "an item's appeal follows how often it is really ordered (Instacart order lines)",
            appeal_sd=0.25,
            popularity_appeal=1.5,
        ),
    )
}


AnyPopulation: TypeAlias = Population | TokenWorld

# family -> its populations by name; a name is in one family only
FAMILIES: dict[str, dict[str, AnyPopulation]] = {
    "hand-written": dict(HAND_WRITTEN),
    "token": dict(TOKEN_WORLDS),
}
POPULATIONS: dict[str, AnyPopulation] = {
    name: people for family in FAMILIES.values() for name, people in family.items()
}


def population(name: str) -> AnyPopulation:
    """The population called ``name``, of either family; a ValueError listing both otherwise.

    >>> population("nobody")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown population 'nobody'; choose from catalog, ... or tokens-aisle, ... (token)
    """
    try:
        return POPULATIONS[name]
    except KeyError:
        names = " or ".join(
            f"{', '.join(sorted(family))} ({label})" for label, family in FAMILIES.items()
        )
        raise ValueError(f"unknown population {name!r}; choose from {names}") from None
