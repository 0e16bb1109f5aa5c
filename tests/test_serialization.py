"""Tests for kprod.serialization: Java-identical bytes, name resolution, error wrapping."""
from __future__ import annotations

import functools
import json
import math
import struct
import uuid
from typing import Any, List, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kprod.errors import ConfigError, SerializationError
from kprod.serialization import (
    SERIALIZER_NAMES, BytesSerializer, DoubleSerializer, FloatSerializer, IntegerSerializer,
    JsonSerializer, LongSerializer, Serializer, ShortSerializer, StringSerializer,
    UUIDSerializer, check_bytes_like, resolve_serializer, serialize_or_raise,
)

BUILTINS = [BytesSerializer(), StringSerializer(), IntegerSerializer(), LongSerializer(),
            ShortSerializer(), DoubleSerializer(), FloatSerializer(), UUIDSerializer(),
            JsonSerializer()]
JAVA = "org.apache.kafka.common.serialization."


def ser(s: Any, data: Any) -> Optional[bytes]:
    return s.serialize("topic", data)


# --- built-ins: exact bytes as Java writes them --------------------------------

@pytest.mark.parametrize("s", BUILTINS, ids=lambda s: type(s).__name__)
def test_none_stays_none(s: Any) -> None:
    assert ser(s, None) is None
    assert isinstance(s, Serializer)


@pytest.mark.parametrize("value, expected", [
    (0, b"\x00\x00\x00\x00"), (1, b"\x00\x00\x00\x01"), (-1, b"\xff\xff\xff\xff"),
    (256, b"\x00\x00\x01\x00"), (2**31 - 1, b"\x7f\xff\xff\xff"),
    (-2**31, b"\x80\x00\x00\x00"),
])
def test_integer_bytes(value: int, expected: bytes) -> None:
    assert ser(IntegerSerializer(), value) == expected


@pytest.mark.parametrize("value, expected", [
    (1, b"\x00" * 7 + b"\x01"), (-1, b"\xff" * 8),
    (2**63 - 1, b"\x7f" + b"\xff" * 7), (-2**63, b"\x80" + b"\x00" * 7),
    (1234567890123, bytes.fromhex("0000011f71fb04cb")),
])
def test_long_bytes(value: int, expected: bytes) -> None:
    assert ser(LongSerializer(), value) == expected


@pytest.mark.parametrize("value, expected", [
    (1, b"\x00\x01"), (-1, b"\xff\xff"), (32767, b"\x7f\xff"), (-32768, b"\x80\x00"),
])
def test_short_bytes(value: int, expected: bytes) -> None:
    assert ser(ShortSerializer(), value) == expected


@pytest.mark.parametrize("s, value", [
    (ShortSerializer(), 32768), (ShortSerializer(), -32769),
    (IntegerSerializer(), 2**31), (IntegerSerializer(), -2**31 - 1),
    (LongSerializer(), 2**63), (LongSerializer(), -2**63 - 1),
])
def test_integer_overflow_is_an_error(s: Any, value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        ser(s, value)


@pytest.mark.parametrize("s", [IntegerSerializer(), LongSerializer(), ShortSerializer()])
@pytest.mark.parametrize("bad", [True, 1.0, "1", b"\x01"])
def test_integer_rejects_non_int(s: Any, bad: Any) -> None:
    with pytest.raises(TypeError):
        ser(s, bad)


def test_integer_accepts_index_types() -> None:
    class Idx:
        def __index__(self) -> int:
            return 7
    assert ser(IntegerSerializer(), Idx()) == b"\x00\x00\x00\x07"


@pytest.mark.parametrize("value, expected", [
    (1.5, b"\x3f\xf8\x00\x00\x00\x00\x00\x00"), (0.0, b"\x00" * 8),
    (-0.0, b"\x80" + b"\x00" * 7), (-2.0, b"\xc0" + b"\x00" * 7),
    (math.inf, b"\x7f\xf0" + b"\x00" * 6), (2, b"\x40" + b"\x00" * 7),
])
def test_double_bytes(value: float, expected: bytes) -> None:
    assert ser(DoubleSerializer(), value) == expected


def test_double_nan_is_canonical_like_doubleToLongBits() -> None:
    odd_nan = struct.unpack(">d", b"\xff\xf8\x00\x00\x00\x00\x00\x01")[0]
    assert math.isnan(odd_nan)
    assert ser(DoubleSerializer(), odd_nan) == b"\x7f\xf8\x00\x00\x00\x00\x00\x00"
    assert ser(DoubleSerializer(), math.nan) == b"\x7f\xf8\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize("value, expected", [
    (1.5, b"\x3f\xc0\x00\x00"), (-1.0, b"\xbf\x80\x00\x00"), (0.0, b"\x00" * 4),
    (math.inf, b"\x7f\x80\x00\x00"),
])
def test_float_bytes(value: float, expected: bytes) -> None:
    assert ser(FloatSerializer(), value) == expected


