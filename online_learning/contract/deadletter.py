"""The dead-letter record (topic ``substitutions.deadletter``): a refused input and why."""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["DEAD_LETTER_MAX_PAYLOAD", "dead_letter_payload"]

DEAD_LETTER_MAX_PAYLOAD = 256 * 1024


def dead_letter_payload(
    topic: str,
    partition: int,
    offset: int,
    error: str,
    raw: bytes | None,
    ts: float,
    max_payload: int = DEAD_LETTER_MAX_PAYLOAD,
) -> dict[str, Any]:
    """Build a ``substitutions.deadletter`` record for a refused input message.

    ``raw`` is kept as text when it is valid UTF-8 and as base64 otherwise, so the record is
    always valid JSON and the original bytes can be recovered exactly; a tombstone (``None``)
    becomes ``""``. A value longer than ``max_payload`` bytes keeps only its first
    ``max_payload`` bytes (``payload_truncated`` true, ``payload_size`` the original size):
    base64 grows a value by a third, and a record over the broker's message size limit could
    not be dead-lettered at all. The original stays at topic/partition/offset for a replay.

    Examples
    --------
    >>> dead_letter_payload("inventory.signals", 0, 42, "inventory.signals: not UTF-8",
    ...                     b"\\xff\\x00", 1700000000.0)["payload"]
    '/wA='
    >>> dead_letter_payload("inventory.signals", 0, 43, "...", b'{"a": 1}', 1.0)["payload"]
    '{"a": 1}'
    >>> big = dead_letter_payload("inventory.signals", 0, 44, "...", b"x" * 10, 1.0, max_payload=4)
    >>> big["payload"], big["payload_truncated"], big["payload_size"]
    ('xxxx', True, 10)
    """
    size = 0 if raw is None else len(raw)
    kept = b"" if raw is None else bytes(raw[:max_payload])
    try:
        payload, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    record: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "error": error,
        "payload": payload,
        "payload_encoding": encoding,
        "ts": ts,
    }
    if size > max_payload:
        record["payload_truncated"] = True
        record["payload_size"] = size
    return record
