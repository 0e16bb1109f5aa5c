"""ProducerRecord and RecordMetadata: what the user sends and what the broker confirms."""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

Header = Tuple[str, Optional[bytes]]


class _RecordFields(NamedTuple):
    topic: str
    value: Any = None
    key: Any = None
    partition: Optional[int] = None
    timestamp: Optional[int] = None          # epoch milliseconds (CreateTime)
    headers: Optional[Sequence[Header]] = None


_UNSET: Any = object()

# Positional arguments mean what Java's ProducerRecord constructors mean, by count.
# (Java's 5-argument (topic, partition, key, value, headers) has no positional form
# here: its 3rd argument is taken as the timestamp, so anything else is refused.)
_POSITIONAL_FORMS = {
    0: (),
    1: ("value",),
    2: ("key", "value"),
    3: ("partition", "key", "value"),
    4: ("partition", "timestamp", "key", "value"),
    5: ("partition", "timestamp", "key", "value", "headers"),
}


def _form_name(names: Tuple[str, ...]) -> str:
    return "(" + ", ".join(("topic",) + names) + ")"


class ProducerRecord(_RecordFields):
    """A record to send. ``partition``/``timestamp`` None = chosen by the producer.

    Positional arguments follow Java's constructors::

        ProducerRecord(topic, value)
        ProducerRecord(topic, key, value)
        ProducerRecord(topic, partition, key, value)
        ProducerRecord(topic, partition, timestamp, key, value[, headers])

    Any field may be given by keyword instead (``ProducerRecord(topic, value=v,
    key=k, headers=h)``), and keywords may complete a positional form. A
    positional form whose partition or timestamp is not an int (or None) raises
    TypeError naming the keywords to use: nothing is silently reinterpreted.
    """

    __slots__ = ()

    def __new__(cls, topic: str, *args: Any, value: Any = _UNSET, key: Any = _UNSET,
                partition: Any = _UNSET, timestamp: Any = _UNSET,
                headers: Any = _UNSET) -> "ProducerRecord":
        fields = {"value": value, "key": key, "partition": partition,
                  "timestamp": timestamp, "headers": headers}
        names = _POSITIONAL_FORMS.get(len(args))
        if names is None:
            raise TypeError(f"ProducerRecord takes at most 6 positional arguments "
                            f"{_form_name(_POSITIONAL_FORMS[5])}, got {len(args) + 1}")
        for name, arg in zip(names, args):
            if fields[name] is not _UNSET:
                raise TypeError(f"ProducerRecord{_form_name(names)} got '{name}' both "
                                f"positionally and as a keyword")
            fields[name] = arg
        for name in ("partition", "timestamp"):
            given = fields[name]
            if given is not _UNSET and given is not None and (
                    type(given) is bool or not isinstance(given, int)):
                where = "positional form " + _form_name(names) if name in names else "keyword"
                raise TypeError(
                    f"ProducerRecord {name} must be an int or None, got "
                    f"{type(given).__name__} {given!r} (the {where}). Positional arguments "
                    "follow Java: (topic, value), (topic, key, value), (topic, partition, "
                    "key, value), (topic, partition, timestamp, key, value[, headers]); "
                    "otherwise use keywords, e.g. ProducerRecord(topic, value=..., "
                    "key=..., headers=...)")
        return _RecordFields.__new__(cls, topic, *(
            None if fields[name] is _UNSET else fields[name]
            for name in ("value", "key", "partition", "timestamp", "headers")))

    def __reduce__(self) -> Any:
        # The tuple order is not a positional form: rebuild by keyword.
        return (_rebuild_record, tuple(self))

    def __repr__(self) -> str:
        return ("ProducerRecord(topic=%r, partition=%r, timestamp=%r, key=%r, value=%r, "
                "headers=%r)" % (self.topic, self.partition, self.timestamp, self.key,
                                 self.value, self.headers))


def _rebuild_record(topic: str, value: Any, key: Any, partition: Any, timestamp: Any,
                    headers: Any) -> ProducerRecord:
    return ProducerRecord(topic, value=value, key=key, partition=partition,
                          timestamp=timestamp, headers=headers)


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

    def __repr__(self) -> str:        # Java's toString: topic-partition@offset
        return (f"RecordMetadata({self.topic}-{self.partition}@{self.offset}, "
                f"timestamp={self.timestamp}, serialized_key_size={self.serialized_key_size}, "
                f"serialized_value_size={self.serialized_value_size})")


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
