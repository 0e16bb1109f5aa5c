"""Key and value serializers (the ``key.serializer`` / ``value.serializer`` settings).

The built-ins produce the same bytes as the Java client's
``org.apache.kafka.common.serialization`` classes, so a Java consumer using the
matching deserializer reads them back:

=================  ============================================================
name               bytes written
=================  ============================================================
``bytes``          bytes / bytearray / memoryview unchanged (``ByteArraySerializer``)
``string``         ``str.encode(encoding)``, UTF-8 by default (``StringSerializer``)
``int``            4 bytes, big-endian two's complement (``IntegerSerializer``)
``long``           8 bytes, big-endian two's complement (``LongSerializer``)
``short``          2 bytes, big-endian two's complement (``ShortSerializer``)
``double``         8-byte IEEE 754, big-endian; NaN canonical (``DoubleSerializer``)
``float``          4-byte IEEE 754, big-endian (``FloatSerializer``)
``uuid``           the UUID's 36-char string form in UTF-8 (``UUIDSerializer``)
``json``           compact UTF-8 JSON (no Java counterpart in kafka-clients)
=================  ============================================================

Every built-in maps ``None`` to ``None`` (a null key, or a tombstone value).

:func:`resolve_serializer` turns a setting into one uniform function
``(topic, data, headers) -> bytes | None``; :func:`serialize_or_raise` calls it
and turns any failure into :class:`~kprod.errors.SerializationError`.
"""
from __future__ import annotations

import inspect
import json
import math
import numbers
import operator
import struct
import uuid
from typing import (Any, Callable, Dict, List, Optional, Protocol, Tuple, Type, Union,
                    runtime_checkable)

from kprod._internals import plugins
from kprod.errors import ConfigError, SerializationError
from kprod.record import Header

__all__ = [
    "Serializer", "SerializeFn", "BytesSerializer", "StringSerializer", "IntegerSerializer",
    "LongSerializer", "ShortSerializer", "DoubleSerializer", "FloatSerializer",
    "UUIDSerializer", "JsonSerializer", "resolve_serializer", "serialize_or_raise",
    "check_bytes_like", "SERIALIZER_NAMES",
]

BytesLike = Union[bytes, bytearray, memoryview]
#: The uniform signature every resolved serializer has.
SerializeFn = Callable[[str, Any, Optional[List[Header]]], Optional[BytesLike]]

_BYTES_TYPES = (bytes, bytearray, memoryview)


@runtime_checkable
class Serializer(Protocol):
    """Turns a key or value into bytes (Java's ``Serializer.serialize(topic, headers, data)``).

    ``headers`` is the record's header list (``[(str, bytes), ...]``) or None; a
    serializer may read it (or append to it, as Java's may). Return ``None`` for
    a null key / value. Implementations are shared by all ``send()`` callers,
    so they must be thread-safe.
    """

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[BytesLike]: ...


def _type_name(obj: Any) -> str:
    """``str`` for built-ins, ``module.Qualname`` for everything else."""
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class _BuiltIn:
    """Shared bits of the built-in serializers (stateless, so trivially thread-safe)."""

    __slots__ = ()
    name = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
        raise NotImplementedError  # every built-in defines it


class BytesSerializer(_BuiltIn):
    """Passes bytes, bytearray and memoryview through (Java ``ByteArraySerializer``)."""

    __slots__ = ()
    name = "bytes"

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
        if data is None or isinstance(data, _BYTES_TYPES):
            return data
        raise TypeError(f"BytesSerializer needs bytes, bytearray or memoryview, "
                        f"got {_type_name(data)}")


class StringSerializer(_BuiltIn):
    """Encodes ``str`` (Java ``StringSerializer``; UTF-8 unless told otherwise)."""

    __slots__ = ("encoding",)
    name = "string"

    def __init__(self, encoding: str = "utf-8") -> None:
        "".encode(encoding)  # fail now, not on the first send, for an unknown codec
        self.encoding = encoding

    def __repr__(self) -> str:
        return f"StringSerializer(encoding={self.encoding!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringSerializer) and type(other) is type(self) \
            and other.encoding == self.encoding

    def __hash__(self) -> int:
        return hash((type(self), self.encoding))

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[bytes]:
        if data is None:
            return None
        if not isinstance(data, str):
            raise TypeError(f"StringSerializer needs str, got {_type_name(data)}")
        return data.encode(self.encoding)


