"""Off-policy estimates from exploring logs: what another ranking policy would have achieved.

Every ranking records the propensity of the item it put first (``online_learning.exploration``).
A log of (first item, propensity, outcome) then estimates another policy without running it:

- IPS: mean of ``outcome * target(first) / propensity`` over the log;
- SNIPS: the same, divided by the mean weight instead of by n (lower variance, slight bias).

>>> ips([Logged(1.0, 0.5, True), Logged(0.0, 0.9, True)]), snips([Logged(1.0, 0.5, True)])
(1.0, 1.0)

In production the log is the feedback itself: the rankings topic is compacted (a table of the
live rankings), so it does not keep every ranking's first item and propensity; the app echoes
the ranking's ``propensity`` in each feedback event next to ``position``, and the feedback of
the first shown item (position 0) is one logged decision (:func:`logged_from_feedback`). The
learning log keeps every valid feedback event forever, raw, so it is the exploration log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from online_learning.contract import Feedback

__all__ = ["Logged", "ips", "logged_from_feedback", "snips"]


@dataclass(frozen=True, slots=True)
class Logged:
    """One logged decision: its outcome, the logging propensity, the target's probability."""

    reward: float
    propensity: float
    target: float | bool  # P(target policy puts the same item first), or whether it would

    @property
    def weight(self) -> float:
        return float(self.target) / self.propensity


def ips(log: Iterable[Logged]) -> float:
    """Inverse propensity scoring: unbiased when every propensity is right and > 0."""
    total, n = 0.0, 0
    for entry in log:
        total += entry.reward * entry.weight
        n += 1
    return total / n if n else float("nan")


def snips(log: Iterable[Logged]) -> float:
    """Self-normalised IPS: divides by the summed weights, so it stays within the reward range."""
    total, weights = 0.0, 0.0
    for entry in log:
        total += entry.reward * entry.weight
        weights += entry.weight
    return total / weights if weights else float("nan")


def logged_from_feedback(
    feedback: Feedback, target: Callable[[Feedback], float | bool]
) -> Logged | None:
    """The logged decision in a feedback event, or None if it holds none.

    Only feedback on the first shown substitute (``position`` 0) that carries the ranking's
    ``propensity`` is one: the reward is acceptance (a refund is a late rejection), ``target``
    says how likely the policy under test puts ``feedback.substitute_id`` first.

    >>> fb = Feedback("e1", "s1", "milk", "oat", "accepted", 1.0, position=0, propensity=0.025)
    >>> logged_from_feedback(fb, lambda f: True)
    Logged(reward=1.0, propensity=0.025, target=True)
    >>> logged_from_feedback(Feedback("e2", "s1", "milk", "oat", "accepted", 1.0, position=1,
    ...                               propensity=0.95), lambda f: True) is None
    True
    """
    if feedback.position != 0 or feedback.propensity is None:
        return None
    reward = 1.0 if feedback.outcome == "accepted" else 0.0
    return Logged(reward, feedback.propensity, target(feedback))