def test_float_out_of_range_and_wrong_types() -> None:
    with pytest.raises(ValueError, match="out of range"):
        ser(FloatSerializer(), 1e300)
    for s in (FloatSerializer(), DoubleSerializer()):
        with pytest.raises(TypeError):
            ser(s, "1.5")
        with pytest.raises(TypeError):
            ser(s, True)


def test_string() -> None:
    assert ser(StringSerializer(), "héllo") == "héllo".encode("utf-8")
    assert ser(StringSerializer(), "") == b""
    assert ser(StringSerializer("latin-1"), "é") == b"\xe9"
    with pytest.raises(TypeError, match="needs str"):
        ser(StringSerializer(), b"bytes")
    with pytest.raises(LookupError):
        StringSerializer("no-such-codec")


def test_bytes_passthrough() -> None:
    s = BytesSerializer()
    data = b"abc"
    assert ser(s, data) is data
    ba, mv = bytearray(b"x"), memoryview(b"y")
    assert ser(s, ba) is ba and ser(s, mv) is mv
    with pytest.raises(TypeError, match="got str"):
        ser(s, "abc")


def test_uuid_is_java_tostring_utf8() -> None:
    u = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
    assert ser(UUIDSerializer(), u) == b"123e4567-e89b-12d3-a456-426614174000"
    # Strings are validated and normalised to Java's lowercase hyphenated form.
    assert ser(UUIDSerializer(), "123E4567E89B12D3A456426614174000") == \
        b"123e4567-e89b-12d3-a456-426614174000"
    assert ser(UUIDSerializer(), "{123e4567-e89b-12d3-a456-426614174000}") == \
        b"123e4567-e89b-12d3-a456-426614174000"
    with pytest.raises(ValueError):
        ser(UUIDSerializer(), "not-a-uuid")
    with pytest.raises(TypeError):
        ser(UUIDSerializer(), u.bytes)


def test_json() -> None:
    assert ser(JsonSerializer(), {"b": 1, "a": [1, 2.5, None]}) == b'{"b":1,"a":[1,2.5,null]}'
    assert ser(JsonSerializer(), {"k": "é€"}) == '{"k":"é€"}'.encode("utf-8")
    assert ser(JsonSerializer(), "x") == b'"x"'
    with pytest.raises(ValueError):
        ser(JsonSerializer(), {"x": math.nan})  # NaN is not valid JSON
    with pytest.raises(TypeError):
        ser(JsonSerializer(), {1, 2})


def test_json_custom_dumps() -> None:
    pretty = functools.partial(json.dumps, sort_keys=True)
    assert ser(JsonSerializer(pretty), {"b": 1, "a": 2}) == b'{"a": 2, "b": 1}'
    assert ser(JsonSerializer(lambda o: b"raw"), {"a": 1}) == b"raw"


# --- hypothesis round-trips ---------------------------------------------------

@given(st.integers(-2**31, 2**31 - 1))
def test_int_roundtrip(n: int) -> None:
    assert struct.unpack(">i", ser(IntegerSerializer(), n))[0] == n


@given(st.integers(-2**63, 2**63 - 1))
def test_long_roundtrip(n: int) -> None:
    out = ser(LongSerializer(), n)
    assert len(out) == 8 and struct.unpack(">q", out)[0] == n


@given(st.integers(-2**15, 2**15 - 1))
def test_short_roundtrip(n: int) -> None:
    assert struct.unpack(">h", ser(ShortSerializer(), n))[0] == n


@given(st.floats(allow_nan=False))
def test_double_roundtrip(x: float) -> None:
    out = ser(DoubleSerializer(), x)
    back = struct.unpack(">d", out)[0]
    assert back == x and math.copysign(1, back) == math.copysign(1, x)


@given(st.floats(width=32, allow_nan=False))
def test_float_roundtrip(x: float) -> None:
    assert struct.unpack(">f", ser(FloatSerializer(), x))[0] == x


@given(st.one_of(st.integers(min_value=2**63), st.integers(max_value=-2**63 - 1)))
def test_long_out_of_range(n: int) -> None:
    with pytest.raises(ValueError):
        ser(LongSerializer(), n)


# --- resolve_serializer -------------------------------------------------------

