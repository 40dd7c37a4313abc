"""The ranking event (topic ``substitutions.rankings``): the record, its encoder and decoder.

The worker writes a :class:`Ranking` with :func:`ranking_payload`; readers of the topic
(``fillrate tail``, the simulator, tests) turn the bytes back into one with
:func:`decode_ranking`, which accepts exactly what ``schemas/substitutions.rankings.v1.json``
accepts (and refuses non-finite numbers). Scores and probabilities go out rounded to 6 decimal
places, so a decoded ranking holds the rounded values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from online_learning.contract.fields import (
    ABSENT,
    ID_MAX,
    TEXT_MAX,
    boolean,
    describe,
    parse_object,
    probability,
    required,
    text,
    timestamp,
)
from online_learning.contract.records import RANKINGS_TOPIC, EventError

__all__ = ["Ranking", "Substitute", "decode_ranking", "ranking_payload"]

_DECIMALS = 6
_SUBSTITUTE_FIELDS = ("item_id", "score", "p_accept", "p_available")


@dataclass(frozen=True, slots=True)
class Substitute:
    item_id: str
    score: float
    p_accept: float
    p_available: float


@dataclass(frozen=True, slots=True)
class Ranking:
    """One ranking event (the ``substitutions.rankings`` payload)."""

    ranking_id: str
    store_id: str
    item_id: str
    substitutes: tuple[Substitute, ...]
    reason: str | None
    model_version: str
    trigger: str
    ts: float
    source_ts: float
    propensity: float = 1.0  # P(the logging policy puts substitutes[0] first)
    explored: bool = False  # exploration, not the greedy order, chose substitutes[0]

    @property
    def key(self) -> str:
        """The message key: rankings are keyed by ``store_id:item_id``."""
        return f"{self.store_id}:{self.item_id}"

    def substitute_ids(self) -> tuple[str, ...]:
        return tuple(s.item_id for s in self.substitutes)

    def to_payload(self) -> dict[str, Any]:
        """:func:`ranking_payload` of this ranking."""
        return ranking_payload(self)


def ranking_payload(r: Ranking) -> dict[str, Any]:
    """The ``substitutions.rankings`` payload of a ranking.

    >>> r = Ranking("rk-1", "s1", "milk", (Substitute("oat", 0.6123456789, 0.8, 0.76543),),
    ...             None, "v1", "stock_out", 10.0, 9.5)
    >>> ranking_payload(r)["substitutes"]
    [{'item_id': 'oat', 'score': 0.612346, 'p_accept': 0.8, 'p_available': 0.76543}]
    """
    return {
        "ranking_id": r.ranking_id,
        "store_id": r.store_id,
        "item_id": r.item_id,
        "substitutes": [
            {
                "item_id": s.item_id,
                "score": round(s.score, _DECIMALS),
                "p_accept": round(s.p_accept, _DECIMALS),
                "p_available": round(s.p_available, _DECIMALS),
            }
            for s in r.substitutes
        ],
        "reason": r.reason,
        "model_version": r.model_version,
        "trigger": r.trigger,
        "ts": r.ts,
        "source_ts": r.source_ts,
        "propensity": round(r.propensity, _DECIMALS),
        "explored": r.explored,
    }


def decode_ranking(value: bytes | None) -> Ranking:
    """Decode a ``substitutions.rankings`` message value.

    Raises
    ------
    EventError
        If the value is null, breaks ``schemas/substitutions.rankings.v1.json`` or holds a
        non-finite number.

    Examples
    --------
    >>> r = decode_ranking(b'{"ranking_id": "rk-1", "store_id": "s1", "item_id": "milk",'
    ...     b' "substitutes": [{"item_id": "oat", "score": 0.6, "p_accept": 0.8,'
    ...     b' "p_available": 0.75}], "reason": null, "model_version": "v1",'
    ...     b' "trigger": "stock_out", "ts": 10, "source_ts": 9.5}')
    >>> r.key, r.substitute_ids(), r.ts, r.propensity
    ('s1:milk', ('oat',), 10.0, 1.0)
    >>> decode_ranking(b'{"ranking_id": "rk-1", "store_id": "s1", "item_id": "milk",'
    ...     b' "substitutes": [], "reason": null, "model_version": "v1",'
    ...     b' "trigger": "stock_out", "ts": 10, "source_ts": 9.5}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: substitutions.rankings: field 'reason' must say why \
there are no substitutes, got null
    """
    t = RANKINGS_TOPIC
    obj = parse_object(t, value)
    listed = required(t, obj, "substitutes")
    if type(listed) is not list:
        raise EventError(f"{t}: field 'substitutes' must be an array, got {describe(listed)}")
    substitutes = tuple(_substitute(f"substitutes[{i}]", s) for i, s in enumerate(listed))
    reason = required(t, obj, "reason")
    if not substitutes:
        if type(reason) is not str or not reason:
            raise EventError(
                f"{t}: field 'reason' must say why there are no substitutes, got {describe(reason)}"
            )
    elif reason is not None and type(reason) is not str:
        raise EventError(f"{t}: field 'reason' must be a string or null, got {describe(reason)}")
    propensity = obj.get("propensity", ABSENT)
    explored = obj.get("explored", ABSENT)
    return Ranking(
        ranking_id=text(t, "ranking_id", required(t, obj, "ranking_id"), ID_MAX),
        store_id=text(t, "store_id", required(t, obj, "store_id"), ID_MAX),
        item_id=text(t, "item_id", required(t, obj, "item_id"), ID_MAX),
        substitutes=substitutes,
        reason=reason,
        model_version=text(t, "model_version", required(t, obj, "model_version"), TEXT_MAX),
        trigger=text(t, "trigger", required(t, obj, "trigger"), TEXT_MAX),
        ts=timestamp(t, "ts", required(t, obj, "ts")),
        source_ts=timestamp(t, "source_ts", required(t, obj, "source_ts")),
        propensity=(
            1.0
            if propensity is ABSENT
            else probability(t, "propensity", propensity, above_zero=True)
        ),
        explored=False if explored is ABSENT else boolean(t, "explored", explored),
    )


def _substitute(where: str, obj: Any) -> Substitute:
    t = RANKINGS_TOPIC
    if type(obj) is not dict:
        raise EventError(f"{t}: field '{where}' must be an object, got {describe(obj)}")
    for name in _SUBSTITUTE_FIELDS:
        if name not in obj:
            raise EventError(f"{t}: missing required field '{where}.{name}'")
    return Substitute(
        item_id=text(t, f"{where}.item_id", obj["item_id"], ID_MAX),
        score=probability(t, f"{where}.score", obj["score"]),
        p_accept=probability(t, f"{where}.p_accept", obj["p_accept"]),
        p_available=probability(t, f"{where}.p_available", obj["p_available"]),
    )
