"""A feedback's comment and reason codes: optional, untrusted, never able to crash the decoder.

A comment is whatever a customer typed. The decoder keeps any language and emoji, cuts it to
COMMENT_MAX characters (flagged), removes control characters other than newline and tab and the
bidi overrides, and refuses (dead-letters) only NUL and what is not JSON or UTF-8 at all.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from online_learning.contract import (
    COMMENT_MAX,
    REASONS,
    EventError,
    Feedback,
    decode_feedback,
    encode_event,
    load_schema,
    log_safe,
)
from online_learning.contract.records import REASONS_MAX
from tests.online_learning.contract.conftest import PROPERTY_SETTINGS, VALIDATORS

BASE = {
    "event_id": "fb-1",
    "store_id": "s1",
    "item_id": "coffee-500g",
    "substitute_id": "coffee-250g",
    "outcome": "rejected",
    "ts": 1700000000.0,
}
# What a safe comment never holds: controls other than tab and newline, bidi embeddings,
# overrides and isolates, surrogates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def feedback_with(**fields: Any) -> bytes:
    return orjson.dumps(BASE | fields)


def test_an_old_producer_without_comment_or_reason_still_decodes() -> None:
    feedback = decode_feedback(feedback_with())
    assert (feedback.comment, feedback.reason, feedback.comment_truncated) == (None, (), False)


def test_comment_in_any_language_with_emoji_is_kept_as_written() -> None:
    texts = ["Zu teuer!! 😠", "太贵了", "غالي جدا", "Trop cher\nmerci\tquand même", "<b>no</b>"]
    for text in texts:
        assert decode_feedback(feedback_with(comment=text)).comment == text


def test_markup_is_kept_as_text_for_the_reader_to_escape() -> None:
    # Not the decoder's business to strip HTML: it is text, escaped wherever it is shown.
    text = "<script>alert('x')</script> too pricey"
    assert decode_feedback(feedback_with(comment=text)).comment == text


def test_control_characters_and_bidi_overrides_are_removed_line_breaks_kept() -> None:
    raw = "  Wrong\r\nsize\x1b[31m red\x07 \u202etxt.exe\u2066 \u2028end\x7f\x9b  "
    feedback = decode_feedback(feedback_with(comment=raw))
    assert feedback.comment == "Wrong\nsize[31m red txt.exe \nend"
    assert not feedback.comment_truncated


def test_a_long_comment_is_cut_and_flagged_not_dead_lettered() -> None:
    feedback = decode_feedback(feedback_with(comment="ä" * (COMMENT_MAX + 500)))
    assert feedback.comment == "ä" * COMMENT_MAX
    assert feedback.comment_truncated
    assert feedback.outcome == "rejected"  # the verdict, the valuable part, is kept
    at_limit = decode_feedback(feedback_with(comment="ä" * COMMENT_MAX))
    assert at_limit.comment == "ä" * COMMENT_MAX and not at_limit.comment_truncated


def test_an_emoji_past_the_basic_plane_counts_as_one_character() -> None:
    feedback = decode_feedback(feedback_with(comment="😠" * COMMENT_MAX))
    assert feedback.comment == "😠" * COMMENT_MAX and not feedback.comment_truncated


@pytest.mark.parametrize("blank", ["", "   ", "\r\n\t", "\x1b\x07", "\u202e"])
def test_a_blank_comment_reads_as_none(blank: str) -> None:
    assert decode_feedback(feedback_with(comment=blank)).comment is None


def test_nul_is_dead_lettered_with_a_reason_that_does_not_echo_the_text() -> None:
    with pytest.raises(EventError) as refused:
        decode_feedback(feedback_with(comment="secret-token\x00binary"))
    assert str(refused.value) == (
        "substitutions.feedback: field 'comment' must not contain NUL (U+0000)"
    )


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b'"comment": "\\ud800 lone"', "not valid JSON"),  # a lone surrogate escape
        (b'"comment": "\xff\xfe broken"', "not UTF-8"),
        (b'"comment": 42', "field 'comment' must be a string, got 42"),
        (b'"comment": null', "field 'comment' must be a string, got null"),
    ],
)
def test_what_is_not_text_is_dead_lettered_with_its_reason(raw: bytes, why: str) -> None:
    value = orjson.dumps(BASE)[:-1] + b"," + raw + b"}"
    with pytest.raises(EventError, match=re.escape(why)):
        decode_feedback(value)


def test_reason_codes_are_kept_once_each_in_a_fixed_order() -> None:
    feedback = decode_feedback(feedback_with(reason=["wrong_size", "too_expensive", "wrong_size"]))
    assert feedback.reason == ("too_expensive", "wrong_size")
    assert decode_feedback(feedback_with(reason=[])).reason == ()


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (["cheap"], "field 'reason[0]' must be one of too_expensive, wrong_size"),
        (["Too_Expensive"], "field 'reason[0]' must be one of"),
        ("too_expensive", "field 'reason' must be a list of codes, got 'too_expensive'"),
        (["quality"] * (REASONS_MAX + 1), f"at most {REASONS_MAX} items"),
    ],
)
def test_a_reason_outside_the_closed_set_is_dead_lettered(reason: Any, why: str) -> None:
    with pytest.raises(EventError, match=re.escape(why)):
        decode_feedback(feedback_with(reason=reason))


def test_schema_states_the_same_codes_and_limits_as_the_decoder() -> None:
    fields = load_schema("substitutions.feedback")["properties"]
    assert tuple(fields["reason"]["items"]["enum"]) == REASONS
    assert fields["reason"]["maxItems"] == REASONS_MAX
    assert f"first {COMMENT_MAX} characters" in fields["comment"]["description"]


def test_comment_and_reason_are_written_and_read_back() -> None:
    feedback = Feedback(
        "e1", "s1", "a", "b", "refunded", 2.0, comment="Bruised 🍌", reason=("quality",)
    )
    _, _, value = encode_event(feedback)
    VALIDATORS["substitutions.feedback"].validate(orjson.loads(value))
    assert decode_feedback(value) == feedback
    assert b"comment_truncated" not in value  # the decoder's note, not part of the payload


def test_log_safe_escapes_and_bounds_untrusted_text() -> None:
    shown = log_safe("Nope\n\x1b[2J\u202e<script>" + "x" * 500)
    assert shown.isprintable() and len(shown) < 120
    assert "\\n" in shown and "\\x1b" in shown and "\\u202e" in shown
    assert shown.endswith("(518 characters)")


# --- hostile comments: dead-lettered with a reason, or decoded into a safe comment ----------

hostile_pieces = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "\u202e\u2066\u2069\u202a",  # bidi overrides and isolates
        "\r\n",
        "\x1b[2J\x07\x08\x7f\x85\x9b",
        "\u2028\u2029",
        "😠👨\u200d👩\u200d👧🏽",  # emoji, a ZWJ sequence, a skin tone
        "\ufeff\u200b",
        "' OR 1=1; --",
        "%s%n{0}${jndi:ldap://x}",
        "\x00",
        "zu teuer",
        "\U0010ffff",
    ]
)
hostile_texts = st.one_of(
    st.text(max_size=200),  # every code point but surrogates, controls and NUL included
    st.lists(st.one_of(hostile_pieces, st.text(max_size=5)), max_size=30).map("".join),
    st.builds(lambda piece, n: piece * n, hostile_pieces, st.integers(1, 3000)),  # huge
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),  # binary-looking
)


def encoded(text: str, how: str) -> bytes:
    """A payload carrying ``text`` as its comment, as different producers write it."""
    payload = BASE | {"comment": text}
    if how == "orjson":
        return orjson.dumps(payload)
    return json.dumps(payload, ensure_ascii=how == "ascii").encode()


def assert_safe_or_refused(value: bytes) -> None:
    try:
        feedback = decode_feedback(value)
    except EventError as exc:
        assert str(exc).startswith("substitutions.feedback: ")
        assert "comment" in str(exc) or "JSON" in str(exc) or "UTF-8" in str(exc)
        return
    assert feedback.outcome == "rejected"
    comment = feedback.comment
    if comment is not None:
        assert 0 < len(comment) <= COMMENT_MAX
        assert UNSAFE.search(comment) is None
        assert comment == comment.strip()
        comment.encode("utf-8")  # storable and sendable as it is
        # and it reads back the same from what a worker would write (the cut already made)
        again = decode_feedback(encode_event(feedback)[2])
        assert again == dataclasses.replace(feedback, comment_truncated=False)


@PROPERTY_SETTINGS
@given(text=hostile_texts, how=st.sampled_from(["orjson", "ascii", "utf-8"]))
def test_a_hostile_comment_is_refused_with_a_reason_or_decoded_safe(text: str, how: str) -> None:
    value = encoded(text, how)
    assert_safe_or_refused(value)
    if "\x00" in text:
        with pytest.raises(EventError, match="must not contain NUL"):
            decode_feedback(value)


@PROPERTY_SETTINGS
@given(
    # no surrogates around it: one next to it could make it half of a valid pair
    text=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=50
    ),
    surrogate=st.integers(0xD800, 0xDFFF),
    at=st.integers(0, 50),
)
def test_a_lone_surrogate_in_a_comment_is_dead_lettered(text: str, surrogate: int, at: int) -> None:
    # orjson cannot write one; the stdlib can, as a \\u escape, as a sloppy producer would.
    value = encoded(text[:at] + chr(surrogate) + text[at:], "ascii")
    with pytest.raises(EventError, match="not valid JSON"):
        decode_feedback(value)


def test_an_escaped_surrogate_pair_in_a_comment_is_its_one_character() -> None:
    value = encoded("ok \ud83d\ude00", "ascii")  # \\ud83d\\ude00 in the JSON: 😀
    assert b"\\ud83d\\ude00" in value
    assert decode_feedback(value).comment == "ok 😀"


@PROPERTY_SETTINGS
@given(value=st.binary(max_size=300), at=st.integers(0, 300))
def test_raw_bytes_in_a_comment_never_crash_the_decoder(value: bytes, at: int) -> None:
    head = orjson.dumps(BASE)[:-1] + b',"comment":"'
    assert_safe_or_refused(head + value[:at].replace(b'"', b"") + b'"}')
