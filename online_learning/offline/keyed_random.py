"""Randomness that is a pure function of (seed, key), whatever order it is asked for in.

The simulator draws shelf trajectories, shopper noise, customers' decisions and every hidden
effect from keyed hashes rather than from one stream, so which pairs a policy looks at, and in
which order, never changes what the world holds (common random numbers across policies).

>>> draws = KeyedRandom(7)
>>> draws.uniform("a") == KeyedRandom(7).uniform("a") != KeyedRandom(8).uniform("a")
True
>>> all(0.0 < u < 1.0 for u in (draws.uniform("b"), *draws.uniform2("c")))
True
"""

from __future__ import annotations

import hashlib
from statistics import NormalDist

__all__ = ["KeyedRandom"]

_NORMAL = NormalDist()
_TWO_64 = float(2**64)
_TWO_32 = float(2**32)


class KeyedRandom:
    """Uniform and normal draws keyed by strings, for one seed."""

    __slots__ = ("_key",)

    def __init__(self, seed: int) -> None:
        self._key = hashlib.blake2b(f"fillrate-sim|{seed}".encode()).digest()[:32]

    def hash64(self, key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "big")

    def uniform(self, key: str) -> float:
        """Uniform in (0, 1)."""
        return (self.hash64(key) + 0.5) / _TWO_64

    def uniform2(self, key: str) -> tuple[float, float]:
        """Two independent uniforms in (0, 1) from one hash."""
        h = self.hash64(key)
        return ((h >> 32) + 0.5) / _TWO_32, ((h & 0xFFFFFFFF) + 0.5) / _TWO_32

    def normal(self, key: str) -> float:
        """Standard normal."""
        return _NORMAL.inv_cdf(self.uniform(key))
