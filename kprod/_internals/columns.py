"""send_many()'s inputs read into what the native loop takes (kprod._native.columns).

Keys and values become :class:`~kprod._native.column_reader.Column` objects: a description
of the caller's buffers (numpy, or one Arrow chunk) that the native loop reads each
record from in place, or for sequences and chunked Arrow arrays each record's address
and length (-1: null); the objects that own the memory are kept alive for the call.
Accepted:

- a sequence (list, tuple, ...) of bytes, bytearray, memoryview or None;
- a numpy array: 'S<n>' (numpy's meaning: an item ends before its trailing NULs, as
  ``bytes(a[i])`` gives it), 'V<n>' and structured dtypes (exactly itemsize bytes),
  2-D uint8 (one row per record, exactly ``shape[1]`` bytes), object (bytes-like or
  None items). A non-contiguous array is copied once (``numpy.ascontiguousarray``);
- a pyarrow Array or ChunkedArray of binary, large_binary, string, large_string or
  fixed_size_binary, read from its buffers (nulls are null keys/values);
- a pandas Series (object dtype as numpy; others through pyarrow) or a polars Series
  (through pyarrow; ``kprod[arrow]``).

Timestamps: None (now), one int, or an int64 array of ms / a datetime64 array.
Partitions: None, one int, or an integer array. Headers: None, one header list for
every record, or a sequence with one header list (or None) per record.
"""
from __future__ import annotations

import time
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from kprod._native import column_reader as native
from kprod._native.column_reader import Column
from kprod.errors import BulkInputError
from kprod.record import normalize_headers

_EMPTY = np.zeros(0, dtype=np.int64)
_ARROW_KINDS = ("binary", "large_binary", "string", "large_string", "fixed_size_binary")


