"""Hashed interactions of a requested item and a candidate: what the hand-set features miss.

The content prior's ~15 pair features say how alike two products are, the same way in every
aisle. Customers also care about things no such feature names: a word in the name ("decaf",
"unsweetened", "mini"), this brand in this aisle, losing a word or a tag they asked for, a
price step that matters in one aisle and not in another. In the spirit of Vowpal Wabbit's
quadratic interactions, every (requested item, candidate) pair here is a handful of hashed
keys, each a weight in one flat array:

- ``tt``: (requested name token, candidate name token), for every pair of them;
- ``at`` / ``ab`` / ``ag``: (requested aisle, candidate token / brand / tag);
- ``bb``: (requested brand, candidate brand);
- ``lt`` / ``lg``: (requested aisle, a requested token / tag the candidate lacks);
- ``af``: (requested aisle, hand-set feature, its value in a few bins): per-aisle, piecewise
  offsets on the content prior's own features.

The pair's score is the sum of its keys' weights, added to the logit (the model's
``interactions`` column, weight 1). Weights start at 0 and learn by FTRL-proximal (McMahan et
al. 2013) with an L2 term: a key's weight moves only as far as its own evidence carries it,
so a cold start ranks exactly as the content prior does, and a key seen once or twice stays
near 0. Keys are blake2b hashes of strings (the same in every process), combined with
integer mixing; distinct kinds are salted apart. The slot ``size`` (one past the last
hashed slot) is padding: its weight is 0 and never learns, so a pool's keys fit one
rectangular matrix and scoring a pool is one gather and one row sum.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from online_learning.contract import Product
from online_learning.product_text import tokenize

__all__ = [
    "InteractionConfig",
    "InteractionWeights",
    "ItemKeys",
    "PoolKeys",
    "interaction_config_key",
    "item_keys",
    "pair_index",
]

U64 = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]
KeyIndex = npt.NDArray[np.int32]  # a pool's keys: (candidates, keys per pair), padded

# Names the keys: change it whenever the keys of a pair change, so an old snapshot's weights
# (learned under other keys) are refused rather than read as these.
KEY_SCHEME = "pair-keys-v1"
_MAX_TOKENS = 10  # name tokens per item kept as keys (names longer than this are rare)
_MAX_TAGS = 8
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_S31, _S27 = np.uint64(31), np.uint64(27)


def _key(text: str) -> int:
    """A stable 64-bit key of a string (Python's own hash changes from process to process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") or 1


def _keys(texts: Iterable[str], limit: int) -> U64:
    return np.array(sorted({_key(t) for t in texts})[:limit], dtype=np.uint64)


_SALTS = {kind: np.uint64(_key("kind:" + kind)) for kind in ("tt", "at", "ab", "ag", "bb", "lt")}
_SALTS["lg"] = np.uint64(_key("kind:lg"))
_SALTS["af"] = np.uint64(_key("kind:af"))


def _mix(h: U64, part: U64 | np.uint64) -> U64:
    """Fold ``part`` into ``h`` (element-wise, wrapping uint64 arithmetic)."""
    h = (h ^ part) * _M1
    h = (h ^ (h >> _S31)) * _M2
    return h ^ (h >> _S27)


@dataclass(frozen=True, slots=True)
class ItemKeys:
    """One item's key parts: its name tokens, brand, aisle and tags (0: unknown brand)."""

    tokens: U64
    brand: int
    aisle: int
    tags: U64


def item_keys(product: Product) -> ItemKeys:
    """The key parts of ``product``, computed once per item.

    >>> from online_learning.contract import Product
    >>> k = item_keys(Product("1", "Whole Milk", "milk", "dairy eggs", 2.0, brand="Acme"))
    >>> len(k.tokens), k.brand != 0, k.tags.size
    (2, True, 0)
    """
    return ItemKeys(
        tokens=_keys(tokenize(product.name), _MAX_TOKENS),
        brand=0 if product.brand is None else _key("brand:" + product.brand.lower()),
        aisle=_key("aisle:" + product.aisle),
        tags=_keys(product.tags, _MAX_TAGS),
    )


def _padded(arrays: Sequence[U64]) -> U64:
    width = max((a.size for a in arrays), default=0)
    out = np.zeros((len(arrays), max(width, 1)), dtype=np.uint64)
    for row, values in enumerate(arrays):
        out[row, : values.size] = values
    return out


class PoolKeys:
    """The candidate side of a pool's keys: padded token and tag matrices (0 is padding)."""

    def __init__(self, items: Sequence[ItemKeys]) -> None:
        self.tokens = _padded([k.tokens for k in items])
        self.tags = _padded([k.tags for k in items])
        self.brand = np.array([k.brand for k in items], dtype=np.uint64)


# Hand-set features given per-aisle offsets, and how many bins per unit of each: a feature in
# [0, 1] gets 4 bins (0, .25, .5, .75, 1), a log ratio 2 per unit, a count one per step.
# Learned columns (popularity, history) are left out: they change under a cached key.
AISLE_FEATURE_BINS: Mapping[str, float] = {
    "name_jaccard": 4.0,
    "kind_jaccard": 4.0,
    "tag_jaccard": 4.0,
    "brand_match": 1.0,
    "brand_differs": 1.0,
    "size_log_ratio": 2.0,
    "size_unknown": 1.0,
    "price_log_ratio": 2.0,
    "tags_lost": 1.0,
    "fat_distance": 1.0,
    "fat_unknown": 1.0,
}


def pair_index(
    req: ItemKeys,
    pool: PoolKeys,
    rows: npt.NDArray[np.intp] | None,
    content: FloatArray,
    columns: Mapping[str, int],
    bits: int,
) -> KeyIndex:
    """The hashed keys of ``req`` against the pool's ``rows`` (all, if None), in slots
    ``[0, 2**bits)``, padding ``2**bits``; ``content`` holds the rows' hand-set features
    (their column of each name in ``columns``). Shape (len(rows), keys per pair).
    """
    tokens = pool.tokens if rows is None else pool.tokens[rows]
    tags = pool.tags if rows is None else pool.tags[rows]
    brand = pool.brand if rows is None else pool.brand[rows]
    n = tokens.shape[0]
    if n == 0:
        return np.zeros((0, 1), dtype=np.int32)
    aisle = np.uint64(req.aisle)
    parts: list[U64] = []
    valid: list[npt.NDArray[np.bool_]] = []
    token_ok = tokens != 0
    if req.tokens.size:
        # every (requested token, candidate token): (n, a, m) flattened to (n, a * m)
        h = _mix(
            _mix(np.full(req.tokens.shape, _SALTS["tt"]), req.tokens)[None, :, None],
            tokens[:, None, :],
        )
        parts.append(h.reshape(n, -1))
        valid.append(np.broadcast_to(token_ok[:, None, :], h.shape).reshape(n, -1))
        lost = ~(tokens[:, None, :] == req.tokens[None, :, None]).any(axis=2)  # (n, a)
        lt = _mix(np.full(req.tokens.shape, _SALTS["lt"]) ^ aisle, req.tokens)
        parts.append(np.broadcast_to(lt, lost.shape))
        valid.append(lost)
    base = _mix(np.full(1, _SALTS["at"]), aisle)
    parts.append(_mix(base[None, :], tokens))
    valid.append(token_ok)
    parts.append(_mix(_mix(np.full(1, _SALTS["ab"]), aisle), brand)[:, None])
    valid.append((brand != 0)[:, None])
    parts.append(_mix(_mix(np.full(1, _SALTS["ag"]), aisle)[None, :], tags))
    valid.append(tags != 0)
    if req.brand:
        parts.append(_mix(_mix(np.full(1, _SALTS["bb"]), np.uint64(req.brand)), brand)[:, None])
        valid.append((brand != 0)[:, None])
    if req.tags.size:
        lacks = ~(tags[:, None, :] == req.tags[None, :, None]).any(axis=2)  # (n, r)
        lg = _mix(np.full(req.tags.shape, _SALTS["lg"]) ^ aisle, req.tags)
        parts.append(np.broadcast_to(lg, lacks.shape))
        valid.append(lacks)
    if columns:
        names = [name for name in AISLE_FEATURE_BINS if name in columns]
        values = content[:, [columns[name] for name in names]]
        scale = np.array([AISLE_FEATURE_BINS[name] for name in names])
        bins = np.clip(np.rint(values * scale), -8, 8).astype(np.int64) + 16
        feature = np.arange(len(names), dtype=np.uint64) * np.uint64(64)
        af_base = _mix(np.full(1, _SALTS["af"]), aisle)
        parts.append(_mix(af_base[None, :], feature[None, :] + bins.astype(np.uint64)))
        valid.append(np.ones(bins.shape, dtype=bool))
    keys = np.concatenate([np.broadcast_to(p, (n, p.shape[-1])) for p in parts], axis=1)
    ok = np.concatenate([np.broadcast_to(v, (n, v.shape[-1])) for v in valid], axis=1)
    size = 1 << bits
    slots = (keys & np.uint64(size - 1)).astype(np.int32)
    return np.where(ok, slots, np.int32(size))


@dataclass(frozen=True, slots=True)
class InteractionConfig:
    """Size and learning rates of the hashed interaction weights.

    ``bits``: 2**bits slots (three float64 arrays of that length). FTRL-proximal's per-key
    rate is ``alpha / (beta + sqrt(sum of squared gradients))``; ``l2`` pulls every weight
    toward 0 in proportion to how little evidence it has (the weight is
    ``-z / ((beta + sqrt(n)) / alpha + l2)``), ``l1`` keeps a weight at exactly 0 until its
    summed evidence passes it.
    """

    bits: int = 20
    alpha: float = 0.05
    beta: float = 1.0
    l1: float = 0.0
    l2: float = 1.0

    def __post_init__(self) -> None:
        if not 8 <= self.bits <= 30:
            raise ValueError(f"bits must be in [8, 30], got {self.bits}")
        if not (self.alpha > 0 and self.beta >= 0 and self.l1 >= 0 and self.l2 >= 0):
            raise ValueError(f"need alpha > 0 and beta, l1, l2 >= 0, got {self}")


class InteractionWeights:
    """The learned weight of every hashed slot, FTRL-proximal, plus the padding slot at 0.

    >>> w = InteractionWeights(InteractionConfig(bits=8))
    >>> keys = np.array([[3, 7, 256], [7, 256, 256]], dtype=np.int32)
    >>> w.scores(keys).tolist()
    [0.0, 0.0]
    >>> for _ in range(50):
    ...     w.learn(keys[0], gradient=-0.5)  # accepted while predicted at 0.5
    >>> s = w.scores(keys)
    >>> bool(s[0] > s[1] > 0.0), w.touched
    (True, 2)
    """

    def __init__(self, config: InteractionConfig) -> None:
        self.config = config
        self.size = 1 << config.bits
        # one slot more than hashed: the padding, which stays 0
        self.weights = np.zeros(self.size + 1, dtype=np.float64)
        self._z = np.zeros(self.size + 1, dtype=np.float64)
        self._n = np.zeros(self.size + 1, dtype=np.float64)
        self.n_learned = 0

    @property
    def touched(self) -> int:
        """Slots that have learned from at least one event."""
        return int(np.count_nonzero(self._n[: self.size]))

    def scores(self, index: KeyIndex) -> FloatArray:
        """The summed weight of each row of keys."""
        return self.weights[index].sum(axis=1)

    def score(self, keys: KeyIndex) -> float:
        """The summed weight of one pair's keys."""
        return float(self.weights[keys].sum())

    def learn(self, keys: KeyIndex, gradient: float) -> None:
        """One FTRL-proximal step for a pair's keys, ``gradient`` the log loss's d/dlogit
        (P(accept) - outcome) as the whole model predicted the pair."""
        keys = keys[keys < self.size]
        if keys.size == 0 or gradient == 0.0:
            return
        cfg = self.config
        g2 = gradient * gradient
        n_old = self._n[keys]
        n_new = n_old + g2
        root = np.sqrt(n_new)
        sigma = (root - np.sqrt(n_old)) / cfg.alpha
        z = self._z[keys] + gradient - sigma * self.weights[keys]
        self._z[keys] = z
        self._n[keys] = n_new
        self.weights[keys] = self._weight(z, root)
        self.n_learned += 1

    def _weight(self, z: FloatArray, root: FloatArray) -> FloatArray:
        cfg = self.config
        shrunk = np.sign(z) * np.maximum(np.abs(z) - cfg.l1, 0.0) if cfg.l1 else z
        return -shrunk / ((cfg.beta + root) / cfg.alpha + cfg.l2)

    def state(self) -> dict[str, Any]:
        """The touched slots and their FTRL sums (weights follow from them), for a snapshot."""
        slots = np.flatnonzero(self._n[: self.size])
        return {
            "slots": slots.astype(np.int64),
            "z": self._z[slots].copy(),
            "n": self._n[slots].copy(),
            "n_learned": self.n_learned,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` in place (the feature store holds these same arrays)."""
        slots = np.asarray(state["slots"], dtype=np.int64)
        z, n = np.asarray(state["z"], np.float64), np.asarray(state["n"], np.float64)
        if not (slots.shape == z.shape == n.shape) or (slots.size and slots.max() >= self.size):
            raise ValueError("interaction state does not fit this configuration")
        for array in (self.weights, self._z, self._n):
            array[:] = 0.0
        self._z[slots], self._n[slots] = z, n
        self.weights[slots] = self._weight(z, np.sqrt(n))
        self.n_learned = int(state["n_learned"])

    def digest(self) -> str:
        """A short hash of the learned weights: equal on models that learned alike."""
        slots = np.flatnonzero(self._n[: self.size])
        h = hashlib.blake2b(digest_size=8)
        h.update(slots.astype(np.int64).tobytes())
        h.update(self.weights[slots].tobytes())
        return h.hexdigest()


def interaction_config_key(config: InteractionConfig | None) -> str:
    """What a snapshot must agree on (None: no interactions)."""
    if config is None:
        return "none"
    return repr((KEY_SCHEME, config.bits, config.alpha, config.beta, config.l1, config.l2))
