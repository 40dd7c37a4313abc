"""Learned logit offsets for what no content feature shows: an item's appeal, a pair, a brand.

The content model (:mod:`online_learning.model`) scores how alike two products look. Customers
also like some products more than their names suggest, some pairs work better than others and
some brands win or lose in an aisle. Each such effect is a random effect on the acceptance
logit, estimated from the feedback residuals of that key and shrunk toward 0 by a prior:

    offset = S / (W + shrink),  S = sum(y - p),  W = sum(p * (1 - p))

which is one Newton step of a logistic random effect with prior precision ``shrink`` (prior
standard deviation ``1 / sqrt(shrink)``): with little evidence the offset stays near 0, with a
lot it approaches the key's own log-odds correction. ``p`` is the prediction *without* the
level's own offset (backfitting), so the item, pair and brand levels do not count one residual
three times. Old evidence fades (``decay`` per new observation of the same key), so a changed
preference is relearned instead of averaged away.

Keys:

- ``item``: (pool, candidate): the candidate's appeal in that pool, whatever it replaces;
- ``pair``: (requested, candidate);
- ``brand``: (pool, candidate brand) when the brand is known;
- ``switch``: (pool, requested brand, candidate brand) when both are known and differ.

>>> fx = RandomEffects(EffectsConfig(levels=frozenset(LEVELS)))
>>> for _ in range(30):
...     fx.update(Key("r", "c", "aisle", None, None), accepted=False, base_logit=0.0)
>>> fx.offset(Key("r", "c", "aisle", None, None)) < -1.0
True
>>> fx.offset(Key("r", "other", "aisle", None, None))
0.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from online_learning.logistic import sigmoid

__all__ = ["LEVELS", "EffectsConfig", "Key", "RandomEffects"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LEVELS = ("item", "pair", "brand", "switch")


@dataclass(frozen=True, slots=True)
class EffectsConfig:
    """Prior precision (1 / variance) of each level's offsets, and how fast evidence fades.

    The defaults say "an item's appeal or a brand's standing moves the logit by about half a
    unit, a pair by a little less", which is the scale at which a substitution goes from
    likely to unlikely; nothing here is tuned to one simulator.
    """

    item_shrink: float = 4.0
    pair_shrink: float = 6.0
    brand_shrink: float = 4.0
    switch_shrink: float = 4.0
    decay: float = 0.98  # per observation of the same key: about 50 observations of memory
    max_offset: float = 3.0
    # Which levels are on. Item and pair default off: the model's item_history/pair_history
    # features already carry them, and adding them as offsets too measured no better
    # (docs/evaluation.md, ablation); brand-to-brand has no feature, so it lives here.
    levels: frozenset[str] = frozenset({"brand", "switch"})

    def __post_init__(self) -> None:
        for name in ("item_shrink", "pair_shrink", "brand_shrink", "switch_shrink"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        unknown = self.levels - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown effect levels {sorted(unknown)}; known: {LEVELS}")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")


@dataclass(frozen=True, slots=True)
class Key:
    """What identifies one (requested, candidate) feedback for the effect levels."""

    requested_id: str
    candidate_id: str
    pool: str
    requested_brand: str | None
    candidate_brand: str | None


class _Level:
    """Residual sums of one level, keyed, with its shrinkage."""

    __slots__ = ("shrink", "stats")

    def __init__(self, shrink: float) -> None:
        self.shrink = shrink
        self.stats: dict[object, list[float]] = {}

    def offset(self, key: object, limit: float) -> float:
        found = self.stats.get(key)
        if found is None:
            return 0.0
        return max(-limit, min(limit, found[0] / (found[1] + self.shrink)))

    def add(self, key: object, residual: float, weight: float, decay: float) -> None:
        found = self.stats.get(key)
        if found is None:
            self.stats[key] = [residual, weight]
        else:
            found[0] = found[0] * decay + residual
            found[1] = found[1] * decay + weight


class RandomEffects:
    """Item, pair, brand and brand-switch offsets, learned online from feedback residuals."""

    def __init__(self, config: EffectsConfig | None = None) -> None:
        self.config = cfg = config or EffectsConfig()
        self.item = _Level(cfg.item_shrink)
        self.pair = _Level(cfg.pair_shrink)
        self.brand = _Level(cfg.brand_shrink)
        self.switch = _Level(cfg.switch_shrink)
        # the same pair stats, by requested item, so a ranking walks only its own pairs
        self._pairs_by_requested: dict[str, dict[str, list[float]]] = {}
        # item and brand stats by pool, switch stats by (pool, from brand), for the same reason
        self._items_by_pool: dict[str, dict[str, list[float]]] = {}
        self._brands_by_pool: dict[str, dict[str, list[float]]] = {}
        self._switches_by_from: dict[tuple[str, str], dict[str, list[float]]] = {}
        self.n_updates = 0

    def _keys(self, key: Key) -> list[tuple[_Level, object]]:
        on = self.config.levels
        out: list[tuple[_Level, object]] = []
        if "item" in on:
            out.append((self.item, (key.pool, key.candidate_id)))
        if "pair" in on:
            out.append((self.pair, (key.requested_id, key.candidate_id)))
        if key.candidate_brand is not None:
            if "brand" in on:
                out.append((self.brand, (key.pool, key.candidate_brand)))
            if (
                "switch" in on
                and key.requested_brand is not None
                and key.requested_brand != key.candidate_brand
            ):
                out.append((self.switch, (key.pool, key.requested_brand, key.candidate_brand)))
        return out

    def offset(self, key: Key) -> float:
        """The summed offset of one pair (what :meth:`offsets` gives for a ranking's rows)."""
        limit = self.config.max_offset
        return sum(level.offset(k, limit) for level, k in self._keys(key))

    def update(self, key: Key, accepted: bool, base_logit: float) -> None:
        """Learn from one feedback event; ``base_logit`` is the content model's logit."""
        cfg = self.config
        keys = self._keys(key)
        parts = [level.offset(k, cfg.max_offset) for level, k in keys]
        total = base_logit + sum(parts)
        y = 1.0 if accepted else 0.0
        for (level, k), own in zip(keys, parts, strict=True):
            p = sigmoid(total - own)
            level.add(k, y - p, p * (1.0 - p), cfg.decay)
        # index the stats (the same lists) for the per-ranking lookups of offsets()
        for level, k in keys:
            stats = level.stats[k]
            if level is self.item:
                self._items_by_pool.setdefault(key.pool, {})[key.candidate_id] = stats
            elif level is self.pair:
                self._pairs_by_requested.setdefault(key.requested_id, {})[key.candidate_id] = stats
            elif level is self.brand:
                assert key.candidate_brand is not None
                self._brands_by_pool.setdefault(key.pool, {})[key.candidate_brand] = stats
            else:
                assert key.requested_brand is not None and key.candidate_brand is not None
                by_from = self._switches_by_from.setdefault((key.pool, key.requested_brand), {})
                by_from[key.candidate_brand] = stats
        self.n_updates += 1

    def state(self) -> dict[str, Any]:
        """Every level's keys and (S, W) sums, in the order they were first seen, for a
        snapshot (the per-ranking indexes are rebuilt from them)."""
        out: dict[str, Any] = {"n_updates": self.n_updates}
        for name in LEVELS:
            stats = self._level(name).stats
            out[name] = {
                "keys": [list(k) for k in stats],  # type: ignore[call-overload]
                "sums": np.array(list(stats.values()), dtype=np.float64).reshape(-1, 2),
            }
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` (replacing what this one learned)."""
        levels: dict[str, dict[object, list[float]]] = {}
        for name in LEVELS:
            keys, sums = state[name]["keys"], state[name]["sums"]
            if sums.shape != (len(keys), 2):
                raise ValueError(f"level {name}: {len(keys)} keys, sums of shape {sums.shape}")
            width = {"item": 2, "pair": 2, "brand": 2, "switch": 3}[name]
            if any(len(k) != width or not all(isinstance(p, str) for p in k) for k in keys):
                raise ValueError(f"level {name}: keys must be {width} strings")
            levels[name] = {tuple(k): v for k, v in zip(keys, sums.tolist(), strict=True)}
        self._pairs_by_requested, self._items_by_pool = {}, {}
        self._brands_by_pool, self._switches_by_from = {}, {}
        # each level's index is keyed by all but the last part of its keys (see update)
        indexes: dict[str, dict[Any, dict[str, list[float]]]] = {
            "item": self._items_by_pool,
            "pair": self._pairs_by_requested,
            "brand": self._brands_by_pool,
            "switch": self._switches_by_from,
        }
        for name, stats in levels.items():
            self._level(name).stats = stats
            index = indexes[name]
            for key, sums in stats.items():
                parts: tuple[str, ...] = key  # type: ignore[assignment]
                group = parts[0] if len(parts) == 2 else parts[:-1]
                index.setdefault(group, {})[parts[-1]] = sums
        self.n_updates = int(state["n_updates"])

    def _level(self, name: str) -> _Level:
        level: _Level = getattr(self, name)
        return level

    def summary(self) -> str:
        """Sizes and sums of every level: equal on two engines that learned the same events in
        the same order (cheap enough for a health check; not a cryptographic digest)."""
        parts = [str(self.n_updates)]
        for level in (self.item, self.pair, self.brand, self.switch):
            values = level.stats.values()
            parts.append(
                f"{len(level.stats)}:{math.fsum(v[0] for v in values)!r}:"
                f"{math.fsum(v[1] for v in values)!r}"
            )
        return "|".join(parts)

    def offsets(
        self,
        requested_id: str,
        requested_brand: str | None,
        pool: str,
        positions: Mapping[str, int],
        brand_codes: IntArray,
        brand_names: Sequence[str],
        brand_index: Mapping[str, int] | None = None,
    ) -> FloatArray:
        """Summed offsets of every candidate row; ``positions`` maps candidate id -> row.

        ``brand_codes[row]`` indexes ``brand_names`` (-1: brand unknown); ``brand_index``, if
        given, is its inverse (name -> code), which spares a pass over every brand of the
        pool. Walks only the keys that have evidence, so a ranking with little feedback
        behind it costs next to nothing.
        """
        out = np.zeros(len(brand_codes), dtype=np.float64)
        if self.n_updates == 0:
            return out
        limit = self.config.max_offset
        for stats_by_id, shrink in (
            (self._items_by_pool.get(pool, {}), self.item.shrink),
            (self._pairs_by_requested.get(requested_id, {}), self.pair.shrink),
        ):
            for item_id, (s, w) in stats_by_id.items():
                row = positions.get(item_id)
                if row is not None:
                    out[row] += max(-limit, min(limit, s / (w + shrink)))
        by_brand: dict[str, float] = {}
        for brand, (s, w) in self._brands_by_pool.get(pool, {}).items():
            by_brand[brand] = max(-limit, min(limit, s / (w + self.brand.shrink)))
        if requested_brand is not None:
            switches = self._switches_by_from.get((pool, requested_brand), {})
            for brand, (s, w) in switches.items():
                value = max(-limit, min(limit, s / (w + self.switch.shrink)))
                by_brand[brand] = by_brand.get(brand, 0.0) + value
        if by_brand:
            if brand_index is None:
                per_code = np.array([by_brand.get(name, 0.0) for name in brand_names] + [0.0])
            else:
                per_code = np.zeros(len(brand_names) + 1)
                for brand, value in by_brand.items():
                    code = brand_index.get(brand)
                    if code is not None:
                        per_code[code] = value
            out += per_code[brand_codes]  # code -1 picks the trailing 0.0
        return out
