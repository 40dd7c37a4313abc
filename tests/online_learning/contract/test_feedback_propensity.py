"""Feedback carries the ranking's propensity back: the exploration log for off-policy estimates.

The rankings topic is compacted, so it does not keep what each ranking showed first; a
feedback event on the first shown substitute (position 0) with the ranking's propensity is one
logged decision, and the learning log keeps every valid feedback event forever.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from online_learning.contract import (
    EventError,
    Feedback,
    decode_feedback,
    event_payload,
    load_schema,
)
from online_learning.offline.off_policy import ips, logged_from_feedback, snips

SCHEMA = Draft202012Validator(load_schema("substitutions.feedback"))
BASE: dict[str, Any] = {
    "event_id": "fb-1",
    "store_id": "s1",
    "item_id": "milk",
    "substitute_id": "oat",
    "outcome": "accepted",
    "ts": 1700000200.5,
    "ranking_id": "rk-7",
    "position": 0,
}


@pytest.mark.parametrize("propensity", [1e-9, 0.025, 0.95, 1, 1.0])
def test_a_propensity_in_0_1_is_accepted_by_the_schema_and_the_decoder(propensity: float) -> None:
    payload = BASE | {"propensity": propensity}
    assert SCHEMA.is_valid(payload)
    feedback = decode_feedback(orjson.dumps(payload))
    assert feedback.propensity == propensity
    assert event_payload(feedback) == payload  # a producer sending the record sends it back


@pytest.mark.parametrize("propensity", [0, -0.1, 1.0001, True, "0.5", None])
def test_a_propensity_outside_0_1_is_refused_by_both(propensity: Any) -> None:
    payload = BASE | {"propensity": propensity}
    assert not SCHEMA.is_valid(payload)
    with pytest.raises(EventError, match="propensity"):
        decode_feedback(orjson.dumps(payload))


def test_feedback_without_it_is_v1_as_before() -> None:
    assert SCHEMA.is_valid(BASE)
    assert decode_feedback(orjson.dumps(BASE)).propensity is None


def test_off_policy_estimates_read_the_log_from_feedback() -> None:
    def fb(sub: str, outcome: str, position: int, propensity: float | None) -> Feedback:
        return decode_feedback(
            orjson.dumps(
                BASE
                | {"substitute_id": sub, "outcome": outcome, "position": position}
                | ({} if propensity is None else {"propensity": propensity})
            )
        )

    events = [
        fb("oat", "accepted", 0, 0.95),  # the greedy first item, accepted
        fb("soy", "refunded", 0, 0.025),  # an explored first item, refunded: a rejection
        fb("rice", "accepted", 1, 0.95),  # not the first item shown: no decision logged
        fb("oat", "accepted", 0, None),  # a producer that does not echo it: none either
    ]
    greedy = [logged_from_feedback(e, lambda f: f.substitute_id == "oat") for e in events]
    logged = [entry for entry in greedy if entry is not None]
    assert [(e.reward, e.propensity) for e in logged] == [(1.0, 0.95), (0.0, 0.025)]
    # the policy "always oat" would have been accepted whenever it was shown
    assert snips(logged) == 1.0
    assert ips(logged) == pytest.approx((1.0 / 0.95) / 2)
