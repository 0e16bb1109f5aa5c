"""Zig-zag varint / varlong encoding (Kafka ByteUtils, protobuf zig-zag).

The inline helpers of kprod/_native/varint.pxd run through the public builder and
reader (probes in tests/native/records_helpers.py): varlongs as timestamp deltas
(written and read, the full int64 range), varints as offset deltas (read, the full
int32 range) and as length fields (written: every length a record can have).
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches
from kprod._native.bufferpool import standalone_buffer
from kprod.errors import CorruptRecordError

from .records_helpers import (
    batch, native_read_varint, native_read_varlong, native_sizes, native_varlong, record,
    second_record_garbage, zigzag_encode,
)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Kafka ByteUtils / protobuf zig-zag vectors, plus the int32 and int64 extremes.
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


def test_reference_encoder_matches_the_vectors():
    for value, hexstr in VARINT_VECTORS:
        assert zigzag_encode(value, 32).hex() == hexstr
    for value, hexstr in VARLONG_VECTORS:
        assert zigzag_encode(value, 64).hex() == hexstr


@pytest.mark.parametrize("value,hexstr", VARINT_VECTORS)
def test_varint_vectors_read(value, hexstr):
    assert native_read_varint(bytes.fromhex(hexstr)) == value


def test_varint_lengths_written():
    lengths = [-1, 0, 1, 63, 64, 300, 8191, 8192, 2**20 - 1, 2**20, 2**21]
    assert native_sizes(lengths) == tuple(zigzag_encode(n, 32) for n in lengths)


@pytest.mark.parametrize("value,hexstr", VARLONG_VECTORS)
def test_varlong_vectors(value, hexstr):
    assert native_varlong(value).hex() == hexstr
    assert native_read_varlong(bytes.fromhex(hexstr)) == value


@pytest.mark.parametrize("k", range(0, 63))
def test_varlong_powers_of_two(k):
    for v in (2**k, 2**k - 1, -(2**k), -(2**k) - 1):
        enc = native_varlong(v)
        assert enc == zigzag_encode(v, 64)
        assert native_read_varlong(enc) == v


@given(st.integers(INT32_MIN, INT32_MAX))
def test_varint_roundtrip(v):
    enc = zigzag_encode(v, 32)
    assert len(enc) <= 5
    assert native_read_varint(enc) == v


@given(st.integers(INT64_MIN, INT64_MAX))
def test_varlong_roundtrip(v):
    enc = native_varlong(v)
    assert enc == zigzag_encode(v, 64) and len(enc) <= 10
    assert native_read_varlong(enc) == v


def test_out_of_range_timestamp_rejected_by_argument_conversion():
    builder = RecordBatchBuilder(standalone_buffer(256))
    with pytest.raises(OverflowError):
        builder.append(2**63, None, None)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff", b"\x80\x80\x80\x80"])
def test_varint_truncated(data):
    with pytest.raises(CorruptRecordError, match="record 1: truncated in length"):
        read_batches(second_record_garbage(data))


def test_varint_overflow():
    # A 6th byte, or a 5th byte carrying bits beyond 32.
    for data in (b"\x80\x80\x80\x80\x80\x01", b"\xff\xff\xff\xff\x10", b"\xff\xff\xff\xff\xff"):
        with pytest.raises(CorruptRecordError, match="length varint is too long"):
            read_batches(second_record_garbage(data))


def test_varlong_truncated_and_overflow():
    # the record ends inside the timestamp delta
    for data in (b"\x80" * 5, b"\xff" * 9):
        with pytest.raises(CorruptRecordError, match="record 0: truncated in timestamp delta"):
            read_batches(batch(record(b"\x00" + data), 1))
    # an 11th byte, or a 10th byte carrying bits beyond 64
    for data in (b"\x80" * 10 + b"\x01", b"\xff" * 9 + b"\x02"):
        with pytest.raises(CorruptRecordError, match="timestamp delta varint is too long"):
            read_batches(batch(record(b"\x00" + data + b"\x00\x01\x01\x00"), 1))
