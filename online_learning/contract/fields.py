"""Field checks shared by the decoders: each returns the value as the record holds it, or
raises :class:`~online_learning.contract.EventError` with a text naming the topic and field.

Types are tested with ``type(x) is ...`` because orjson returns exact built-in types and
``bool`` is an ``int``. Beyond what JSON Schema can say, numbers must also be finite.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from online_learning.contract.records import EventError

__all__ = [
    "ABSENT",
    "COMMENT_MAX",
    "ID_MAX",
    "NAME_MAX",
    "TAGS_MAX",
    "TAG_MAX",
    "TEXT_MAX",
    "boolean",
    "choice",
    "codes",
    "comment",
    "count",
    "describe",
    "log_safe",
    "non_negative",
    "number",
    "parse_object",
    "positive",
    "probability",
    "required",
    "tags",
    "text",
    "timestamp",
]

# Limits shared with the schema files; change both together (the tests will notice).
ID_MAX = 200
NAME_MAX = 1000
TEXT_MAX = 200
TAG_MAX = 100
TAGS_MAX = 50
COMMENT_MAX = 1000  # characters of a comment kept; the rest is cut (see comment())

ABSENT: Any = object()
"""What ``obj.get(field, ABSENT)`` returns for a field the payload does not have."""


def parse_object(topic: str, value: bytes | None) -> dict[str, Any]:
    """The JSON object in a message value."""
    if value is None:
        raise EventError(f"{topic}: value is null (a tombstone), expected a JSON object")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:  # also raised past orjson's nesting limit (1024)
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise EventError(f"{topic}: not UTF-8") from None
        raise EventError(f"{topic}: not valid JSON: {exc}") from None
    if type(obj) is not dict:
        raise EventError(f"{topic}: payload must be a JSON object, got {describe(obj)}")
    return obj


def required(topic: str, obj: dict[str, Any], field: str) -> Any:
    value = obj.get(field, ABSENT)
    if value is ABSENT:
        raise EventError(f"{topic}: missing required field '{field}'")
    return value


def text(topic: str, field: str, value: Any, max_len: int) -> str:
    if type(value) is not str:
        raise EventError(f"{topic}: field '{field}' must be a string, got {describe(value)}")
    if not 0 < len(value) <= max_len:
        raise EventError(
            f"{topic}: field '{field}' must be 1 to {max_len} characters, got {len(value)}"
        )
    return value


def choice(topic: str, field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if type(value) is not str or value not in allowed:
        raise EventError(
            f"{topic}: field '{field}' must be one of {', '.join(allowed)}, got {describe(value)}"
        )
    return value


def number(topic: str, field: str, value: Any, rule: str) -> float:
    """A finite JSON number as a float; ``rule`` only completes the error text."""
    kind = type(value)
    if kind is float:
        # orjson 3 already refuses NaN and out-of-range numbers as invalid JSON; this keeps the
        # guarantee if the parser or its options ever change.
        if not math.isfinite(value):
            raise EventError(f"{topic}: field '{field}' must be a finite number, got {value}")
        return value
    if kind is int:
        return float(value)  # orjson ints fit in 64 bits, so this cannot overflow
    raise EventError(f"{topic}: field '{field}' must be a number {rule}, got {describe(value)}")


def timestamp(topic: str, field: str, value: Any) -> float:
    ts = number(topic, field, value, ">= 0")
    if ts < 0:
        raise EventError(f"{topic}: field '{field}' must be epoch seconds >= 0, got {value}")
    return ts


# Epoch seconds this large are past the year 5000: what was sent is milliseconds (any time
# after March 1973) or microseconds. Read as seconds it would lie millennia ahead, so it is
# refused; old event times stay valid (backfills replay history).
EVENT_TIME_MAX = 1e11


def event_time(topic: str, field: str, value: Any) -> float:
    """An input's event time: epoch seconds, >= 0 and below :data:`EVENT_TIME_MAX`.

    >>> event_time("inventory.signals", "ts", 1_700_000_000.5)
    1700000000.5
    >>> event_time("inventory.signals", "ts", 1_700_000_000_000)
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: inventory.signals: field 'ts' must be epoch seconds, \
got 1700000000000 (milliseconds or microseconds since the epoch?)
    """
    ts = timestamp(topic, field, value)
    if ts >= EVENT_TIME_MAX:
        raise EventError(
            f"{topic}: field '{field}' must be epoch seconds, got {value}"
            " (milliseconds or microseconds since the epoch?)"
        )
    return ts


def positive(topic: str, field: str, value: Any) -> float:
    result = number(topic, field, value, "> 0")
    if result <= 0:
        raise EventError(f"{topic}: field '{field}' must be a number > 0, got {value}")
    return result


def non_negative(topic: str, field: str, value: Any) -> float:
    """A finite number >= 0 (a figure such as units sold, which may well be 0)."""
    result = number(topic, field, value, ">= 0")
    if result < 0:
        raise EventError(f"{topic}: field '{field}' must be a number >= 0, got {value}")
    return result


def count(topic: str, field: str, value: Any) -> int:
    kind = type(value)
    if kind is int and value >= 0:
        result: int = value
        return result
    # JSON Schema counts 2.0 as an integer, so accept it too and keep the two in agreement.
    if kind is float and value.is_integer() and value >= 0:
        return int(value)
    raise EventError(f"{topic}: field '{field}' must be an integer >= 0, got {describe(value)}")


def tags(topic: str, value: Any) -> frozenset[str]:
    if type(value) is not list:
        raise EventError(f"{topic}: field 'tags' must be a list of strings, got {describe(value)}")
    if len(value) > TAGS_MAX:
        raise EventError(
            f"{topic}: field 'tags' must have at most {TAGS_MAX} items, got {len(value)}"
        )
    for i, tag in enumerate(value):
        text(topic, f"tags[{i}]", tag, TAG_MAX)
    return frozenset(tag.lower() for tag in value)


def describe(value: Any) -> str:
    """A short, JSON-flavoured rendering of an offending value for error texts."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"
    if kind is int or kind is float:
        return repr(value)
    if kind is list:
        return "an array"
    if kind is dict:
        return "an object"
    return kind.__name__


