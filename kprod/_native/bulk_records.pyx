# cython: language_level=3
"""The per-record work of a ``send_many`` call (kprod/bulk.py) outside its append loop
(columns.pyx): before anything is queued, every record's size checks and fixed
partition (check_records, without the GIL); after the call completes, every record's
offset and timestamp from its batch's outcome (resolve_records). Keys and values are
column_reader Columns read in place; key partitions are partition.pxd's
key_partition, as send() computes them.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t

from kprod._native.column_reader cimport Column, ColumnView, column_item, column_length
from kprod._native.murmur2 cimport murmur2_span
from kprod._native.partition cimport key_partition
from kprod._native.batch_format cimport HEADER_SIZE
from kprod._native.record_encoding cimport MAX_RECORD_OVERHEAD_SIZE, fields_size

# ------------------------------------------------------------------ checks

cdef inline Py_ssize_t _record_bound(Py_ssize_t key_length, Py_ssize_t value_length,
                                     int64_t header_extra) noexcept nogil:
    # Java AbstractRecords.estimateSizeInBytesUpperBound, as record_size_upper_bound
    # (record_encoding.pyx) with the headers' bytes beyond the count byte.
    return (HEADER_SIZE + MAX_RECORD_OVERHEAD_SIZE + fields_size(key_length, value_length, 0, 0)
            + header_extra)


# check_records() outcomes (the first bad record's problem).
cdef enum:
    CHECK_OK_ = 0
    CHECK_TOO_LARGE_REQUEST_ = 1      # above max.request.size
    CHECK_TOO_LARGE_MEMORY_ = 2       # above buffer.memory
    CHECK_BAD_PARTITION_ = 3          # explicit partition out of range
CHECK_OK = CHECK_OK_
CHECK_TOO_LARGE_REQUEST = CHECK_TOO_LARGE_REQUEST_
CHECK_TOO_LARGE_MEMORY = CHECK_TOO_LARGE_MEMORY_
CHECK_BAD_PARTITION = CHECK_BAD_PARTITION_


def check_records(Py_ssize_t count, Column keys not None, Column values not None,
                  const int64_t[::1] explicit, bint has_explicit,
                  const int64_t[::1] header_extra, int64_t header_extra_all, bint has_headers,
                  bint hash_keys, Py_ssize_t num_partitions, int64_t max_request_size,
                  int64_t buffer_memory, Py_ssize_t unchecked_size,
                  int32_t[::1] partitions):
    """Every record's checks and fixed partition, before anything is queued (without
    the GIL). ``partitions[i]``: the explicit partition, else the key's
    (``hash_keys``: a key and no partitioner.ignore.keys), else -1 (sticky); an empty
    ``partitions`` (allowed without explicit partitions and hash_keys: every record
    is sticky) gets nothing written. Sizes as
    send() checks them: records with headers, or with key + value above
    ``unchecked_size`` (Producer._unchecked_size), against max.request.size and
    buffer.memory (``header_extra``: the headers' bytes per record, or
    ``header_extra_all`` for all). Returns (first bad index, CHECK_*) or (-1, 0)."""
    cdef Py_ssize_t i, kl, vl
    cdef const char* key
    cdef const ColumnView* key_view = &keys.view
    cdef const ColumnView* value_view = &values.view
    cdef int64_t bound, p, extra
    cdef int kind = 0
    cdef Py_ssize_t bad = -1
    cdef bint per_record_headers = header_extra.shape[0] > 0
    cdef bint write_out = partitions.shape[0] > 0
    # Without headers, records whose key + value cannot pass unchecked_size (the columns'
    # longest items say) need no size check; then the loop reads only what it must.
    cdef bint check_sizes = has_headers or (
        key_view.max_length + value_view.max_length > unchecked_size)
    if (key_view.count < count or value_view.count < count
            or (partitions.shape[0] < count and (write_out or has_explicit or hash_keys))
            or (has_explicit and explicit.shape[0] < count)
            or (per_record_headers and header_extra.shape[0] < count)):
        raise IndexError("check_records: an input is shorter than the count")
    with nogil:
        if not (check_sizes or has_explicit or hash_keys):
            if write_out:
                for i in range(count):
                    partitions[i] = -1
        else:
            for i in range(count):
                kl = column_item(key_view, i, &key)
                if check_sizes:
                    vl = column_length(value_view, i)
                    if kl + vl > unchecked_size or has_headers:
                        extra = header_extra[i] if per_record_headers else header_extra_all
                        bound = _record_bound(kl, vl, extra)
                        if bound > max_request_size:
                            bad, kind = i, CHECK_TOO_LARGE_REQUEST_
                            break
                        if bound > buffer_memory:
                            bad, kind = i, CHECK_TOO_LARGE_MEMORY_
                            break
                if has_explicit:
                    p = explicit[i]
                    if p < 0 or p >= num_partitions:
                        bad, kind = i, CHECK_BAD_PARTITION_
                        break
                    partitions[i] = <int32_t>p
                elif hash_keys and kl >= 0:
                    partitions[i] = <int32_t>key_partition(
                        murmur2_span(<const uint8_t*>key, kl), num_partitions)
                elif write_out:
                    partitions[i] = -1
    return bad, kind


def record_bound(Py_ssize_t key_length, Py_ssize_t value_length, int64_t header_extra):
    """The record's record_size_upper_bound (record_encoding.pyx) from its lengths (-1: null)
    and its headers' bytes beyond the header count byte."""
    return _record_bound(key_length, value_length, header_extra)


# ------------------------------------------------------------------ outcomes

def resolve_records(Py_ssize_t count, const int32_t[::1] segment,
                    const int32_t[::1] delta, const int64_t[::1] base_offset,
                    const int64_t[::1] append_time, const uint8_t[::1] failed,
                    const int64_t[::1] record_timestamps, int64_t timestamp,
                    int64_t[::1] offsets, int64_t[::1] timestamps):
    """A finished call's per-record outcome in one pass, without the GIL (BulkFuture):
    record i went to segment ``segment[i]`` at ``delta[i]`` (records from
    ``len(segment)`` on were never queued: they take the last slot of the per-segment
    arrays, "never queued"). ``offsets[i]``: the segment's base offset + delta, or -1
    (failed, or no base offset); ``timestamps[i]``: the broker's LogAppendTime if the
    segment has one, else the create time (``record_timestamps[i]``, or ``timestamp``
    for all). Returns the number of failed records."""
    cdef Py_ssize_t i, queued = segment.shape[0]
    cdef Py_ssize_t nseg = base_offset.shape[0] - 1
    cdef Py_ssize_t failures = 0
    cdef int32_t s
    cdef int64_t base
    cdef bint per_record = record_timestamps.shape[0] > 0
    if (nseg < 0 or append_time.shape[0] != nseg + 1 or failed.shape[0] != nseg + 1
            or queued > count or delta.shape[0] < queued or offsets.shape[0] < count
            or timestamps.shape[0] < count
            or (per_record and record_timestamps.shape[0] < count)):
        raise IndexError("resolve_records: an input is shorter than the count")
    with nogil:
        for i in range(count):
            s = segment[i] if i < queued else -1
            if s < 0 or s >= nseg:
                s = <int32_t>nseg
            if failed[s]:
                failures += 1
                offsets[i] = -1
            else:
                base = base_offset[s]
                offsets[i] = base + delta[i] if base >= 0 else -1
            if append_time[s] >= 0:
                timestamps[i] = append_time[s]
            else:
                timestamps[i] = record_timestamps[i] if per_record else timestamp
    return failures
