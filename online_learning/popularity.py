"""Item popularity: how much shoppers want each item, learned from the stream, fading with time.

The model's ``popularity`` feature (:mod:`online_learning.features`) is a candidate's demand on
a [0, 1] scale. Demand is what the stream shows: a ``found`` or ``not_found`` signal means a
shopper looked for the item, and a feedback event means a customer asked for its requested
item. Each counts 1 and fades with a half-life of days (:class:`PopularityConfig`).

A grocer may also send its own figure per item, the catalog's optional ``popularity`` field
(units sold over a recent period, say): the item's *seed*. Seeds decide until the stream has
shown enough demand, then the stream takes over::

    feature = (1 - w) * seed_score + w * stream_score,    w = D / (D + seed_weight)

with ``seed_score = log1p(seed) / log1p(largest seed)``, ``stream_score = log1p(d) /
log1p(largest d)`` over each item's faded demand ``d``, and ``D`` the faded demand of all
items. The logs keep a long tail of rarely bought items apart from each other while the best
sellers share the top; ``w`` is one number for the whole catalog because the two scales
cannot be compared item by item (a seed's unit is the grocer's, not a count of looks). An
item without a seed scores 0 on the seed side, so without any seeds the feature fades in as
evidence builds up instead of jumping to 1 for the first item seen.

Every worker must hold the same values: each learns the same model from the shared learning
log, and this feature goes into learning. So the demand changes only through what is in that
log (learned feedback events, and the demand summaries each worker appends for the signals of
its own partitions: :mod:`online_learning.contract.demand`), applied in log order, and the
clock it fades by is the newest event time of those records, never a worker's own stream
time. Seeds come from the catalog, which every worker reads whole.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from online_learning.contract import DemandSummary

__all__ = [
    "Popularity",
    "PopularityConfig",
]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

DAY_S = 86_400.0
# Demand is stored in the units of a reference time (so fading costs nothing per event); when
# the clock runs this many half-lives past it, everything is rescaled to a new reference.
_RESCALE_HALF_LIVES = 32.0
# The feature fades in steps of this much event time: each item's log demand is kept ready
# for reading (a ranking then costs two gathers, no logarithms), and all of it is recomputed
# once a step. An hour is nothing against a half-life of days: 0.4% of a week's fading.
FADE_STEP_S = 3600.0
_TINY = 1e-300  # a largest log demand below this is no evidence (and weight / it overflows)


@dataclass(frozen=True, slots=True)
class PopularityConfig:
    """How demand fades and how much the grocer's seeds weigh against it.

    ``half_life_s``: a week by default. Popularity is slow-moving: which products people buy
    changes over weeks and seasons, not hours. A week spans a whole shopping cycle, so the
    weekend rush and the quiet Tuesday do not reorder the catalog, while an item that stops
    selling has lost half its weight after seven days and nearly all of it after a month.
    (Availability, by contrast, fades in hours: a shelf changes within a day.)

    ``seed_weight``: the faded stream demand (looks, all items together) at which the stream
    and the seeds weigh the same. 100,000 is about two looks per item of a 50,000-item
    catalog: below that most items' stream counts are 0 or 1, noise the grocer's own figures
    should outweigh; a large grocer passes it within a day, a small one keeps leaning on its
    seeds for longer, as it should.
    """

    half_life_s: float = 7 * DAY_S
    seed_weight: float = 100_000.0

    def __post_init__(self) -> None:
        if not (self.half_life_s > 0 and math.isfinite(self.half_life_s)):
            raise ValueError(f"half_life_s must be finite and > 0, got {self.half_life_s}")
        if not (self.seed_weight >= 0 and math.isfinite(self.seed_weight)):
            raise ValueError(f"seed_weight must be finite and >= 0, got {self.seed_weight}")


class Popularity:
    """Seeds and faded demand per item, and the ``popularity`` feature they give.

    ``seeds``: a figure per item id for items whose catalog record sends none (the catalog's
    own figure wins, see :meth:`seed`).

    Values are read a pool at a time by dense codes (:meth:`codes`, :meth:`column`), so a
    ranking reads the live column with two gathers; nothing is cached that could go stale.

    >>> pop = Popularity(seeds={"milk": 99, "oat": 9})
    >>> round(pop.value("milk"), 3), round(pop.value("oat"), 3), pop.value("unseen")
    (1.0, 0.5, 0.0)
    >>> pop.observe("oat", 400_000, ts=1_700_000_000)  # a lot of stream evidence for oat
    >>> pop.value("oat") > pop.value("milk")
    True
    """

    def __init__(
        self, config: PopularityConfig | None = None, seeds: Mapping[str, float] | None = None
    ) -> None:
        self.config = config or PopularityConfig()
        self._rate = math.log(2.0) / self.config.half_life_s
        self._codes: dict[str, int] = {}
        self._seed = np.zeros(1024, dtype=np.float64)  # log1p(seed) by code
        self._demand = np.zeros(1024, dtype=np.float64)  # faded demand by code, at self._ref
        self._seed_top = 0.0  # the largest log1p(seed)
        self._seed_top_stale = False  # a seed at the top went down: find the top again
        self._total = 0.0  # demand of all items, at self._ref
        self._top = 0.0  # the largest item demand, at self._ref
        self._ref: float | None = None  # the reference time of the stored demand
        self.clock = 0.0  # the newest event time of the demand seen (what it fades by)
        self._step = -math.inf  # the fade step of the clock (event time // FADE_STEP_S)
        self._scale = 1.0  # stored units -> looks at the start of that step
        self._log_demand = np.zeros(1024, dtype=np.float64)  # log1p(demand * _scale) by code
        self._fallback = dict(seeds or {})
        for item_id in self._fallback:
            self.seed(item_id, None)

    # -- seeds ---------------------------------------------------------------------------------
    def seed(self, item_id: str, figure: float | None) -> None:
        """Set an item's seed from its catalog record: ``figure``, or the fallback given at
        construction (else nothing) when the record has none or the item is removed."""
        if figure is None:
            figure = self._fallback.get(item_id, 0.0)
        if not (figure >= 0 and math.isfinite(figure)):
            raise ValueError(f"a popularity figure must be finite and >= 0, got {figure!r}")
        new = math.log1p(figure)
        code = self._code(item_id)
        old = float(self._seed[code])
        if new == old:
            return
        self._seed[code] = new
        if new >= self._seed_top:
            self._seed_top, self._seed_top_stale = new, False
        elif old >= self._seed_top:
            self._seed_top_stale = True

    def _seed_top_now(self) -> float:
        """The largest log1p(seed) (0 without seeds)."""
        if self._seed_top_stale:
            n = len(self._codes)
            self._seed_top = float(self._seed[:n].max()) if n else 0.0
            self._seed_top_stale = False
        return self._seed_top

    # -- demand (only from the learning log, in its order) -------------------------------------
    def observe(self, item_id: str, count: float, ts: float) -> None:
        """``count`` looks for one item at event time ``ts`` (a learned feedback request)."""
        code = self._code(item_id)  # first: a new code may replace the arrays
        factor = self._advance(ts)
        added = count * factor
        self._demand[code] += added
        self._total += added
        self._top = max(self._top, float(self._demand[code]))
        self._log_demand[code] = math.log1p(float(self._demand[code]) * self._scale)

    def apply(self, summary: DemandSummary) -> None:
        """A demand summary from the learning log: every item's looks at its ``ts``."""
        if not summary.counts:
            return
        codes = self.codes([item_id for item_id, _ in summary.counts])
        factor = self._advance(summary.ts)
        added = np.fromiter((n for _, n in summary.counts), np.float64, len(summary.counts))
        added *= factor
        np.add.at(self._demand, codes, added)
        self._total += float(added.sum())
        demand = self._demand[codes]
        self._top = max(self._top, float(demand.max()))
        demand *= self._scale
        self._log_demand[codes] = np.log1p(demand)

    def _advance(self, ts: float) -> float:
        """Move the clock to ``ts`` if it is newer; the weight of a look at ``ts`` in the
        stored units."""
        if self._ref is None:
            self._ref = ts
        self.clock = max(self.clock, ts)
        n = len(self._codes)
        if (self.clock - self._ref) * self._rate > _RESCALE_HALF_LIVES * math.log(2.0):
            shrink = math.exp(-(self.clock - self._ref) * self._rate)
            self._demand[:n] *= shrink
            self._total *= shrink
            self._top *= shrink
            self._ref = self.clock
            self._step = -math.inf  # the scale is relative to the reference: redo it
        step = self.clock // FADE_STEP_S
        if step != self._step:  # a new fade step: every item's log demand, once
            self._step = step
            self._scale = math.exp(-(step * FADE_STEP_S - self._ref) * self._rate)
            np.log1p(self._demand[:n] * self._scale, out=self._log_demand[:n])
        return math.exp((ts - self._ref) * self._rate)

    # -- the feature ---------------------------------------------------------------------------
    def codes(self, item_ids: Sequence[str]) -> IndexArray:
        """Dense codes of ``item_ids`` (new ones assigned), for :meth:`column`."""
        code = self._code
        return np.fromiter((code(i) for i in item_ids), dtype=np.intp, count=len(item_ids))

    def column(self, codes: IndexArray) -> FloatArray:
        """The feature of the items with these codes, now (a new array)."""
        out = self._seed[codes]
        seed_top = self._seed_top_now()
        if seed_top > 0.0:
            out /= seed_top  # (a division: 1 / a subnormal top would overflow)
        weight = self.stream_weight
        top = math.log1p(self._top * self._scale)
        if weight <= 0.0 or top < _TINY:  # no stream evidence, or all of it faded away
            return out
        out *= 1.0 - weight
        stream = self._log_demand[codes]
        stream *= weight / top
        out += stream
        return out

    def value(self, item_id: str) -> float:
        """The feature of one item (0 for an item never seeded nor looked for)."""
        code = self._codes.get(item_id)
        if code is None:
            return 0.0
        return float(self.column(np.array([code], dtype=np.intp))[0])

    @property
    def stream_weight(self) -> float:
        """``w``: how much the stream's demand counts against the seeds now, in [0, 1]."""
        total = self._total * self._scale
        return total / (total + self.config.seed_weight) if total > 0 else 0.0

    def digest(self) -> str:
        """A short hash of every item's seed and demand: equal where the same log and catalog
        were applied (items with neither are left out: which items a worker has coded
        depends on what it ranked)."""
        h = hashlib.blake2b(digest_size=8)
        ids = sorted(self._codes)
        codes = np.fromiter(map(self._codes.__getitem__, ids), dtype=np.intp, count=len(ids))
        seed, demand = self._seed[codes], self._demand[codes]
        kept = (seed != 0) | (demand != 0)
        h.update(orjson.dumps(list(itertools.compress(ids, kept.tolist()))))
        h.update(seed[kept].tobytes())
        h.update(demand[kept].tobytes())
        h.update(repr((self.clock, self._ref, self._total, self._top)).encode())
        return h.hexdigest()

    def state(self) -> dict[str, Any]:
        """The learned demand (items with any, their stored and log demand) and the clock it
        fades by, for a snapshot. Seeds are left out: they come from the catalog."""
        n = len(self._codes)
        coded = np.array(list(self._codes.values()), dtype=np.intp)
        ids = np.array(list(self._codes), dtype=object)
        keep = (self._demand[:n][coded] != 0.0) | (self._log_demand[:n][coded] != 0.0)
        return {
            "items": ids[keep].tolist(),
            "demand": self._demand[coded[keep]],
            "log_demand": self._log_demand[coded[keep]],
            "total": self._total,
            "top": self._top,
            "ref": self._ref,
            "clock": self.clock,
            "step": self._step,
            "scale": self._scale,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` in place (replacing the demand learned here, keeping the
        seeds and every item's code)."""
        items, demand, log_demand = state["items"], state["demand"], state["log_demand"]
        if demand.shape != (len(items),) or log_demand.shape != (len(items),):
            raise ValueError(f"{len(items)} items, demand of shape {demand.shape}")
        codes = self.codes(items)  # first: new codes may replace the arrays
        self._demand[:] = 0.0
        self._log_demand[:] = 0.0
        self._demand[codes] = demand
        self._log_demand[codes] = log_demand
        ref = state["ref"]
        self._ref = None if ref is None else float(ref)
        self._total, self._top = float(state["total"]), float(state["top"])
        self.clock, self._step = float(state["clock"]), float(state["step"])
        self._scale = float(state["scale"])

    def _code(self, item_id: str) -> int:
        code = self._codes.get(item_id)
        if code is None:
            code = self._codes[item_id] = len(self._codes)
            if code >= len(self._seed):
                size = 2 * len(self._seed)
                for name in ("_seed", "_demand", "_log_demand"):
                    grown = np.zeros(size, dtype=np.float64)
                    grown[:code] = getattr(self, name)[:code]
                    setattr(self, name, grown)
        return code