def probability(topic: str, field: str, value: Any, *, above_zero: bool = False) -> float:
    """A number from 0 to 1; ``above_zero`` also refuses 0 (a propensity)."""
    low = "above 0" if above_zero else "from 0"
    p = number(topic, field, value, f"{low} to 1")
    if not (0 < p <= 1 if above_zero else 0 <= p <= 1):
        raise EventError(f"{topic}: field '{field}' must be a number {low} to 1, got {value}")
    return p


def boolean(topic: str, field: str, value: Any) -> bool:
    if type(value) is not bool:
        raise EventError(f"{topic}: field '{field}' must be true or false, got {describe(value)}")
    return value


# Any line break a form or a phone may send (CRLF, a lone CR, NEL, Unicode's line and paragraph
# separators) reads as a newline.
_LINE_BREAKS = re.compile("\r\n?|[\x85\u2028\u2029]")
# What a comment never keeps: C0 and C1 control characters but tab and newline, DEL, the bidi
# embeddings, overrides and isolates that can make text display in another order than it
# reads ("Trojan Source"), and lone surrogates (orjson refuses them; a guard if that changes).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def comment(
    topic: str, field: str, value: Any, max_len: int = COMMENT_MAX
) -> tuple[str | None, bool]:
    """A free-text comment made safe to store and show, and whether it was cut.

    Any language and emoji are kept. NUL is refused: it marks binary or corrupt data, and
    databases and C strings downstream cannot hold it. Other control characters (tab and
    newline excepted), bidi overrides and lone surrogates are removed, line breaks become
    ``\\n``, and surrounding whitespace goes; what is left past ``max_len`` characters is cut
    (the event is worth more than the end of its comment) and flagged. Nothing left: None.

    >>> comment("t", "comment", "  Too pricey\\r\\nsorry \\u202egnp.exe\\x07 ")
    ('Too pricey\\nsorry gnp.exe', False)
    >>> comment("t", "comment", "ok " * 5, max_len=4)
    ('ok o', True)
    >>> comment("t", "comment", "\\x1b[2J")
    ('[2J', False)
    >>> comment("t", "comment", " \\t\\x00")
    Traceback (most recent call last):
    ...
    online_learning.contract.EventError: t: field 'comment' must not contain NUL (U+0000)
    """
    if type(value) is not str:
        raise EventError(f"{topic}: field '{field}' must be a string, got {describe(value)}")
    if "\x00" in value:
        # Not the text itself: an error text ends up in the dead-letter record and in logs.
        raise EventError(f"{topic}: field '{field}' must not contain NUL (U+0000)")
    value = _UNSAFE.sub("", _LINE_BREAKS.sub("\n", value)).strip()
    cut = len(value) > max_len
    if cut:
        value = value[:max_len].rstrip()
    return (value or None), cut


def codes(
    topic: str, field: str, value: Any, allowed: tuple[str, ...], max_items: int
) -> tuple[str, ...]:
    """A list of codes from ``allowed``, each kept once, in the order of ``allowed``.

    >>> codes("t", "reason", ["quality", "cheap", "quality"], ("cheap", "quality"), 5)
    ('cheap', 'quality')
    """
    if type(value) is not list:
        raise EventError(f"{topic}: field '{field}' must be a list of codes, got {describe(value)}")
    if len(value) > max_items:
        raise EventError(
            f"{topic}: field '{field}' must have at most {max_items} items, got {len(value)}"
        )
    for i, code in enumerate(value):
        choice(topic, f"{field}[{i}]", code, allowed)
    return tuple(code for code in allowed if code in value)


def log_safe(value: str, limit: int = 80) -> str:
    """Untrusted text as a log line may hold it: its first ``limit`` characters, quoted and
    escaped (control characters, bidi overrides and other invisible ones as ``\\x``/``\\u``
    escapes), and its length if it was cut.

    >>> log_safe("Nope\\n<script>\\u202e")
    "'Nope\\\\n<script>\\\\u202e'"
    >>> log_safe("x" * 100, limit=3)
    "'xxx'... (100 characters)"
    """
    shown = repr(value[:limit])
    return shown if len(value) <= limit else f"{shown}... ({len(value)} characters)"