def _as_int(data: Any, kind: str) -> int:
    # Accept int and anything with __index__ (numpy integers), but not bool:
    # Java would not take a Boolean where an Integer is expected.
    if isinstance(data, bool) or not hasattr(type(data), "__index__"):
        raise TypeError(f"{kind}Serializer needs int, got {_type_name(data)}")
    return operator.index(data)


class _IntSerializer(_BuiltIn):
    """Fixed-width big-endian two's complement integer, range-checked."""

    __slots__ = ()
    _kind = ""
    _struct: struct.Struct
    _min = 0
    _max = 0

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[bytes]:
        if data is None:
            return None
        value = _as_int(data, self._kind)
        if not self._min <= value <= self._max:
            raise ValueError(f"{value} is out of range for a Java {self._kind.lower()} "
                             f"[{self._min}, {self._max}]")
        return self._struct.pack(value)


class IntegerSerializer(_IntSerializer):
    """Java ``int``: 4 bytes big-endian signed (``IntegerSerializer``)."""

    __slots__ = ()
    name, _kind, _struct = "int", "Integer", struct.Struct(">i")
    _min, _max = -(1 << 31), (1 << 31) - 1


class LongSerializer(_IntSerializer):
    """Java ``long``: 8 bytes big-endian signed (``LongSerializer``)."""

    __slots__ = ()
    name, _kind, _struct = "long", "Long", struct.Struct(">q")
    _min, _max = -(1 << 63), (1 << 63) - 1


class ShortSerializer(_IntSerializer):
    """Java ``short``: 2 bytes big-endian signed (``ShortSerializer``)."""

    __slots__ = ()
    name, _kind, _struct = "short", "Short", struct.Struct(">h")
    _min, _max = -(1 << 15), (1 << 15) - 1


def _as_float(data: Any, kind: str) -> float:
    # numbers.Real covers int, float, Fraction and numpy scalars; bool is excluded.
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(f"{kind}Serializer needs float or int, got {_type_name(data)}")
    return float(data)


_DOUBLE = struct.Struct(">d")
_FLOAT = struct.Struct(">f")
_CANONICAL_NAN = b"\x7f\xf8\x00\x00\x00\x00\x00\x00"


class DoubleSerializer(_BuiltIn):
    """8-byte IEEE 754 big-endian (Java ``DoubleSerializer``).

    Java uses ``Double.doubleToLongBits``, which collapses every NaN to the
    canonical ``0x7ff8000000000000``; so do we.
    """

    __slots__ = ()
    name = "double"

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[bytes]:
        if data is None:
            return None
        value = _as_float(data, "Double")
        if math.isnan(value):
            return _CANONICAL_NAN
        return _DOUBLE.pack(value)


class FloatSerializer(_BuiltIn):
    """4-byte IEEE 754 big-endian (Java ``FloatSerializer``, ``floatToRawIntBits``).

    Python floats are doubles: they are rounded to the nearest float32; a finite
    value beyond float32's range is an error rather than a silent infinity.
    """

    __slots__ = ()
    name = "float"

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[bytes]:
        if data is None:
            return None
        value = _as_float(data, "Float")
        try:
            return _FLOAT.pack(value)
        except OverflowError:
            raise ValueError(f"{value!r} is out of range for a Java float") from None


class UUIDSerializer(_BuiltIn):
    """The UUID's string form in UTF-8 (Java ``UUIDSerializer``: ``data.toString()`` bytes).

    Accepts :class:`uuid.UUID` or any string :class:`uuid.UUID` parses; the
    output is always the canonical lowercase 36-character form that Java's
    ``UUID.toString()`` produces (so ``"{A0B1...}"`` is normalised).
    """

    __slots__ = ()
    name = "uuid"

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[bytes]:
        if data is None:
            return None
        if isinstance(data, uuid.UUID):
            return str(data).encode("ascii")
        if isinstance(data, str):
            return str(uuid.UUID(data)).encode("ascii")  # ValueError if not a UUID
        raise TypeError(f"UUIDSerializer needs uuid.UUID or str, got {_type_name(data)}")


