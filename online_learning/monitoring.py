"""How well the model predicts, watched beside the engine, fed by what it returns.

The engine learns; this module only scores. Each :class:`~online_learning.engine.FeedbackOutcome`
carries the prediction the engine made *before* learning from the event (progressive
validation), so the log loss and ROC AUC here are honest out-of-sample figures. The frozen
content prior is scored on the same events: learning helps while the model's loss is lower.
An ADWIN detector on the accept/reject stream counts changes in acceptance (preferences
shifted, a catalog or rules change).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from river import drift, metrics

__all__ = ["LearningMonitor", "MonitorSnapshot"]


class Scored(Protocol):
    """What the monitor needs of a learned feedback event."""

    @property
    def p(self) -> float: ...
    @property
    def prior_p(self) -> float: ...
    @property
    def accepted(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    log_loss: float  # NaN before the first event
    prior_log_loss: float
    roc_auc: float
    acceptance_rate: float  # accepted share of the last ``window`` events
    drifts: int  # changes in acceptance detected so far
    observed: int


class LearningMonitor:
    """Progressive validation, a rolling acceptance rate and drift detection.

    >>> from types import SimpleNamespace as Event
    >>> monitor = LearningMonitor(window=2)
    >>> for accepted in (True, False, False):
    ...     monitor.observe(Event(p=0.7, prior_p=0.5, accepted=accepted))
    >>> snap = monitor.snapshot()
    >>> snap.acceptance_rate, snap.observed, snap.log_loss > snap.prior_log_loss
    (0.0, 3, True)
    """

    def __init__(self, window: int = 1000, drift_delta: float = 0.002) -> None:
        self.log_loss = metrics.LogLoss()
        self.prior_log_loss = metrics.LogLoss()
        self.roc_auc = metrics.ROCAUC()
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._accepted_in_window = 0
        self._drift = drift.ADWIN(delta=drift_delta)
        self.drifts = 0
        self.observed = 0

    def observe(self, outcome: Scored) -> None:
        """Score one learned event (its prediction was made before learning from it)."""
        y = outcome.accepted
        self.log_loss.update(y, outcome.p)
        self.prior_log_loss.update(y, outcome.prior_p)
        self.roc_auc.update(y, outcome.p)
        if len(self._outcomes) == self._outcomes.maxlen:
            self._accepted_in_window -= self._outcomes[0]
        self._outcomes.append(y)
        self._accepted_in_window += y
        self._drift.update(float(y))
        if self._drift.drift_detected:
            self.drifts += 1
        self.observed += 1

    @property
    def acceptance_rate(self) -> float:
        """Accepted share of the last ``window`` events; NaN before the first."""
        return self._accepted_in_window / len(self._outcomes) if self._outcomes else math.nan

    def snapshot(self) -> MonitorSnapshot:
        if not self.observed:
            nan = math.nan
            return MonitorSnapshot(nan, nan, nan, nan, self.drifts, 0)
        return MonitorSnapshot(
            self.log_loss.get(),
            self.prior_log_loss.get(),
            self.roc_auc.get(),
            self.acceptance_rate,
            self.drifts,
            self.observed,
        )

    # -- snapshots: River 0.26.1's metric internals (LogLoss's running mean, ROCAUC's confusion
    # matrices) are read and written here only, and checked by tests/online_learning/
    # test_snapshot.py. ADWIN's window lives in Rust and has no public state: it restarts
    # empty (``drifts`` keeps its count).
    def state(self) -> dict[str, Any]:
        """The scores' running sums, the acceptance window and the counts, for a snapshot."""
        cms = []
        for cm in self.roc_auc.cms:
            cells = [[t, p, w] for t, row in cm.data.items() for p, w in row.items()]
            cms.append({"cells": cells, "n": cm.n_samples, "weight": cm.total_weight})
        return {
            "log_loss": [self.log_loss._mean.n, self.log_loss._mean._mean],
            "prior_log_loss": [self.prior_log_loss._mean.n, self.prior_log_loss._mean._mean],
            "roc_auc": cms,
            "window": list(self._outcomes),
            "drifts": self.drifts,
            "observed": self.observed,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Put back a :meth:`state` (the drift detector starts empty)."""
        cms = state["roc_auc"]
        if len(cms) != len(self.roc_auc.cms):
            raise ValueError(f"{len(cms)} ROC AUC thresholds, {len(self.roc_auc.cms)} here")
        for metric, (n, mean) in (
            (self.log_loss, state["log_loss"]),
            (self.prior_log_loss, state["prior_log_loss"]),
        ):
            metric._mean.n, metric._mean._mean = float(n), float(mean)
        for i, saved in enumerate(cms):
            cm = self.roc_auc.cms[i] = metrics.ConfusionMatrix()
            for y_true, y_pred, weight in saved["cells"]:
                cm.data[y_true][y_pred] += weight
                cm.sum_row[y_true] += weight
                cm.sum_col[y_pred] += weight
                if y_true == y_pred:
                    cm._total_true_positives += weight
            cm.n_samples, cm.total_weight = saved["n"], saved["weight"]
        window = [bool(y) for y in state["window"]]
        self._outcomes = deque(window[-(self._outcomes.maxlen or 1) :], self._outcomes.maxlen)
        self._accepted_in_window = sum(self._outcomes)
        self.drifts = int(state["drifts"])
        self.observed = int(state["observed"])
