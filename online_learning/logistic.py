"""The logistic function and its inverse, written once for the model, offsets and simulator."""

from __future__ import annotations

import math

__all__ = ["logit", "sigmoid"]

_CLIP = 30.0  # |z| beyond this changes p by less than 1e-13: clip rather than overflow


def sigmoid(z: float) -> float:
    """1 / (1 + e^-z), with z clipped to [-30, 30].

    >>> sigmoid(0.0), round(sigmoid(2.0), 4), sigmoid(1000.0) < 1.0
    (0.5, 0.8808, True)
    """
    z = -_CLIP if z < -_CLIP else _CLIP if z > _CLIP else z
    return 1.0 / (1.0 + math.exp(-z))


def logit(p: float) -> float:
    """log(p / (1 - p)), the inverse of :func:`sigmoid`.

    >>> round(logit(sigmoid(1.5)), 12)
    1.5
    """
    return math.log(p / (1.0 - p))