def _compact_dumps(obj: Any) -> str:
    # allow_nan=False: NaN/Infinity are not JSON and other languages' parsers reject them.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class JsonSerializer(_BuiltIn):
    """Compact JSON in UTF-8 (``{"a":1}``; keys in insertion order, non-ASCII kept).

    ``dumps`` replaces :func:`json.dumps`; it may return ``str`` (encoded as
    UTF-8) or bytes (e.g. ``orjson.dumps``). ``None`` is a null value, not
    ``b"null"``, so tombstones still work.
    """

    __slots__ = ("_dumps",)
    name = "json"

    def __init__(self, dumps: Optional[Callable[[Any], Union[str, bytes]]] = None) -> None:
        self._dumps = dumps or _compact_dumps

    def __repr__(self) -> str:
        return "JsonSerializer()" if self._dumps is _compact_dumps else \
            f"JsonSerializer(dumps={self._dumps!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonSerializer) and type(other) is type(self) \
            and other._dumps is self._dumps

    def __hash__(self) -> int:
        return hash((type(self), id(self._dumps)))

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
        if data is None:
            return None
        out = self._dumps(data)
        if isinstance(out, str):
            return out.encode("utf-8")
        return out


# --- name resolution ---------------------------------------------------------

_BY_NAME: Dict[str, Type[_BuiltIn]] = {
    "bytes": BytesSerializer, "bytearray": BytesSerializer,
    "string": StringSerializer, "str": StringSerializer,
    "int": IntegerSerializer, "integer": IntegerSerializer,
    "long": LongSerializer, "short": ShortSerializer,
    "double": DoubleSerializer, "float": FloatSerializer,
    "uuid": UUIDSerializer, "json": JsonSerializer,
}
_JAVA_PACKAGE = "org.apache.kafka.common.serialization."
# Java simple class name (lowercased) -> built-in. Full names are this plus _JAVA_PACKAGE.
_BY_JAVA_NAME: Dict[str, Type[_BuiltIn]] = {
    "bytearrayserializer": BytesSerializer, "bytebufferserializer": BytesSerializer,
    "bytesserializer": BytesSerializer, "stringserializer": StringSerializer,
    "integerserializer": IntegerSerializer, "longserializer": LongSerializer,
    "shortserializer": ShortSerializer, "doubleserializer": DoubleSerializer,
    "floatserializer": FloatSerializer, "uuidserializer": UUIDSerializer,
}
#: The names :func:`resolve_serializer` accepts (besides Java class names).
SERIALIZER_NAMES: Tuple[str, ...] = tuple(_BY_NAME)


def _setting(field: str) -> str:
    """``"key"`` -> ``"key.serializer"`` (a full setting name is kept)."""
    return field if field.endswith(".serializer") else f"{field}.serializer"


def _short_field(field: str) -> str:
    """``"key.serializer"`` -> ``"key"``."""
    return field[: -len(".serializer")] if field.endswith(".serializer") else field


def _by_name(name: str, field: str) -> Optional[_BuiltIn]:
    """A built-in by name or Java class name; None for a "package.module.Class" name."""
    key = name.strip().lower()
    cls = _BY_NAME.get(key)
    if cls is None:
        # "org.apache.kafka.common.serialization.StringSerializer" or "StringSerializer".
        simple = key[len(_JAVA_PACKAGE):] if key.startswith(_JAVA_PACKAGE) else key
        if "." not in simple:
            cls = _BY_JAVA_NAME.get(simple)
    if cls is not None:
        return cls()
    if "." in key and not key.startswith(("org.apache.kafka.", "io.confluent.")):
        return None
    hint = ("; for Confluent's Avro serializer use kprod.schema_registry.AvroSerializer"
            if key.startswith("io.confluent.") else "")
    raise ConfigError(
        f"Invalid value {name!r} for configuration {_setting(field)}: unknown "
        f"serializer name; valid names are {', '.join(SERIALIZER_NAMES)} (any case), "
        f"a Java class name such as {_JAVA_PACKAGE}StringSerializer, or a Python "
        f"'package.module.Class' name{hint}")