@pytest.mark.parametrize("name, data, expected", [
    ("bytes", b"ab", b"ab"), ("string", "ab", b"ab"), ("str", "ab", b"ab"),
    ("int", 1, b"\x00\x00\x00\x01"), ("integer", 1, b"\x00\x00\x00\x01"),
    ("long", 1, b"\x00" * 7 + b"\x01"), ("short", 1, b"\x00\x01"),
    ("double", 1.5, b"\x3f\xf8" + b"\x00" * 6), ("float", 1.5, b"\x3f\xc0\x00\x00"),
    ("uuid", uuid.UUID(int=1), b"00000000-0000-0000-0000-000000000001"),
    ("json", [1], b"[1]"),
    ("STRING", "x", b"x"), ("Json", 1, b"1"), (" long ", 2, b"\x00" * 7 + b"\x02"),
    (JAVA + "ByteArraySerializer", b"z", b"z"), (JAVA + "BytesSerializer", b"z", b"z"),
    (JAVA + "StringSerializer", "x", b"x"),
    (JAVA + "IntegerSerializer", -1, b"\xff" * 4),
    (JAVA + "LongSerializer", -1, b"\xff" * 8),
    (JAVA + "ShortSerializer", -1, b"\xff" * 2),
    (JAVA + "DoubleSerializer", 1.5, b"\x3f\xf8" + b"\x00" * 6),
    (JAVA + "FloatSerializer", 1.5, b"\x3f\xc0\x00\x00"),
    (JAVA + "UUIDSerializer", uuid.UUID(int=0), b"00000000-0000-0000-0000-000000000000"),
    ("StringSerializer", "x", b"x"),
])
def test_resolve_names(name: str, data: Any, expected: bytes) -> None:
    fn = resolve_serializer(name, "value")
    assert fn is not None
    assert fn("t", data, None) == expected
    assert fn("t", None, None) is None


def test_resolve_none_is_fast_path() -> None:
    assert resolve_serializer(None, "key") is None


@pytest.mark.parametrize("field, setting", [("key", "key.serializer"),
                                            ("value", "value.serializer"),
                                            ("value.serializer", "value.serializer")])
def test_unknown_name_error(field: str, setting: str) -> None:
    with pytest.raises(ConfigError) as ei:
        resolve_serializer("avro", field)
    msg = str(ei.value)
    assert setting in msg and "'avro'" in msg
    for name in SERIALIZER_NAMES:
        assert name in msg


@pytest.mark.parametrize("spec", [
    JAVA + "VoidSerializer", "com.example.StringSerializer", "", 42, b"string", object(),
])
def test_invalid_specs(spec: Any) -> None:
    with pytest.raises(ConfigError, match="key.serializer"):
        resolve_serializer(spec, "key")


def test_callable_arity_1_and_2() -> None:
    calls: List[Any] = []

    def one(data: str) -> bytes:
        calls.append(("one", data))
        return data.encode()

    def two(topic: str, data: str) -> bytes:
        calls.append(("two", topic, data))
        return f"{topic}:{data}".encode()

    f1, f2 = resolve_serializer(one, "value"), resolve_serializer(two, "value")
    assert f1("t", "a", None) == b"a"
    assert f2("t", "a", [("h", b"v")]) == b"t:a"
    assert calls == [("one", "a"), ("two", "t", "a")]
    # None never reaches a plain callable: it stays a null key / tombstone.
    assert f1("t", None, None) is None and f2("t", None, None) is None
    assert len(calls) == 2


def test_callable_forms() -> None:
    # Optional extras do not change the detected form; builtins/C methods work.
    def opt(data: str, suffix: str = "!") -> bytes:
        return (data + suffix).encode()
    assert resolve_serializer(opt, "value")("t", "a", None) == b"a!"
    assert resolve_serializer(str.encode, "value")("t", "é", None) == "é".encode()
    assert resolve_serializer(lambda *a: repr(a).encode(), "value")("t", 1, None) == b"(1,)"
    seen = []
    three = resolve_serializer(lambda t, d, h: seen.append(h) or b"", "value")
    three("t", 1, [("a", b"b")])
    assert seen == [[("a", b"b")]]
    partial = functools.partial(lambda prefix, d: prefix + d, b">")
    assert resolve_serializer(partial, "value")("t", b"x", None) == b">x"
    for bad in (lambda: b"", lambda a, b, c, d: b"", lambda d, *, k: b""):
        with pytest.raises(ConfigError, match="value.serializer"):
            resolve_serializer(bad, "value")


class Upper:
    """A user Serializer with the full protocol signature."""

    def serialize(self, topic: str, data: Any, headers: Optional[list] = None) -> Optional[bytes]:
        if headers is not None:
            headers.append(("seen", topic.encode()))
        return None if data is None else str(data).upper().encode()


class JavaStyle:
    """serialize(topic, data) without headers, as many Java ports write it."""

    def serialize(self, topic: str, data: Any) -> bytes:
        return f"{topic}/{data}".encode()


