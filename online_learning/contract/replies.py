"""The reply event (topic ``substitutions.replies``): the record, its encoder and decoder.

The worker answers each substitution request (``substitutions.requests``) with a :class:`Reply`
written by :func:`reply_payload`; readers of the topic turn the bytes back into one with
:func:`decode_reply`, which accepts exactly what ``schemas/substitutions.replies.v1.json``
accepts (and refuses non-finite numbers). As for rankings, scores and probabilities go out
rounded to 6 decimal places, so a decoded reply holds the rounded values; the propensity keeps 6
significant digits instead, so a small one is never written as 0, which the schema refuses.

An empty reply says why in ``reason``: :data:`CUSTOMER_DECLINED` when the customer chose
``no_substitute`` for the item (``customers.preferences``), otherwise the ranking's own reason
(the texts of :mod:`online_learning.ranking`, whose categories are
:data:`~online_learning.ranking.EMPTY_REASONS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from online_learning.contract.fields import (
    ABSENT,
    ID_MAX,
    TEXT_MAX,
    boolean,
    choice,
    describe,
    event_time,
    parse_object,
    probability,
    required,
    text,
)
from online_learning.contract.records import REPLIES_TOPIC, EventError

__all__ = [
    "CUSTOMER_DECLINED",
    "REPLY_SUBSTITUTES_MAX",
    "SUBSTITUTE_SOURCES",
    "Reply",
    "ReplySubstitute",
    "decode_reply",
    "reply_payload",
]

CUSTOMER_DECLINED = "customer_declined"
"""The reason of an empty reply whose customer asked for no substitute for the item."""
SUBSTITUTE_SOURCES = ("customer", "model")
"""Who chose a substitute: the customer (one of their own picks) or the model's ranking."""
REPLY_SUBSTITUTES_MAX = 50

_DECIMALS = 6
_SUBSTITUTE_FIELDS = ("item_id", "score", "p_accept", "p_available", "source")


@dataclass(frozen=True, slots=True)
class ReplySubstitute:
    """One substitute offered in a reply; ``source`` is one of :data:`SUBSTITUTE_SOURCES`."""

    item_id: str
    score: float
    p_accept: float
    p_available: float
    source: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one substitution request (the ``substitutions.replies`` payload)."""

    request_id: str
    order_id: str
    customer_id: str
    store_id: str
    item_id: str
    substitutes: tuple[ReplySubstitute, ...]
    reason: str | None  # why substitutes is empty, else None
    model_version: str
    ts: float
    source_ts: float  # the request's event time
    propensity: float = 1.0  # P(the logging policy puts substitutes[0] first)
    explored: bool = False  # exploration, not the greedy order, chose substitutes[0]

    @property
    def key(self) -> str:
        """The message key: replies are keyed by ``order_id``, so an order's arrive in order."""
        return self.order_id

    def substitute_ids(self) -> tuple[str, ...]:
        return tuple(s.item_id for s in self.substitutes)


def reply_payload(reply: Reply) -> dict[str, Any]:
    """The ``substitutions.replies`` payload of a reply.

    >>> r = Reply("r1", "o1", "c1", "s1", "milk",
    ...           (ReplySubstitute("oat", 0.6123456789, 0.8, 0.76543, "customer"),),
    ...           None, "v1", 10.0, 9.5)
    >>> reply_payload(r)["substitutes"]
    [{'item_id': 'oat', 'score': 0.612346, 'p_accept': 0.8, 'p_available': 0.76543, \
'source': 'customer'}]
    """
    return {
        "request_id": reply.request_id,
        "order_id": reply.order_id,
        "customer_id": reply.customer_id,
        "store_id": reply.store_id,
        "item_id": reply.item_id,
        "substitutes": [
            {
                "item_id": s.item_id,
                "score": round(s.score, _DECIMALS),
                "p_accept": round(s.p_accept, _DECIMALS),
                "p_available": round(s.p_available, _DECIMALS),
                "source": s.source,
            }
            for s in reply.substitutes
        ],
        "reason": reply.reason,
        "model_version": reply.model_version,
        "ts": reply.ts,
        "source_ts": reply.source_ts,
        "propensity": _significant(reply.propensity),
        "explored": reply.explored,
    }


