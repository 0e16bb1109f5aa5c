"""Base class of the generated message classes (see generate.py).

Every generated class is slotted, lists all its fields (the union over the
message's versions) in ``__slots__`` in schema order, and names its nested
struct types in ``_nested_types`` (field key -> class) so that equality,
repr and the dict conversions below work for every class without per-class
code. The codecs themselves never use these helpers.
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Tuple, Type


class _Fresh:
    """Default marker of a nullable array whose default is an empty list: ``None``
    there means null (e.g. MetadataRequest.topics = None asks for all topics)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FRESH"


#: See :class:`_Fresh`.
FRESH: Any = _Fresh()


class Struct:
    """A Kafka message or nested struct: attributes are the schema's snake_case keys."""

    __slots__: Tuple[str, ...] = ()
    _nested_types: ClassVar[Dict[str, Type["Struct"]]] = {}

    def __eq__(self, other: object) -> Any:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> Dict[str, Any]:
        """Nested plain dicts and lists (for tests, fake brokers and logging)."""
        return {k: _plain(getattr(self, k)) for k in self.__slots__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """The inverse of :meth:`to_dict`; missing keys take their defaults, unknown
        keys are a TypeError naming them."""
        unknown = set(data) - set(cls.__slots__)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
        values = {}
        for key, value in data.items():
            nested = cls._nested_types.get(key)
            if nested is not None and value is not None:
                if isinstance(value, list):
                    value = [v if isinstance(v, Struct) else nested.from_dict(v) for v in value]
                elif not isinstance(value, Struct):
                    value = nested.from_dict(value)
            values[key] = value
        return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