def _positional_arity(fn: Callable[..., Any]) -> Optional[Tuple[int, float]]:
    """(required, maximum) positional parameters of ``fn``; None if not introspectable.

    ``maximum`` is ``inf`` when ``fn`` takes ``*args``. A required keyword-only
    parameter makes ``fn`` uncallable by us and is reported as ``(-1, 0)``.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some C callables have no signature
        return None
    required, maximum = 0, 0.0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            maximum += 1
            if p.default is p.empty:
                required += 1
        elif p.kind is p.VAR_POSITIONAL:
            maximum = math.inf
        elif p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            return (-1, 0)
    return required, maximum


def _adapt_method(method: Callable[..., Optional[BytesLike]], owner: Any,
                  field: str) -> SerializeFn:
    """Wrap a Serializer object's bound ``serialize`` to ``(topic, data, headers)``.

    The protocol is ``serialize(topic, data, headers=None)``; a Java-style
    ``serialize(topic, data)`` without headers is accepted too. ``None`` data
    is passed on, as Java does (built-ins return None for it).
    """
    arity = _positional_arity(method)
    if arity is None or arity[0] <= 3 <= arity[1]:
        return method  # already the uniform signature
    if arity[0] <= 2 <= arity[1]:
        def without_headers(topic: str, data: Any,
                            headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
            return method(topic, data)
        return without_headers
    raise ConfigError(
        f"Invalid value {owner!r} for configuration {_setting(field)}: serialize() "
        f"must accept (topic, data, headers=None) or (topic, data)")


def _adapt_callable(fn: Callable[..., Any], field: str) -> SerializeFn:
    """Wrap a plain callable to ``(topic, data, headers)``.

    The form is chosen once, from the number of *required* positional
    parameters: 0 or 1 -> ``fn(data)``; 2 -> ``fn(topic, data)``; 3 ->
    ``fn(topic, data, headers)``. Optional extra parameters are left alone, and
    callables without an introspectable signature (some C functions) or taking
    only ``*args`` are called as ``fn(data)``. ``None`` data is never passed to
    a plain callable: it stays None (a null key, or a tombstone value).
    """
    arity = _positional_arity(fn)
    required = 1 if arity is None else arity[0]
    if arity is not None and arity[1] == 0 and required == 0:
        required = -1  # takes no positional arguments at all
    if required in (0, 1):
        def data_only(topic: str, data: Any,
                      headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
            return None if data is None else fn(data)
        return data_only
    if required == 2:
        def topic_and_data(topic: str, data: Any,
                           headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
            return None if data is None else fn(topic, data)
        return topic_and_data
    if required == 3:
        def with_headers(topic: str, data: Any,
                         headers: Optional[List[Header]] = None) -> Optional[BytesLike]:
            return None if data is None else fn(topic, data, headers)
        return with_headers
    raise ConfigError(
        f"Invalid value {fn!r} for configuration {_setting(field)}: a serializer "
        f"callable must take (data), (topic, data) or (topic, data, headers)")


def resolve_serializer(spec: Any, field: str) -> Optional[SerializeFn]:
    """Turn a ``key.serializer`` / ``value.serializer`` setting into a function.

    ``field`` is ``"key"`` or ``"value"`` (``"key.serializer"`` also works); it
    names the setting in errors. ``spec`` may be:

    * ``None``: returns None, meaning "bytes-like data only" (the producer's
      fast path, checked with :func:`check_bytes_like`);
    * a name: ``bytes``, ``string``/``str``, ``int``/``integer``, ``long``,
      ``short``, ``double``, ``float``, ``uuid``, ``json`` (any case), or a Java
      class name such as ``org.apache.kafka.common.serialization.LongSerializer``;
    * an object with a ``serialize`` method (a :class:`Serializer`), or a class
      with one, which is instantiated without arguments;
    * a plain callable ``f(data)`` or ``f(topic, data)`` (see
      :func:`_adapt_callable` for how the form is detected).

    Returns a function ``(topic, data, headers) -> bytes | None``. Raises
    :class:`~kprod.errors.ConfigError` for anything else.
    """
    return adapt_serializer(serializer_plugin(spec, field)[0], field)


def serializer_plugin(spec: Any, field: str) -> Tuple[Any, bool]:
    """The serializer object (or callable, or None) a setting names, and whether it was
    instantiated here from a class or class name (Java configures only those)."""
    if spec is None:
        return None, False
    if isinstance(spec, str):
        builtin = _by_name(spec, field)
        if builtin is not None:
            return builtin, False
        spec = plugins.load_class(spec, _setting(field))
    if isinstance(spec, type):
        if not callable(getattr(spec, "serialize", None)):
            raise ConfigError(
                f"Invalid value {spec!r} for configuration {_setting(field)}: a "
                f"serializer class must define serialize(topic, data, headers=None)")
        try:
            return spec(), True
        except Exception as exc:
            raise ConfigError(f"Invalid value {spec!r} for configuration "
                              f"{_setting(field)}: could not instantiate it: {exc}") from exc
    return spec, False


def adapt_serializer(spec: Any, field: str) -> Optional[SerializeFn]:
    """A serializer object or callable (from :func:`serializer_plugin`) as a function
    ``(topic, data, headers) -> bytes | None``."""
    if spec is None:
        return None
    if isinstance(spec, _BuiltIn):
        return spec.serialize  # known uniform signature; skip introspection
    method = getattr(spec, "serialize", None)
    if callable(method):
        return _adapt_method(method, spec, field)
    if callable(spec):
        return _adapt_callable(spec, field)
    raise ConfigError(
        f"Invalid value {spec!r} for configuration {_setting(field)}: expected None, a "
        f"serializer name ({', '.join(SERIALIZER_NAMES)}), a Serializer object or class, "
        f"or a callable")


# --- calling serializers -----------------------------------------------------

def serialize_or_raise(fn: Optional[SerializeFn], topic: str, data: Any,
                       headers: Optional[List[Header]], field: str) -> Optional[BytesLike]:
    """Serialize ``data`` with ``fn`` (from :func:`resolve_serializer`).

    ``field`` is ``"key"`` or ``"value"``. Any exception ``fn`` raises becomes a
    :class:`~kprod.errors.SerializationError` naming the field, topic and the
    data's type, chained to the original. The result must be bytes, bytearray,
    memoryview or None (returned as is). ``fn=None`` means no serializer: the
    data itself must be bytes-like (:func:`check_bytes_like`).
    """
    if fn is None:
        return check_bytes_like(data, field, topic)
    try:
        out = fn(topic, data, headers)
    except Exception as exc:
        raise SerializationError(
            f"Can't serialize {_short_field(field)} for topic {topic!r} "
            f"({_type_name(data)}): {type(exc).__name__}: {exc}") from exc
    if out is None or isinstance(out, _BYTES_TYPES):
        return out
    raise SerializationError(
        f"{_short_field(field)} serializer for topic {topic!r} returned "
        f"{_type_name(out)}, not bytes, bytearray, memoryview or None "
        f"(input was {_type_name(data)})")


# Which built-in to suggest when unserialized data is not bytes.
_SUGGEST: Tuple[Tuple[Tuple[type, ...], str], ...] = (
    ((str,), "string"), ((bool,), "json"), ((int,), "long"), ((float,), "double"),
    ((uuid.UUID,), "uuid"), ((dict, list, tuple), "json"),
)


def check_bytes_like(data: Any, field: str, topic: str) -> Optional[BytesLike]:
    """Return ``data`` if it is bytes, bytearray, memoryview or None.

    Used when no serializer is configured; anything else raises
    :class:`~kprod.errors.SerializationError` suggesting a serializer, e.g.
    ``value for topic 'x' is str, not bytes: set value.serializer (e.g.
    'string') or pass bytes``.
    """
    if data is None or isinstance(data, _BYTES_TYPES):
        return data
    suggestion = "'json' or a callable"
    for types, name in _SUGGEST:
        if isinstance(data, types):
            suggestion = repr(name)
            break
    short = _short_field(field)
    raise SerializationError(
        f"{short} for topic {topic!r} is {_type_name(data)}, not bytes: set "
        f"{short}.serializer (e.g. {suggestion}) or pass bytes")