def _significant(x: float) -> float:
    """``x`` to 6 significant digits: 0.0123456789 -> 0.0123457, 1e-9 stays 1e-9."""
    return float(f"{x:.{_DECIMALS}g}")


def decode_reply(value: bytes | None) -> Reply:
    """Decode a ``substitutions.replies`` message value.

    Raises
    ------
    EventError
        If the value is null, breaks ``schemas/substitutions.replies.v1.json`` or holds a
        non-finite number.

    Examples
    --------
    >>> r = decode_reply(b'{"request_id": "r1", "order_id": "o1", "customer_id": "c1",'
    ...     b' "store_id": "s1", "item_id": "milk", "substitutes": [{"item_id": "oat",'
    ...     b' "score": 0.6, "p_accept": 0.8, "p_available": 0.75, "source": "model"}],'
    ...     b' "reason": null, "model_version": "v1", "ts": 10, "source_ts": 9.5}')
    >>> r.key, r.substitute_ids(), r.ts, r.propensity, r.explored
    ('o1', ('oat',), 10.0, 1.0, False)
    >>> decode_reply(b'{"request_id": "r1", "order_id": "o1", "customer_id": "c1",'
    ...     b' "store_id": "s1", "item_id": "milk", "substitutes": [], "reason": null,'
    ...     b' "model_version": "v1", "ts": 10, "source_ts": 9.5}')
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: substitutions.replies: field 'reason' must say why \
there are no substitutes, got null
    """
    t = REPLIES_TOPIC
    obj = parse_object(t, value)
    listed = required(t, obj, "substitutes")
    if type(listed) is not list:
        raise EventError(f"{t}: field 'substitutes' must be an array, got {describe(listed)}")
    if len(listed) > REPLY_SUBSTITUTES_MAX:
        raise EventError(
            f"{t}: field 'substitutes' must have at most {REPLY_SUBSTITUTES_MAX} items,"
            f" got {len(listed)}"
        )
    substitutes = tuple(_substitute(f"substitutes[{i}]", s) for i, s in enumerate(listed))
    reason = required(t, obj, "reason")
    if not substitutes:
        if type(reason) is not str or not reason:
            raise EventError(
                f"{t}: field 'reason' must say why there are no substitutes, got {describe(reason)}"
            )
    elif reason is not None and (type(reason) is not str or not reason):
        raise EventError(
            f"{t}: field 'reason' must be null or a non-empty string, got {describe(reason)}"
        )
    propensity = obj.get("propensity", ABSENT)
    explored = obj.get("explored", ABSENT)
    return Reply(
        request_id=text(t, "request_id", required(t, obj, "request_id"), ID_MAX),
        order_id=text(t, "order_id", required(t, obj, "order_id"), ID_MAX),
        customer_id=text(t, "customer_id", required(t, obj, "customer_id"), ID_MAX),
        store_id=text(t, "store_id", required(t, obj, "store_id"), ID_MAX),
        item_id=text(t, "item_id", required(t, obj, "item_id"), ID_MAX),
        substitutes=substitutes,
        reason=reason,
        model_version=text(t, "model_version", required(t, obj, "model_version"), TEXT_MAX),
        ts=event_time(t, "ts", required(t, obj, "ts")),
        source_ts=event_time(t, "source_ts", required(t, obj, "source_ts")),
        propensity=(
            1.0
            if propensity is ABSENT
            else probability(t, "propensity", propensity, above_zero=True)
        ),
        explored=False if explored is ABSENT else boolean(t, "explored", explored),
    )


def _substitute(where: str, obj: Any) -> ReplySubstitute:
    t = REPLIES_TOPIC
    if type(obj) is not dict:
        raise EventError(f"{t}: field '{where}' must be an object, got {describe(obj)}")
    for name in _SUBSTITUTE_FIELDS:
        if name not in obj:
            raise EventError(f"{t}: missing required field '{where}.{name}'")
    return ReplySubstitute(
        item_id=text(t, f"{where}.item_id", obj["item_id"], ID_MAX),
        score=probability(t, f"{where}.score", obj["score"]),
        p_accept=probability(t, f"{where}.p_accept", obj["p_accept"]),
        p_available=probability(t, f"{where}.p_available", obj["p_available"]),
        source=choice(t, f"{where}.source", obj["source"], SUBSTITUTE_SOURCES),
    )
