"""ProducerRecord and RecordMetadata: what the user sends and what the broker confirms."""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

Header = Tuple[str, Optional[bytes]]


class ProducerRecord(NamedTuple):
    """A record to send. ``partition``/``timestamp`` None = chosen by the producer."""

    topic: str
    value: Any = None
    key: Any = None
    partition: Optional[int] = None
    timestamp: Optional[int] = None          # epoch milliseconds (CreateTime)
    headers: Optional[Sequence[Header]] = None


class RecordMetadata(NamedTuple):
    """Where and when a record was written (Java's ``RecordMetadata``).

    ``offset`` is -1 with acks=0 (the broker does not answer) and for a
    duplicate a broker recognised by its sequence number. ``timestamp`` is the
    broker's LogAppendTime when the topic uses it, else the record's CreateTime.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    serialized_key_size: int                 # -1 for a null key
    serialized_value_size: int               # -1 for a null value


def normalize_headers(headers: Any) -> Optional[List[Header]]:
    """Accept a list of (str, bytes|None) pairs or a dict; validate the types.

    Raises TypeError naming the offending header; the producer turns it into a
    SerializationError.
    """
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    result: List[Header] = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError(f"header {item!r} is not a (name, value) pair") from None
        if not isinstance(name, str):
            raise TypeError(f"header name {name!r} is {type(name).__name__}, not str")
        if value is not None and not isinstance(value, (bytes, bytearray, memoryview)):
            if isinstance(value, str):
                value = value.encode("utf-8")
            else:
                raise TypeError(f"header {name!r} value is {type(value).__name__}, not bytes")
        result.append((name, value))
    return result