def _spans(count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Address / length arrays for ``count`` records (every entry written by the
    spans_* function that fills them)."""
    return np.empty(count, dtype=np.uintp), np.empty(count, dtype=np.intp)


def read_column(data: Any, argument: str, topic: str) -> Column:
    """Keys or values as a Column; BulkInputError for anything else."""
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        raise BulkInputError(f"send_many: {argument} must be a column (a sequence, numpy "
                             f"or Arrow array) of records, not one {type(data).__name__}",
                             argument)
    module = type(data).__module__ or ""
    if module.startswith("pyarrow"):
        return _arrow(data, argument)
    if module.startswith("polars"):
        return _arrow(data.to_arrow(), argument)
    if module.startswith("pandas"):
        dtype = getattr(data, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind == "O":     # numpy object column
            return _numpy(data.to_numpy(), argument, topic)
        return _arrow(_pyarrow(argument).array(data), argument)
    if isinstance(data, np.ndarray):
        return _numpy(data, argument, topic)
    try:
        items = tuple(data)
    except TypeError:
        raise BulkInputError(f"send_many: {argument} must be a sequence, numpy or Arrow "
                             f"array, not {type(data).__name__}", argument) from None
    return _objects(items, argument, topic)


def _objects(items: tuple, argument: str, topic: str) -> Column:
    address, length = _spans(len(items))
    keep: List[Any] = [items]
    bad = native.spans_from_objects(items, address, length, keep)
    if bad < 0:
        spans = native.spans_column(len(items), address, length)
        spans.objects = items
        spans.keep.extend(keep)
        return spans
    else:
        item = items[bad]
        raise BulkInputError(
            f"send_many: {argument}[{bad}] for topic {topic!r} is "
            f"{type(item).__name__}, not bytes, bytearray, memoryview or None (send_many "
            f"takes bytes; with a {argument[:-1]}.serializer set it serializes each item)",
            argument, bad)


def _numpy(array: np.ndarray, argument: str, topic: str) -> Column:
    kind = array.dtype.kind
    if kind == "O":
        if array.ndim != 1:
            raise BulkInputError(f"send_many: {argument} is an object array of "
                                 f"{array.ndim} dimensions, not 1", argument)
        return _objects(tuple(array.tolist()), argument, topic)
    if kind in "SV" and array.ndim == 1:
        itemsize, strip = array.dtype.itemsize, kind == "S"
    elif kind == "u" and array.dtype.itemsize == 1 and array.ndim == 2:
        itemsize, strip = array.shape[1], False
    else:
        raise BulkInputError(
            f"send_many: {argument} has dtype {array.dtype} and {array.ndim} dimension(s); "
            "numpy columns are 1-D 'S<n>', 'V<n>', structured or object arrays, or 2-D "
            "uint8 (one row per record)", argument)
    array = np.ascontiguousarray(array)      # a non-contiguous array: one copy
    count = array.shape[0]
    data = array.ctypes.data if count and itemsize else _empty_address()
    return native.fixed_column(data, count, itemsize, strip, 0, 0, array)


_EMPTY_BYTES = b"\0"


def _empty_address() -> int:
    """A valid address for zero-length records (memcpy of 0 bytes from it is fine)."""
    return np.frombuffer(_EMPTY_BYTES, dtype=np.uint8).ctypes.data


def _pyarrow(argument: str):
    try:
        import pyarrow  # type: ignore[import-untyped]
    except ImportError:
        raise BulkInputError(f"send_many: {argument} needs pyarrow for this column type "
                             "(pip install 'kprod[arrow]')", argument) from None
    return pyarrow


def _arrow(data: Any, argument: str) -> Column:
    pa = _pyarrow(argument)
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    if not isinstance(data, (pa.Array, pa.ChunkedArray)):
        raise BulkInputError(f"send_many: {argument} is a {type(data).__name__}; Arrow "
                             "columns are pyarrow Arrays or ChunkedArrays", argument)
    dtype = data.type
    if not any(getattr(pa.types, "is_" + kind)(dtype) for kind in _ARROW_KINDS):
        raise BulkInputError(
            f"send_many: {argument} has Arrow type {dtype}; Arrow columns are binary, "
            "large_binary, string, large_string or fixed_size_binary", argument)
    fixed = pa.types.is_fixed_size_binary(dtype)
    large = pa.types.is_large_binary(dtype) or pa.types.is_large_string(dtype)
    chunks = [chunk for chunk in chunks if len(chunk)]
    if len(chunks) == 1:                       # read in place
        return _arrow_chunk(chunks[0], argument, fixed, large, data)
    # Several chunks: one address and length per record, chunk after chunk.
    count = len(data)
    address, length = _spans(count)
    start = 0
    for chunk in chunks:
        column = _arrow_chunk(chunk, argument, fixed, large, chunk, start)
        native.spans_of(column, address, length, start)
        start += len(chunk)
    spans = native.spans_column(count, address, length)
    spans.keep.append(data)
    return spans


def _arrow_chunk(chunk: Any, argument: str, fixed: bool, large: bool, keep: Any,
                 start: int = 0) -> Column:
    """One Arrow chunk as a Column read in place (``start``: its first record's index
    in the whole column, for errors)."""
    n = len(chunk)
    buffers = chunk.buffers()
    validity = buffers[0].address if chunk.null_count and buffers[0] is not None else 0
    if fixed:
        width = chunk.type.byte_width
        data_buffer = buffers[1]
        if width == 0 or data_buffer is None:
            return native.fixed_column(_empty_address(), n, 0, False, validity, chunk.offset,
                                       keep)
        if (chunk.offset + n) * width > data_buffer.size:
            raise BulkInputError(f"send_many: {argument} has a fixed_size_binary data "
                                 "buffer shorter than its length says", argument, start)
        return native.fixed_column(data_buffer.address + chunk.offset * width, n, width,
                                   False, validity, chunk.offset, keep)
    offsets, data_buffer = buffers[1], buffers[2]
    if offsets is None or offsets.size < (chunk.offset + n + 1) * (8 if large else 4):
        raise BulkInputError(f"send_many: {argument} has an offsets buffer shorter than "
                             "its length says", argument, start)
    if data_buffer is None or data_buffer.size == 0:
        address, size = _empty_address(), 0
    else:
        address, size = data_buffer.address, data_buffer.size
    column, bad = native.offsets_column(address, size, offsets.address, large, chunk.offset,
                                        n, validity, keep)
    if column is None:
        raise BulkInputError(f"send_many: {argument}[{start + bad}] has Arrow offsets "
                             "outside its data buffer", argument, start + bad)
    return column


def null_column(count: int) -> Column:
    """The keys of a call without keys: every one null."""
    return native.null_column(count)


def check_length(column: Column, count: int, argument: str) -> None:
    if len(column) != count:
        raise BulkInputError(f"send_many: {len(column)} {argument} for {count} values",
                             argument)


def read_timestamps(timestamps: Any, count: int) -> Tuple[np.ndarray, int]:
    """(per-record int64 ms array or an empty one, the one timestamp for all)."""
    if timestamps is None:
        return _EMPTY, int(time.time() * 1000)
    if isinstance(timestamps, (int, np.integer)) and not isinstance(timestamps, bool):
        if timestamps < 0:
            raise BulkInputError(f"send_many: timestamps {timestamps} is negative",
                                 "timestamps")
        return _EMPTY, int(timestamps)
    array = np.asarray(timestamps)
    if array.ndim != 1:
        raise BulkInputError("send_many: timestamps must be one int or a 1-D array",
                             "timestamps")
    if array.shape[0] != count:
        raise BulkInputError(f"send_many: {array.shape[0]} timestamps for {count} values",
                             "timestamps")
    if array.dtype.kind == "M":
        nat = np.isnat(array)
        if nat.any():
            bad = int(np.argmax(nat))
            raise BulkInputError(f"send_many: timestamps[{bad}] is NaT", "timestamps", bad)
        array = array.astype("datetime64[ms]").astype(np.int64)
    elif array.dtype.kind in "iu":
        array = array.astype(np.int64, casting="unsafe" if array.dtype.kind == "i" else
                             "same_kind")
        if array.dtype.kind == "u" and (np.asarray(timestamps) > np.iinfo(np.int64).max).any():
            raise BulkInputError("send_many: timestamps out of the int64 range",
                                 "timestamps")
    else:
        raise BulkInputError(f"send_many: timestamps has dtype {array.dtype}; use int64 ms "
                             "since the epoch or datetime64", "timestamps")
    negative = array < 0
    if negative.any():
        bad = int(np.argmax(negative))
        raise BulkInputError(f"send_many: timestamps[{bad}] = {int(array[bad])} is negative",
                             "timestamps", bad)
    return np.ascontiguousarray(array, dtype=np.int64), 0


def read_partitions(partitions: Any, count: int) -> Optional[np.ndarray]:
    """An int64 array of explicit partitions (range-checked natively), or None."""
    if partitions is None:
        return None
    if isinstance(partitions, (int, np.integer)) and not isinstance(partitions, bool):
        return np.full(count, int(partitions), dtype=np.int64)
    array = np.asarray(partitions)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise BulkInputError(f"send_many: partitions must be one int or a 1-D integer "
                             f"array, not {array.dtype} of {array.ndim} dimension(s)",
                             "partitions")
    if array.shape[0] != count:
        raise BulkInputError(f"send_many: {array.shape[0]} partitions for {count} values",
                             "partitions")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        bad = int(np.argmax(array > np.iinfo(np.int64).max))
        raise BulkInputError(f"send_many: partitions[{bad}] is out of range", "partitions",
                             bad)
    return np.ascontiguousarray(array, dtype=np.int64)


def _headers_bytes(headers: Optional[List[Any]]) -> int:
    """A normalized header list's bytes beyond the record's header count byte."""
    if not headers:
        return 0
    from kprod._native.record_encoding import record_size_upper_bound
    return record_size_upper_bound(None, None, headers) - record_size_upper_bound(None, None)


def _is_header_list(headers: Sequence[Any]) -> bool:
    """One header list for all records: empty, or its items are (str, value) pairs."""
    if isinstance(headers, dict):
        return True
    if len(headers) == 0:
        return True
    first = headers[0]
    return isinstance(first, tuple) and len(first) == 2 and isinstance(first[0], str)


def read_headers(headers: Any, count: int, topic: str) -> Tuple[Any, np.ndarray, int]:
    """(None / one normalized list / a tuple of per-record lists, per-record header
    bytes or an empty array, the bytes of the one list)."""
    if headers is None:
        return None, _EMPTY, 0
    if isinstance(headers, (str, bytes)):
        raise BulkInputError("send_many: headers must be a header list or one per record",
                             "headers")
    if _is_header_list(headers):
        try:
            shared = normalize_headers(headers) or None
        except TypeError as exc:
            raise BulkInputError(f"send_many: invalid headers for topic {topic!r}: {exc}",
                                 "headers") from None
        return shared, _EMPTY, _headers_bytes(shared)
    items = tuple(headers)
    if len(items) != count:
        raise BulkInputError(f"send_many: {len(items)} header lists for {count} values",
                             "headers")
    normalized = []
    extra = np.zeros(count, dtype=np.int64)
    for i, item in enumerate(items):
        try:
            record_headers = normalize_headers(item) or None
        except TypeError as exc:
            raise BulkInputError(f"send_many: invalid headers[{i}] for topic {topic!r}: "
                                 f"{exc}", "headers", i) from None
        normalized.append(record_headers)
        extra[i] = _headers_bytes(record_headers)
    return tuple(normalized), extra, 0