def test_serializer_object_and_class() -> None:
    assert isinstance(Upper(), Serializer)
    for spec in (Upper(), Upper):
        fn = resolve_serializer(spec, "key")
        headers: list = []
        assert fn("t", "ab", headers) == b"AB"
        assert headers == [("seen", b"t")]
        assert fn("t", None, None) is None
    for spec in (JavaStyle(), JavaStyle):
        assert resolve_serializer(spec, "key")("t", "x", None) == b"t/x"


def test_builtin_instances_and_classes_resolve() -> None:
    assert resolve_serializer(StringSerializer("latin-1"), "value")("t", "é", None) == b"\xe9"
    assert resolve_serializer(LongSerializer, "value")("t", 1, None) == b"\x00" * 7 + b"\x01"


def test_bad_serializer_classes() -> None:
    class NoSerialize:
        pass

    class NeedsArgs:
        def __init__(self, x: int) -> None: ...

        def serialize(self, topic: str, data: Any, headers: Optional[list] = None) -> bytes:
            return b""

    class WrongSignature:
        def serialize(self, data: Any) -> bytes:
            return b""

    for spec in (NoSerialize, NeedsArgs, WrongSignature()):
        with pytest.raises(ConfigError, match="value.serializer"):
            resolve_serializer(spec, "value")


# --- serialize_or_raise / check_bytes_like ------------------------------------

def test_failing_user_serializer_is_wrapped_and_chained() -> None:
    boom = RuntimeError("boom")

    def bad(data: Any) -> bytes:
        raise boom

    fn = resolve_serializer(bad, "value")
    with pytest.raises(SerializationError) as ei:
        serialize_or_raise(fn, "orders", {"a": 1}, None, "value")
    msg = str(ei.value)
    assert "value" in msg and "'orders'" in msg and "dict" in msg and "boom" in msg
    assert ei.value.__cause__ is boom


def test_builtin_type_error_is_wrapped() -> None:
    fn = resolve_serializer("int", "key")
    with pytest.raises(SerializationError, match=r"key for topic 't' \(str\)") as ei:
        serialize_or_raise(fn, "t", "12", None, "key")
    assert isinstance(ei.value.__cause__, TypeError)
    with pytest.raises(SerializationError) as ei:
        serialize_or_raise(resolve_serializer("short", "key"), "t", 70000, None, "key")
    assert isinstance(ei.value.__cause__, ValueError)


def test_non_bytes_return_is_an_error() -> None:
    fn = resolve_serializer(lambda d: str(d), "value")
    with pytest.raises(SerializationError, match="returned str") as ei:
        serialize_or_raise(fn, "t", 5, None, "value")
    assert "value" in str(ei.value) and "'t'" in str(ei.value)
    with pytest.raises(SerializationError, match="returned int"):
        serialize_or_raise(resolve_serializer(lambda d: 5, "key"), "t", 5, None, "key")


def test_serialize_or_raise_passes_results_through() -> None:
    ba = bytearray(b"x")
    assert serialize_or_raise(resolve_serializer(lambda d: ba, "value"), "t", 1, None,
                              "value") is ba
    assert serialize_or_raise(resolve_serializer("string", "value"), "t", "s", None,
                              "value") == b"s"
    assert serialize_or_raise(resolve_serializer("json", "value"), "t", None, None,
                              "value") is None
    # fn=None: no serializer configured, data must already be bytes-like.
    assert serialize_or_raise(None, "t", b"raw", None, "value") == b"raw"
    with pytest.raises(SerializationError, match="value.serializer"):
        serialize_or_raise(None, "t", "raw", None, "value")


def test_check_bytes_like_passes() -> None:
    for data in (None, b"a", bytearray(b"b"), memoryview(b"c")):
        assert check_bytes_like(data, "key", "t") is data


def test_check_bytes_like_str_message() -> None:
    with pytest.raises(SerializationError) as ei:
        check_bytes_like("hello", "value", "x")
    assert str(ei.value) == (
        "value for topic 'x' is str, not bytes: set value.serializer (e.g. 'string') "
        "or pass bytes")


@pytest.mark.parametrize("data, hint", [
    (5, "'long'"), (1.5, "'double'"), ({"a": 1}, "'json'"), (uuid.UUID(int=1), "'uuid'"),
    (object(), "'json' or a callable"),
])
def test_check_bytes_like_suggestions(data: Any, hint: str) -> None:
    with pytest.raises(SerializationError, match="key.serializer") as ei:
        check_bytes_like(data, "key", "t")
    assert hint in str(ei.value) and str(ei.value).startswith("key for topic 't' is ")
