"""send_many's column reader (kprod._internals.columns, kprod._native.columns) without a
broker: spans say exactly the bytes Python itself sees in each record."""
from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kprod._internals import columns
from kprod._native.columns import CHECK_BAD_PARTITION, CHECK_TOO_LARGE_REQUEST, check_records
from kprod.errors import BulkInputError
from kprod.partitioner import partition_for_key


def spans_bytes(spans):
    return [None if n < 0 else ctypes.string_at(int(a), int(n))
            for a, n in zip(spans.address, spans.length)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=40)), max_size=60))
def test_sequences(items):
    items = [bytearray(x) if x is not None and len(x) % 3 == 1 else x for x in items]
    spans = columns.read_column(items, "values", "t")
    assert spans_bytes(spans) == [None if x is None else bytes(x) for x in items]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=12), min_size=1, max_size=60))
def test_numpy_s_keeps_numpys_meaning_of_trailing_nuls(items):
    array = np.array(items, dtype="S12")
    assert spans_bytes(columns.read_column(array, "values", "t")) == [bytes(x) for x in array]
    assert spans_bytes(columns.read_column(array[::-3], "values", "t")) == \
        [bytes(x) for x in array[::-3]]          # non-contiguous: copied


def test_numpy_fixed_width_kinds_are_exactly_itemsize():
    v = np.frombuffer(b"\0ab\0" * 6, dtype="V4")
    assert spans_bytes(columns.read_column(v, "values", "t")) == [b"\0ab\0"] * 6
    rows = np.arange(24, dtype=np.uint8).reshape(4, 6)[:, ::2]     # strided: copied
    assert spans_bytes(columns.read_column(rows, "values", "t")) == [bytes(r) for r in rows]
    structured = np.zeros(3, dtype=[("a", "<i2"), ("b", "S2")])
    assert spans_bytes(columns.read_column(structured, "values", "t")) == [b"\0" * 4] * 3


def test_arrow_slices_chunks_and_nulls():
    pa = pytest.importorskip("pyarrow")
    items = [None if i % 4 == 0 else b"x" * (i % 5) for i in range(50)]
    for column in (pa.array(items).slice(3, 40), pa.array(items, pa.large_binary()),
                   pa.chunked_array([pa.array(items[:20]), pa.array(items[20:]).slice(2)]),
                   pa.array([None if x is None else x.decode() for x in items],
                            pa.large_string()).slice(7)):
        expected = [x.encode() if isinstance(x, str) else x for x in column.to_pylist()]
        assert spans_bytes(columns.read_column(column, "values", "t")) == expected
    fixed = pa.array([None if i % 3 else b"%04d" % i for i in range(30)], pa.binary(4))
    assert spans_bytes(columns.read_column(fixed.slice(5), "keys", "t")) == \
        fixed.slice(5).to_pylist()


def test_arrow_offsets_outside_the_data_buffer_are_refused():
    pa = pytest.importorskip("pyarrow")
    # pyarrow checks buffer sizes, not offset values: 100 is past the 4-byte buffer
    offsets = np.array([0, 2, 100, 4], dtype=np.int32)
    bad = pa.Array.from_buffers(pa.binary(), 3, [None, pa.py_buffer(offsets),
                                                 pa.py_buffer(b"abcd")])
    with pytest.raises(BulkInputError, match=r"values\[1\] has Arrow offsets") as info:
        columns.read_column(bad, "values", "t")
    assert info.value.index == 1


def test_check_records_hashes_keys_like_send_and_checks_sizes():
    keys = columns.read_column([b"a", None, b"key-3", b""], "keys", "t")
    values = columns.read_column([b"1", b"2", b"3", b"x" * 2000], "values", "t")
    out = np.empty(4, dtype=np.int32)
    empty = np.zeros(0, dtype=np.int64)
    assert check_records(4, keys.address, keys.length, values.length, empty, False, empty, 0,
                         False, True, 7, 1 << 20, 1 << 25, out) == (-1, 0)
    assert list(out) == [partition_for_key(b"a", 7), -1, partition_for_key(b"key-3", 7),
                         partition_for_key(b"", 7)]
    assert check_records(4, keys.address, keys.length, values.length, empty, False, empty, 0,
                         False, True, 7, 1500, 1 << 25, out) == (3, CHECK_TOO_LARGE_REQUEST)
    explicit = np.array([0, 6, 7, 1], dtype=np.int64)
    assert check_records(4, keys.address, keys.length, values.length, explicit, True, empty,
                         0, False, True, 7, 1 << 20, 1 << 25, out) == (2, CHECK_BAD_PARTITION)
