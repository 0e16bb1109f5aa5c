"""send_many's column reader (kprod._internals.columns, kprod._native.bulk_records) without a
broker: spans say exactly the bytes Python itself sees in each record."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kprod._internals import columns
from kprod._native.bulk_records import (
    CHECK_BAD_PARTITION, CHECK_TOO_LARGE_MEMORY, CHECK_TOO_LARGE_REQUEST, check_records,
    resolve_records,
)
from kprod.errors import BulkInputError
from kprod.partitioner import partition_for_key


def spans_bytes(column):
    """Each record as the native loop reads it (column_item), and its length."""
    items = [column.item(i) for i in range(len(column))]
    assert [column.length_of(i) for i in range(len(column))] == \
        [-1 if x is None else len(x) for x in items]
    return items


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
    assert check_records(4, keys, values, empty, False, empty, 0,
                         False, True, 7, 1 << 20, 1 << 25, 1024, out) == (-1, 0)
    assert list(out) == [partition_for_key(b"a", 7), -1, partition_for_key(b"key-3", 7),
                         partition_for_key(b"", 7)]
    assert check_records(4, keys, values, empty, False, empty, 0,
                         False, True, 7, 1500, 1 << 25, 1024, out) == (3, CHECK_TOO_LARGE_REQUEST)
    explicit = np.array([0, 6, 7, 1], dtype=np.int64)
    assert check_records(4, keys, values, explicit, True, empty,
                         0, False, True, 7, 1 << 20, 1 << 25, 1024, out) == (2, CHECK_BAD_PARTITION)


def test_check_records_checks_small_records_below_a_small_limit():
    """send()'s rule: a record is exempt from the size checks only below unchecked_size
    (the producer's min(limits) - 128, at most 1024); with headers always checked, and
    against buffer.memory too."""
    keys = columns.null_column(2)
    values = columns.read_column([b"1", b"v" * 600], "values", "t")
    out = np.empty(2, dtype=np.int32)
    empty = np.zeros(0, dtype=np.int64)
    assert check_records(2, keys, values, empty, False, empty, 0, False, True, 3, 600,
                         1 << 25, 600 - 128, out) == (1, CHECK_TOO_LARGE_REQUEST)
    assert check_records(2, keys, values, empty, False, empty, 0, False, True, 3, 1 << 20,
                         1 << 25, 1024, out) == (-1, 0)
    # with headers: checked against buffer.memory as well, however small the record
    assert check_records(2, keys, values, empty, False, empty, 20, True, True, 3, 1 << 20,
                         500, 1024, out) == (1, CHECK_TOO_LARGE_MEMORY)


def test_check_records_without_keys_reads_no_key_arrays():
    keys = columns.null_column(3)
    assert len(keys) == 3 and not keys.present and keys.item(1) is None
    values = columns.read_column([b"1", b"2" * 1500, b"3"], "values", "t")
    out = np.full(3, 99, dtype=np.int32)
    empty = np.zeros(0, dtype=np.int64)
    assert check_records(3, keys, values, empty, False, empty, 0, False, True, 7, 1 << 20,
                         1 << 25, 1024, out) == (-1, 0)
    assert list(out) == [-1, -1, -1]                  # null keys: sticky
    assert check_records(3, keys, values, empty, False, empty, 0, False, True, 7, 1000,
                         1 << 25, 1024, out) == (1, CHECK_TOO_LARGE_REQUEST)
    with pytest.raises(IndexError):                   # a column shorter than the count
        check_records(4, keys, values, empty, False, empty, 0, False, True, 7, 1 << 20,
                      1 << 25, 1024, np.empty(4, dtype=np.int32))
    with pytest.raises(IndexError):
        keys.item(3)


def test_check_records_for_an_all_sticky_call_checks_sizes_and_writes_no_partitions():
    """An empty partitions array: every record sticky, nothing written per record, the
    size checks as before; refused where partitions must be written."""
    keys = columns.null_column(3)
    values = columns.read_column([b"1", b"2" * 1500, b"3"], "values", "t")
    none = np.zeros(0, dtype=np.int32)
    empty = np.zeros(0, dtype=np.int64)
    assert check_records(3, keys, values, empty, False, empty, 0, False, False, 7, 1 << 20,
                         1 << 25, 1024, none) == (-1, 0)
    assert check_records(3, keys, values, empty, False, empty, 0, False, False, 7, 1000,
                         1 << 25, 1024, none) == (1, CHECK_TOO_LARGE_REQUEST)
    with pytest.raises(IndexError):                   # keys to hash: partitions needed
        check_records(3, keys, values, empty, False, empty, 0, False, True, 7, 1 << 20,
                      1 << 25, 1024, none)
    with pytest.raises(IndexError):                   # explicit ones too
        check_records(3, keys, values, np.zeros(3, dtype=np.int64), True, empty, 0, False,
                      False, 7, 1 << 20, 1 << 25, 1024, none)


def test_resolve_records_offsets_timestamps_and_failures():
    # 3 segments + the "never queued" slot; records 0-4 queued, 5-6 not.
    segment = np.array([0, 1, 0, 2, 1], dtype=np.int32)
    delta = np.array([0, 0, 1, 0, 1], dtype=np.int32)
    base = np.array([100, 200, -1, -1], dtype=np.int64)       # segment 2: no offset
    append_time = np.array([-1, 5000, -1, -1], dtype=np.int64)  # segment 1: LogAppendTime
    failed = np.array([0, 0, 1, 1], dtype=np.uint8)            # segment 2 failed
    offsets = np.empty(7, dtype=np.int64)
    stamps = np.empty(7, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    assert resolve_records(7, segment, delta, base, append_time, failed, empty, 42,
                           offsets, stamps) == 3
    assert list(offsets) == [100, 200, 101, -1, 201, -1, -1]
    assert list(stamps) == [42, 5000, 42, 42, 5000, 42, 42]
    per_record = np.arange(7, dtype=np.int64) + 10
    resolve_records(7, segment, delta, base, append_time, failed, per_record, 0, offsets,
                    stamps)
    assert list(stamps) == [10, 5000, 12, 13, 5000, 15, 16]
    with pytest.raises(IndexError):
        resolve_records(8, segment, delta, base, append_time, failed, empty, 0, offsets,
                        stamps)


@pytest.mark.parametrize("kind", ["sequence", "numpy S", "numpy 2-D", "arrow binary",
                                  "arrow large", "arrow chunked"])
@pytest.mark.parametrize("where", [0, 5, 9])
def test_check_records_finds_the_one_long_record_in_every_column_kind(kind, where):
    """Without headers the per-record size check is skipped when the column's longest
    item cannot pass unchecked_size; the longest item must therefore be known exactly
    for every kind, wherever it sits (else a too-large record would get through)."""
    pa = pytest.importorskip("pyarrow")
    items = [b"v" * 10] * 10
    items[where] = b"L" * 700
    if kind == "sequence":
        source = items
    elif kind == "numpy S":
        source = np.array(items, dtype="S700")   # trailing NULs are not the item's
    elif kind == "numpy 2-D":
        source = np.zeros((10, 700), dtype=np.uint8)   # every record 700 B
    elif kind == "arrow binary":
        source = pa.array(items, pa.binary())
    elif kind == "arrow large":
        source = pa.array(items, pa.large_binary())
    else:
        source = pa.chunked_array([pa.array(items[:4]), pa.array(items[4:])])
    values = columns.read_column(source, "values", "t")
    keys = columns.null_column(10)
    out = np.full(10, 99, dtype=np.int32)
    empty = np.zeros(0, dtype=np.int64)
    bad = 0 if kind == "numpy 2-D" else where
    assert check_records(10, keys, values, empty, False, empty, 0, False, True, 3, 600,
                         1 << 25, 600 - 128, out) == (bad, CHECK_TOO_LARGE_REQUEST)
    # below the limits: no error, and every record sticky
    assert check_records(10, keys, values, empty, False, empty, 0, False, True, 3, 1 << 20,
                         1 << 25, 1024, out) == (-1, 0)
    assert list(out) == [-1] * 10
