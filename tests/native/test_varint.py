"""Zig-zag varint / varlong encoding (Kafka ByteUtils, protobuf zig-zag).

Exercised through the test-only exports of kprod._native.records, which call
the inline helpers of kprod/_native/varint.pxd.
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kprod._native import records as r
from kprod.errors import CorruptRecordError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# anchors-code.md §7.3 (ByteUtils / protobuf), plus the int64 extremes.
VARINT_VECTORS = [
    (0, "00"), (-1, "01"), (1, "02"), (63, "7e"), (-64, "7f"), (64, "8001"),
    (-65, "8101"), (300, "d804"), (-300, "d704"),
    (INT32_MAX, "feffffff0f"), (INT32_MIN, "ffffffff0f"),
]
VARLONG_VECTORS = VARINT_VECTORS + [
    (2**31, "8080808010"), (-(2**31) - 1, "8180808010"),
    (2**62, "80808080808080808001"),
    (-(2**62), "ffffffffffffffff7f"),
    (INT64_MAX, "feffffffffffffffff01"), (INT64_MIN, "ffffffffffffffffff01"),
]


def ref_zigzag_encode(v: int, bits: int) -> bytes:
    """Independent reference: Python ints, no C semantics involved."""
    u = (v << 1) ^ (v >> (bits - 1))
    u &= (1 << bits) - 1
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


@pytest.mark.parametrize("value,hexstr", VARINT_VECTORS)
def test_varint_vectors(value, hexstr):
    assert r._encode_varint(value).hex() == hexstr
    assert r._decode_varint(bytes.fromhex(hexstr)) == (value, len(hexstr) // 2)
    assert r._varint_size(value) == len(hexstr) // 2


@pytest.mark.parametrize("value,hexstr", VARLONG_VECTORS)
def test_varlong_vectors(value, hexstr):
    assert ref_zigzag_encode(value, 64).hex() == hexstr
    assert r._encode_varlong(value).hex() == hexstr
    assert r._decode_varlong(bytes.fromhex(hexstr)) == (value, len(hexstr) // 2)
    assert r._varlong_size(value) == len(hexstr) // 2


@pytest.mark.parametrize("k", range(0, 63))
def test_varlong_powers_of_two(k):
    for v in (2**k, 2**k - 1, -(2**k), -(2**k) - 1):
        enc = r._encode_varlong(v)
        assert enc == ref_zigzag_encode(v, 64)
        assert r._decode_varlong(enc + b"\xff") == (v, len(enc))
        assert r._varlong_size(v) == len(enc)


@given(st.integers(INT32_MIN, INT32_MAX))
def test_varint_roundtrip(v):
    enc = r._encode_varint(v)
    assert enc == ref_zigzag_encode(v, 32)
    assert len(enc) == r._varint_size(v) <= 5
    assert r._decode_varint(enc) == (v, len(enc))


@given(st.integers(INT64_MIN, INT64_MAX))
def test_varlong_roundtrip(v):
    enc = r._encode_varlong(v)
    assert enc == ref_zigzag_encode(v, 64)
    assert len(enc) == r._varlong_size(v) <= 10
    assert r._decode_varlong(enc) == (v, len(enc))


def test_out_of_range_rejected_by_argument_conversion():
    with pytest.raises(OverflowError):
        r._encode_varint(2**31)
    with pytest.raises(OverflowError):
        r._encode_varlong(2**63)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff", b"\x80\x80\x80\x80"])
def test_varint_truncated(data):
    with pytest.raises(CorruptRecordError, match="truncated"):
        r._decode_varint(data)
    with pytest.raises(CorruptRecordError, match="truncated"):
        r._decode_varlong(data)


def test_varint_overflow():
    # A 6th byte, or a 5th byte carrying bits beyond 32.
    for data in (b"\x80\x80\x80\x80\x80\x01", b"\xff\xff\xff\xff\x10", b"\xff\xff\xff\xff\xff"):
        with pytest.raises(CorruptRecordError, match="overflow"):
            r._decode_varint(data)
    for data in (b"\x80" * 10 + b"\x01", b"\xff" * 9 + b"\x02"):
        with pytest.raises(CorruptRecordError, match="overflow"):
            r._decode_varlong(data)
