"""The hashed interaction keys of a requested item and a candidate: what each pair is made of.

The content prior's ~15 pair features say how alike two products are, the same way in every
aisle. Customers also care about things no such feature names: a word in the name ("decaf",
"unsweetened", "mini"), this brand in this aisle, losing a word or a tag they asked for, a
price step that matters in one aisle and not in another. In the spirit of Vowpal Wabbit's
quadratic interactions, every (requested item, candidate) pair is a handful of hashed keys,
each a slot of :class:`~online_learning.interactions.InteractionWeights`:

- ``tt``: (requested word, candidate word), for every pair of the words that say what the
  products are (the name without brand, size and joining words, as ``kind_jaccard`` reads it);
- ``at`` / ``ab`` / ``ag``: (requested aisle, candidate word / brand / tag);
- ``bb``: (requested brand, candidate brand);
- ``lt`` / ``lg``: (requested aisle, a requested word / tag the candidate lacks);
- ``lw``: a requested word the candidate lacks, in any aisle (what losing "strawberry" costs,
  learned in one aisle, carries to the others);
- ``gw``: a candidate word the requested item lacks, in any aisle (what an offer's added
  "spicy" or "raspberry" costs, whatever was asked for);
- ``af``: (requested aisle, hand-set feature, its value in a few bins): per-aisle, piecewise
  offsets on the content prior's own features.

Keys are blake2b hashes of strings (the same in every process), combined with integer
mixing; distinct kinds are salted apart. The slot ``size`` (one past the last hashed slot)
is padding, so a pair's keys fit a fixed width. A ranking scores a whole pool through
:class:`PairKeys` (the keys factored by the candidate's words, brand, tags and bins, each
part's weights summed once); learning reads one pair's keys, in the same order on every
path (:func:`pair_index`), so a replay learns exactly what a live worker did.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from online_learning.contract import Product
from online_learning.product_text import JOINING_WORDS, flavor_tokens

__all__ = [
    "AISLE_FEATURE_BINS",
    "KEY_SCHEME",
    "ItemKeys",
    "PairKeys",
    "PoolKeys",
    "item_keys",
    "pair_index",
]

U64 = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]
KeyIndex = npt.NDArray[np.int32]  # a pool's keys: (candidates, keys per pair), padded

# Names the keys: change it whenever the keys of a pair change, so an old snapshot's weights
# (learned under other keys) are refused rather than read as these.
KEY_SCHEME = "pair-keys-v4"
# Words per item kept as keys: a pool's word matrix is as wide as its longest name, and every
# pair pays for that width times the requested item's words (one name in nine has more).
_MAX_TOKENS = 8
_MAX_TAGS = 8
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_S31, _S27 = np.uint64(31), np.uint64(27)


_MASK = (1 << 64) - 1


@functools.lru_cache(maxsize=1 << 16)  # words, brands and aisles recur across a catalog
def _key(text: str) -> int:
    """A stable 64-bit key of a string (Python's own hash changes from process to process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") or 1


def _keys(texts: Iterable[str], limit: int) -> list[int]:
    return sorted({_key(t) for t in texts})[:limit]


def _mix(h: U64) -> U64:
    """A well-spread 64-bit value of each element (splitmix64's finaliser, wrapping).

    >>> x = 0x0123456789ABCDEF
    >>> int(_mix(np.array([x], dtype=np.uint64))[0]) == _mix_int(x)
    True
    """
    h = (h ^ (h >> _S31)) * _M1
    h = (h ^ (h >> _S27)) * _M2
    return h ^ (h >> _S31)


def _mix_int(h: int) -> int:
    """:func:`_mix` of one Python int: an item's own halves, without NumPy's per-call cost."""
    h = ((h ^ (h >> 31)) * 0x9E3779B97F4A7C15) & _MASK
    h = ((h ^ (h >> 27)) * 0xBF58476D1CE4E5B9) & _MASK
    return h ^ (h >> 31)


def _half(kind: str, part: int) -> int:
    """The requested item's half of a key: ``part`` mixed under the kind's salt."""
    return _mix_int(_key("kind:" + kind) ^ part)


def _u64(values: list[int]) -> U64:
    return np.array(values, dtype=np.uint64)


# gw's half: the same whatever is requested (a word gained is keyed by the word alone)
_GAINED = _half("gw", 0)


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
_BIN_SCALE = np.array(list(AISLE_FEATURE_BINS.values()))
# a feature's bins are numbered apart from every other feature's: 32 codes each
_BIN_BASE = np.arange(len(AISLE_FEATURE_BINS), dtype=np.int64) * 32 + 16


class ItemKeys:
    """One item's key parts: as a candidate, its raw name words, brand (0: unknown) and tags;
    as the requested item, its halves of every kind's keys, mixed on first use (most items
    of a catalog are only ever candidates) and kept as Python ints and as one array."""

    __slots__ = (
        "_half_ints",
        "_halves",
        "_tag_ints",
        "_token_ints",
        "aisle",
        "brand",
        "tags",
        "tokens",
    )

    def __init__(self, tokens: list[int], brand: int, tags: list[int], aisle: int) -> None:
        self.tokens, self.tags = _u64(tokens), _u64(tags)
        self.brand, self.aisle = brand, aisle
        self._token_ints, self._tag_ints = tokens, tags
        self._half_ints: list[int] | None = None
        self._halves: U64 | None = None

    @property
    def half_ints(self) -> list[int]:
        """at, ab, ag, af (the aisle's halves of the aisle x candidate word / brand / tag /
        feature-bin keys), then bb (the brand-pair half, if a brand), then per word tt (its
        half of a word-pair key), lt (the whole "this word lost here" key) and lw ("this word
        lost", any aisle), per tag lg."""
        if self._half_ints is None:
            aisle, brand = self.aisle, self.brand
            lost, lacks = _half("lt", aisle), _half("lg", aisle)
            halves = [_half(kind, aisle) for kind in ("at", "ab", "ag", "af")]
            if brand:
                halves.append(_half("bb", brand))
            halves += [_half("tt", t) for t in self._token_ints]
            halves += [_mix_int(lost ^ t) for t in self._token_ints]
            halves += [_half("lw", t) for t in self._token_ints]
            halves += [_mix_int(lacks ^ t) for t in self._tag_ints]
            self._half_ints = halves
        return self._half_ints

    @property
    def halves(self) -> U64:
        """:attr:`half_ints` as one array."""
        if self._halves is None:
            self._halves = _u64(self.half_ints)
        return self._halves

    @property
    def _bb_end(self) -> int:
        return 5 if self.brand else 4

    @property
    def at(self) -> U64:
        return self.halves[0:1]

    @property
    def ab(self) -> U64:
        return self.halves[1:2]

    @property
    def ag(self) -> U64:
        return self.halves[2:3]

    @property
    def af(self) -> U64:
        return self.halves[3:4]

    @property
    def bb(self) -> U64:
        return self.halves[4 : self._bb_end]

    @property
    def tt(self) -> U64:
        start = self._bb_end
        return self.halves[start : start + self.tokens.size]

    @property
    def lt(self) -> U64:
        start = self._bb_end + self.tokens.size
        return self.halves[start : start + self.tokens.size]

    @property
    def lw(self) -> U64:
        start = self._bb_end + 2 * self.tokens.size
        return self.halves[start : start + self.tokens.size]

    @property
    def lg(self) -> U64:
        return self.halves[self._bb_end + 3 * self.tokens.size :]


def item_keys(product: Product, words: Iterable[str] | None = None) -> ItemKeys:
    """The key parts of ``product``, computed once per item. ``words``: the name's words that
    say what the product is (the feature store passes the ones ``kind_jaccard`` compares);
    by default its words without brand, size and joining words.

    >>> from online_learning.contract import Product
    >>> k = item_keys(Product("1", "Acme Whole Milk 1 gal", "milk", "dairy", 2.0, brand="Acme"))
    >>> len(k.tokens), k.brand != 0, k.tags.size, k.tt.size, k.bb.size
    (2, True, 0, 2, 1)
    """
    if words is None:
        words = set(flavor_tokens(product.name, product.brand)) - JOINING_WORDS
    tokens = _keys(words, _MAX_TOKENS)
    tags = _keys(product.tags, _MAX_TAGS)
    brand = 0 if product.brand is None else _key("brand:" + product.brand.lower())
    aisle = _key("aisle:" + product.aisle)
    return ItemKeys(tokens, brand, tags, aisle)


def _padded(arrays: Sequence[U64]) -> U64:
    width = max((a.size for a in arrays), default=0)
    out = np.zeros((len(arrays), max(width, 1)), dtype=np.uint64)
    for row, values in enumerate(arrays):
        out[row, : values.size] = values
    return out


class PoolKeys:
    """The candidate side of a pool's keys: padded word and tag matrices (0 is padding), and
    each as positions in the pool's own vocabulary of words, tags and brands.

    The positions are kept part by row (``words_of[j, row]``: the row's j-th word), the layout
    :meth:`PairKeys.scores` sums fastest, once per pool for every requested item of it."""

    def __init__(self, items: Sequence[ItemKeys]) -> None:
        self.tokens = _padded([k.tokens for k in items])
        self.tags = _padded([k.tags for k in items])
        self.brand = np.array([k.brand for k in items], dtype=np.uint64)[:, None]
        self.words, at = np.unique(self.tokens, return_inverse=True)
        self.words_of = np.ascontiguousarray(at.reshape(self.tokens.shape).T, dtype=np.intp)
        self.tag_vocabulary, at = np.unique(self.tags, return_inverse=True)
        self.tags_of = np.ascontiguousarray(at.reshape(self.tags.shape).T, dtype=np.intp)
        self.brands, at = np.unique(self.brand, return_inverse=True)
        self.brand_at = at.reshape(-1).astype(np.intp)


_BIN_CODES = np.arange(len(AISLE_FEATURE_BINS) * 32, dtype=np.uint64)
_BIN_SCALE_BASE = list(zip(_BIN_SCALE.tolist(), _BIN_BASE.tolist(), strict=True))
_FEW_ROWS = 16  # below this many rows, mixing each pair's keys beats building the tables


def _take(x: npt.NDArray[Any], rows: npt.NDArray[np.intp] | None) -> npt.NDArray[Any]:
    """The rows of ``x`` (all of it if None)."""
    return x if rows is None else x[rows]


def pair_index(
    req: ItemKeys,
    pool: PoolKeys,
    rows: npt.NDArray[np.intp] | None,
    content: FloatArray,
    columns: Sequence[int],
    bits: int,
) -> KeyIndex:
    """The hashed keys of ``req`` against the pool's ``rows`` (all, if None), in slots
    ``[0, 2**bits)``, padding ``2**bits``; ``content`` holds the rows' hand-set features,
    ``columns`` the column of each :data:`AISLE_FEATURE_BINS` feature in it. Shape
    (len(rows), keys per pair).

    A key is ``mix(requested half ^ candidate part)``: every kind's requested half is mixed
    once per item (:func:`item_keys`). Many rows' keys come from tables over the pool's
    vocabulary (:class:`PairKeys`); a few rows' (a learner's one pair), key by key.
    """
    tokens = _take(pool.tokens, rows)
    n = tokens.shape[0]
    if n == 0:
        return np.zeros((0, 1), dtype=np.int32)
    if n >= _FEW_ROWS:
        return PairKeys(req, pool, rows, content, columns, bits).index()
    tags, brand = _take(pool.tags, rows), _take(pool.brand, rows)
    values = content[:, columns].tolist()
    return np.array(
        [
            _row_keys(req, *parts, 1 << bits)
            for parts in zip(
                tokens.tolist(), tags.tolist(), brand[:, 0].tolist(), values, strict=True
            )
        ],
        dtype=np.int32,
    )


def _bins(content: FloatArray, columns: Sequence[int]) -> npt.NDArray[np.int64]:
    """Each row's code of each binned feature (:data:`AISLE_FEATURE_BINS`): the value in
    bins, rounded half to even, within [-8, 8] (not a number: -8)."""
    scaled = np.fmin(np.fmax(content[:, columns] * _BIN_SCALE, -8.0), 8.0)
    return np.rint(scaled).astype(np.int64) + _BIN_BASE


def _row_keys(
    req: ItemKeys, tokens: list[int], tags: list[int], brand: int, values: list[float], size: int
) -> list[int]:
    """Every key of one pair, one by one (the definition of the keys): ``tokens`` and ``tags``
    the candidate's, padded with 0 to the pool's widths, ``values`` its binned features'.

    The layout is :meth:`PairKeys.index`'s: for each requested word, its pair with each
    candidate word (tt); the aisle with each candidate word (at); each candidate word the
    requested item lacks (gw); the aisle with the brand (ab); the
    brand pair (bb, if the requested item has a brand); the aisle with each tag (ag), with
    each feature's bin (af); each requested word the candidate lacks, in this aisle (lt) and
    in any (lw), and each tag it lacks (lg). Padding (a missing part) is ``size``.
    """
    mask, mix = size - 1, _mix_int
    halves = req.half_ints
    at, ab, ag, af = halves[:4]
    a = len(req._token_ints)
    start = 5 if req.brand else 4
    tt = halves[start : start + a]
    keys = [mix(half ^ w) & mask if w else size for half in (*tt, at) for w in tokens]
    wanted = set(req._token_ints)
    keys += [mix(_GAINED ^ w) & mask if w and w not in wanted else size for w in tokens]
    keys.append(mix(ab ^ brand) & mask if brand else size)
    if req.brand:
        keys.append(mix(halves[4] ^ brand) & mask if brand else size)
    keys += [mix(ag ^ g) & mask if g else size for g in tags]
    for value, (scale, base) in zip(values, _BIN_SCALE_BASE, strict=True):
        scaled = value * scale if value == value else -8.0
        keys.append(mix(af ^ (round(min(max(scaled, -8.0), 8.0)) + base)) & mask)
    had = set(tokens)
    lost = halves[start + a : start + 2 * a]
    keys += [size if t in had else k & mask for t, k in zip(req._token_ints, lost, strict=True)]
    anywhere = halves[start + 2 * a : start + 3 * a]
    keys += [size if t in had else k & mask for t, k in zip(req._token_ints, anywhere, strict=True)]
    had = set(tags)
    lacks = halves[start + 3 * a :]
    keys += [size if t in had else k & mask for t, k in zip(req._tag_ints, lacks, strict=True)]
    return keys


def _positions(words: U64, wanted: U64) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Where the wanted words are in the sorted vocabulary ``words``: the positions of those
    it holds, and which of ``wanted`` those are.

    >>> vocabulary, wanted = np.array([0, 5, 7], np.uint64), np.array([7, 8, 5], np.uint64)
    >>> at, known = _positions(vocabulary, wanted)
    >>> at.tolist(), known.tolist()
    ([2, 1], [True, False, True])
    """
    if words.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(wanted.size, dtype=bool)
    at = np.minimum(np.searchsorted(words, wanted), words.size - 1)
    known = words[at] == wanted
    return at[known], known


def _lost_words(wanted: U64, words: U64, words_of: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """(rows, wanted words): the wanted word is not among the row's words; ``words`` is the
    sorted vocabulary, ``words_of`` each row's words as positions in it, word by row.

    Each wanted word is a bit of its vocabulary entry, so a row's words OR together into the
    wanted words it has: a pass over the rows' words, not one per wanted word.

    >>> words = np.array([0, 5, 7, 9], dtype=np.uint64)
    >>> words_of = np.array([[1, 2], [3, 0]])  # row 0: 5 and 9, row 1: 7 and padding
    >>> _lost_words(np.array([5, 7, 8], dtype=np.uint64), words, words_of).tolist()
    [[False, True, True], [True, False, True]]
    """
    if words.size == 0:  # no rows
        return np.ones((words_of.shape[1], wanted.size), dtype=bool)
    at, known = _positions(words, wanted)
    bit = np.zeros(words.size, dtype=np.uint8)  # a name keeps at most _MAX_TOKENS words
    bit[at] = (np.uint8(1) << np.arange(wanted.size, dtype=np.uint8))[known]
    has = np.bitwise_or.reduce(bit[words_of], axis=0)
    return (has[:, None] >> np.arange(wanted.size, dtype=np.uint8) & 1) == 0


class PairKeys:
    """The keys of ``req`` against many rows of a pool, kept factored by candidate part.

    Every key of a pair is the requested item's half mixed with one part of the candidate: a
    word, its brand, a tag or a feature bin (or, for the lost words and tags, no part at all).
    So each kind's slots are one small table over the pool's vocabulary (words, brands, tags,
    bin codes), with padding (a missing word, brand or tag) at the padding slot, and a row's
    keys are the table entries of its own parts. :meth:`scores` sums a row's weights per part
    (a word's weight over every requested word at once) instead of key by key: a row is
    about a third as many reads as its keys, and the full key matrix, about a hundred keys
    per row, is never built for a ranking. :meth:`row` gives one row of it, in
    :func:`pair_index`'s order (what learning from one pair reads), :meth:`index` many.

    >>> from online_learning.contract import Product
    >>> def keys(pid, name, brand):
    ...     return item_keys(Product(pid, name, "milk", "dairy", 2.0, brand=brand))
    >>> pool = PoolKeys([keys("1", "Acme Whole Milk", "Acme"), keys("2", "Best Oat Milk", None)])
    >>> content = np.zeros((2, len(AISLE_FEATURE_BINS)))
    >>> pk = PairKeys(keys("0", "Acme Skim Milk", "Acme"), pool, None, content, range(11), 16)
    >>> index = pk.index()
    >>> bool((index == pair_index(pk.req, pool, None, content, range(11), 16)).all())
    True
    >>> w = np.random.default_rng(0).normal(size=(1 << 16) + 1); w[-1] = 0.0
    >>> np.allclose(pk.scores(w), w[index].sum(axis=1))
    True
    """

    __slots__ = (
        "_af",
        "_ag",
        "_bins_of",
        "_brand",
        "_brand_at",
        "_has_brand",
        "_lacks",
        "_lg",
        "_lost",
        "_lt",
        "_lw",
        "_tags_of",
        "_word",
        "_words_of",
        "req",
        "size",
    )

    def __init__(
        self,
        req: ItemKeys,
        pool: PoolKeys,
        rows: npt.NDArray[np.intp] | None,
        content: FloatArray,
        columns: Sequence[int],
        bits: int,
    ) -> None:
        self.req, self.size = req, 1 << bits
        mask, pad = np.uint64(self.size - 1), np.int32(self.size)

        def slots(keys: U64, present: npt.NDArray[np.bool_] | None = None) -> KeyIndex:
            at = (keys & mask).astype(np.int32)
            return at if present is None else np.where(present, at, pad)

        words, brands, tags = pool.words, pool.brands, pool.tag_vocabulary
        a = req.tt.size
        # (a + 2, words): a row per requested word (tt), then the aisle's (at), then gw
        halves = np.concatenate([req.tt, req.at, _u64([_GAINED])])
        present = np.repeat((words != 0)[None, :], a + 2, axis=0)
        present[a + 1, _positions(words, req.tokens)[0]] = False  # gw: the words not asked for
        self._word = slots(_mix(halves[:, None] ^ words), present)
        has_brand = self._has_brand = req.bb.size > 0
        halves = np.concatenate([req.ab, req.bb])  # ab, then bb if the requested has a brand
        self._brand = slots(_mix(halves[:, None] ^ brands), brands != 0)  # (1 or 2, brands)
        self._ag = slots(_mix(req.ag ^ tags), tags != 0)
        self._af = slots(_mix(req.af ^ _BIN_CODES))
        self._lt, self._lw, self._lg = slots(req.lt), slots(req.lw), slots(req.lg)

        # A row's parts by column (part by row): summing a few parts of every row is then a
        # few whole-array additions, where a sum along short rows costs ~3x as much.
        self._words_of = pool.words_of if rows is None else pool.words_of[:, rows]  # (m, n)
        self._tags_of = pool.tags_of if rows is None else pool.tags_of[:, rows]
        self._brand_at = _take(pool.brand_at, rows)
        self._lost = _lost_words(req.tokens, words, self._words_of)  # (n, a)
        row_tags = _take(pool.tags, rows)
        self._lacks = (row_tags[:, None, :] != req.tags[:, None]).all(axis=2)  # (n, r)
        self._bins_of = np.ascontiguousarray(_bins(content, columns).T)
        assert self._lost.shape[1] == a and has_brand == (self._brand.shape[0] == 2)

    def __len__(self) -> int:
        return len(self._brand_at)

    def scores(self, weights: FloatArray) -> FloatArray:
        """The summed weight of every row's keys (``weights``: one per slot, padding's 0)."""
        word = weights[self._word].sum(axis=0)  # a word's weight over every kind it keys
        brand = weights[self._brand].sum(axis=0)
        out = word.take(self._words_of).sum(axis=0)
        out += brand.take(self._brand_at)
        out += weights[self._ag].take(self._tags_of).sum(axis=0)
        out += weights[self._af].take(self._bins_of).sum(axis=0)
        if self._lt.size:
            out += self._lost @ (weights[self._lt] + weights[self._lw])
        if self._lg.size:
            out += self._lacks @ weights[self._lg]
        return out

    def index(self, rows: npt.NDArray[np.intp] | None = None) -> KeyIndex:
        """Every key of the rows (all, if None), as :func:`pair_index` lays them out."""

        word_at, brand_at = _take(self._words_of.T, rows), _take(self._brand_at, rows)
        n, a = word_at.shape[0], self._word.shape[0] - 2
        pad = np.int32(self.size)
        return np.concatenate(
            [
                self._word[:a, word_at].transpose(1, 0, 2).reshape(n, -1),  # tt, word by word
                self._word[a, word_at],  # at
                self._word[a + 1, word_at],  # gw
                self._brand[:, brand_at].T,  # ab, then bb if the requested item has a brand
                self._ag[_take(self._tags_of.T, rows)],
                self._af[_take(self._bins_of.T, rows)],
                np.where(_take(self._lost, rows), self._lt, pad),
                np.where(_take(self._lost, rows), self._lw, pad),
                np.where(_take(self._lacks, rows), self._lg, pad),
            ],
            axis=1,
        )

    def row(self, at: int) -> KeyIndex:
        """``index()[at]``, built for that row alone (what learning from one pair reads)."""
        pad = np.int32(self.size)
        return np.concatenate(
            [
                self._word[:, self._words_of[:, at]].ravel(),  # tt word by word, at, gw
                self._brand[:, self._brand_at[at]],
                self._ag[self._tags_of[:, at]],
                self._af[self._bins_of[:, at]],
                np.where(self._lost[at], self._lt, pad),
                np.where(self._lost[at], self._lw, pad),
                np.where(self._lacks[at], self._lg, pad),
            ]
        )
