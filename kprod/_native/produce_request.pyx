# cython: language_level=3
"""Native ProduceRequest encoder, versions 3 to 13 (the decoder of the answers is
produce_response.pyx).

Same wire layout as the declarative schema in
``kprod/_internals/protocol/messages/produce.py`` (Kafka's ProduceRequest.json):

- v3-v8: request header v1, int16-length strings, int32 array counts and byte
  lengths.
- v9+ (KIP-482, flexible): request header v2, compact strings / arrays / bytes
  (unsigned varint holding length + 1, 0 = null) and a tagged-field section after
  every struct. The request header's client_id keeps the int16 form even in v2.
- v13 (KIP-516): topics are named by their 16-byte id instead of their name.

The header and the topic/partition framing go into one scratch buffer; the request
comes back as a list of chunks for ``socket.sendmsg`` where the framing bytes
alternate with the caller's record-batch objects themselves (never copied), so one
gathered write sends the whole request.

GIL: held throughout. Every step touches Python objects (topic names, record
objects) and the framing is small (tens to hundreds of bytes), so releasing it
would cost more than it could give.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport (
    PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE,
)
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int16_t, int32_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from kprod._native.byteorder cimport kprod_span, kprod_store_be16, kprod_store_be32
from kprod._native.varint cimport write_uvarint32
from kprod._native.produce_versions cimport *

import uuid as _uuid


__all__ = ["encode_produce_request", "PRODUCE_KEY", "MIN_VERSION", "MAX_VERSION",
           "FIRST_FLEXIBLE_VERSION"]

PRODUCE_KEY = 0
MIN_VERSION = PRODUCE_MIN_VERSION
MAX_VERSION = PRODUCE_MAX_VERSION
FIRST_FLEXIBLE_VERSION = FLEXIBLE_FROM
cdef enum:
    MAX_STRING = 0x7FFF
    STACK_BYTES = 1024

cdef object _UUID = _uuid.UUID


# Topic ids repeat in every request of a producer; building a uuid.UUID's .bytes
# costs more than the rest of a topic's framing, so the ones seen are kept
# (bounded: cleared when full).
cdef enum:
    ID_CACHE_SIZE = 4096
cdef dict _bytes_by_uuid = {}


cdef bytes topic_id_bytes(object topic_id):
    # Keyed by the UUID's int (a slot): hashing the UUID itself is a Python call.
    cdef object key = topic_id.int
    cdef object found = _bytes_by_uuid.get(key)
    if found is None:
        found = topic_id.bytes
        if type(found) is not bytes:
            raise TypeError(f"ProduceRequest.topic_data[].topic_id: {topic_id!r}.bytes is "
                            f"not bytes")
        if len(_bytes_by_uuid) >= ID_CACHE_SIZE:
            _bytes_by_uuid.clear()
        _bytes_by_uuid[key] = found
    return <bytes>found



cdef struct Scratch:
    uint8_t* data       # the stack buffer or a heap block
    Py_ssize_t length
    Py_ssize_t capacity
    bint heap


cdef int reserve(Scratch* s, Py_ssize_t extra) except -1:
    """Room for ``extra`` more bytes (the framing only: a few bytes a partition)."""
    cdef Py_ssize_t want = s.length + extra
    cdef Py_ssize_t capacity
    cdef uint8_t* grown
    if want <= s.capacity:
        return 0
    capacity = s.capacity * 2
    if capacity < want:
        capacity = want
    grown = <uint8_t*>malloc(capacity)
    if grown == NULL:
        raise MemoryError()
    memcpy(grown, s.data, s.length)
    if s.heap:
        free(s.data)
    s.data = grown
    s.capacity = capacity
    s.heap = True
    return 0


cdef inline void put16(Scratch* s, int16_t v) noexcept:
    kprod_store_be16(s.data + s.length, <uint16_t>v)
    s.length += 2


cdef inline void put32(Scratch* s, int32_t v) noexcept:
    kprod_store_be32(s.data + s.length, <uint32_t>v)
    s.length += 4


cdef inline void put_uvarint(Scratch* s, uint32_t v) noexcept:
    s.length = kprod_span(s.data, write_uvarint32(s.data + s.length, v))


cdef int put_string(Scratch* s, object value, bint compact, bint nullable,
                    str field) except -1:
    """int16-length or compact (KIP-482) string; None only if nullable."""
    cdef const char* utf8
    cdef Py_ssize_t n
    if value is None:
        if not nullable:
            raise TypeError(f"ProduceRequest.{field}: None is not allowed")
        reserve(s, 2)
        if compact:
            s.data[s.length] = 0
            s.length += 1
        else:
            put16(s, -1)
        return 0
    if type(value) is not str:
        raise TypeError(f"ProduceRequest.{field}: expected str, got {type(value).__name__}")
    utf8 = PyUnicode_AsUTF8AndSize(value, &n)
    if n > MAX_STRING:   # Java refuses these too
        raise ValueError(f"ProduceRequest.{field}: {n} bytes exceed the maximum string "
                         f"length {MAX_STRING}")
    reserve(s, n + 5)
    if compact:
        put_uvarint(s, <uint32_t>(n + 1))
    else:
        put16(s, <int16_t>n)
    memcpy(s.data + s.length, utf8, n)
    s.length += n
    return 0


cdef int32_t as_int32(object value, str field) except? -1:
    cdef long long v
    try:
        v = value
    except OverflowError:
        v = -0x80000001
    if v < -0x80000000 or v > 0x7FFFFFFF:
        raise ValueError(f"ProduceRequest.{field}: {value} is outside the int32 range")
    return <int32_t>v


cdef int16_t as_int16(object value, str field) except? -1:
    cdef long long v
    try:
        v = value
    except OverflowError:
        v = -0x8001
    if v < -0x8000 or v > 0x7FFF:
        raise ValueError(f"ProduceRequest.{field}: {value} is outside the int16 range")
    return <int16_t>v


cdef Py_ssize_t buffer_length(object batch, str field) except -1:
    """Byte length of one bytes-like record batch (must be C-contiguous)."""
    cdef Py_buffer view
    if type(batch) is bytes:
        return PyBytes_GET_SIZE(batch)
    try:
        PyObject_GetBuffer(batch, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError) as exc:
        raise TypeError(f"ProduceRequest.{field}: records must be a contiguous bytes-like "
                        f"object ({exc})") from None
    n = view.len
    PyBuffer_Release(&view)
    return n


cdef inline object segment(Scratch* s, Py_ssize_t start):
    return PyBytes_FromStringAndSize(<char*>s.data + start, s.length - start)


def encode_produce_request(int version, correlation_id, client_id, transactional_id,
                           acks, timeout_ms, topics):
    """Encode a ProduceRequest frame (size prefix, header, body) as sendmsg chunks.

    ``topics``: a sequence of ``(topic, partitions)``; ``topic`` is the name
    (str) for v3-v12 and the topic id (16 bytes or uuid.UUID) for v13;
    ``partitions`` a sequence of ``(partition_index, records)`` where
    ``records`` is one bytes-like RecordBatch (or a list/tuple of them back to
    back, or None for a null records field).

    Returns ``(chunks, size)``: ``chunks`` the framing as bytes objects
    interleaved with the record objects themselves (unchanged, never copied);
    ``size`` the value written into the 4-byte size prefix, i.e. the frame is
    ``size + 4`` bytes (as ``EncodedRequest.size`` of the Python codec).
    """
    if version < PRODUCE_MIN_VERSION or version > PRODUCE_MAX_VERSION:
        raise ValueError(f"ProduceRequest has no version {version} (valid: "
                         f"{MIN_VERSION}-{MAX_VERSION})")
    cdef bint flexible = version >= FLEXIBLE_FROM
    cdef bint topic_ids = version >= TOPIC_IDS_FROM
    cdef uint8_t stack[STACK_BYTES]
    cdef Scratch s
    s.data = stack
    s.length = 0
    s.capacity = STACK_BYTES
    s.heap = False
    cdef list chunks = [None]          # chunks[0]: the first segment, filled at the end
    cdef Py_ssize_t first_end = -1     # end of the first segment in the scratch
    cdef Py_ssize_t start = 0          # start of the current segment
    cdef Py_ssize_t records_bytes = 0  # bytes of all record objects
    cdef Py_ssize_t n, size, topic_count, partition_count, i, j, k, parts_count
    cdef int32_t correlation = as_int32(correlation_id, "correlation_id")
    cdef int16_t acks16 = as_int16(acks, "acks")
    cdef int32_t timeout = as_int32(timeout_ms, "timeout_ms")
    cdef object topic_entry, topic, partitions, partition_entry, records, part
    cdef tuple topic_list, partition_tuple, parts_tuple
    cdef const char* raw
    cdef bytes id_bytes
    try:
        # Tuples: the counts written stay true even if a caller's list changed
        # while Python code ran (a buffer export, a UUID property).
        topic_list = topics if type(topics) is tuple else tuple(topics)
        topic_count = len(topic_list)
        reserve(&s, 16)
        s.length = 4                   # size prefix, written last
        put16(&s, PRODUCE_KEY)
        put16(&s, <int16_t>version)
        put32(&s, correlation)
        put_string(&s, client_id, False, True, "client_id")   # always int16 form
        if flexible:
            reserve(&s, 1)
            s.data[s.length] = 0       # header v2: no tagged fields
            s.length += 1
        put_string(&s, transactional_id, flexible, True, "transactional_id")
        reserve(&s, 16)
        put16(&s, acks16)
        put32(&s, timeout)
        if flexible:
            put_uvarint(&s, <uint32_t>(topic_count + 1))
        else:
            put32(&s, <int32_t>topic_count)
        for i in range(topic_count):
            topic_entry = topic_list[i]
            topic, partitions = topic_entry
            if topic_ids:
                if type(topic) is bytes:
                    id_bytes = <bytes>topic
                elif isinstance(topic, _UUID):
                    id_bytes = topic_id_bytes(topic)
                else:
                    raise TypeError(f"ProduceRequest.topic_data[{i}].topic_id: expected a "
                                    f"uuid.UUID or 16 bytes, got {type(topic).__name__}")
                if PyBytes_GET_SIZE(id_bytes) != 16:
                    raise ValueError(f"ProduceRequest.topic_data[{i}].topic_id: "
                                     f"{PyBytes_GET_SIZE(id_bytes)} bytes, expected 16")
                reserve(&s, 16)
                memcpy(s.data + s.length, PyBytes_AS_STRING(id_bytes), 16)
                s.length += 16
            else:
                put_string(&s, topic, flexible, False, "topic_data[].name")
            partition_tuple = partitions if type(partitions) is tuple else tuple(partitions)
            partition_count = len(partition_tuple)
            reserve(&s, 5)
            if flexible:
                put_uvarint(&s, <uint32_t>(partition_count + 1))
            else:
                put32(&s, <int32_t>partition_count)
            for j in range(partition_count):
                partition_entry = partition_tuple[j]
                index, records = partition_entry
                reserve(&s, 16)
                put32(&s, as_int32(index, "topic_data[].partition_data[].index"))
                if records is None:     # nullable: -1 / compact 0
                    if flexible:
                        s.data[s.length] = 0
                        s.length += 1
                    else:
                        put32(&s, -1)
                else:
                    if type(records) is list or type(records) is tuple:
                        parts_tuple = tuple(records)
                        n = 0
                        for part in parts_tuple:
                            n += buffer_length(part, "topic_data[].partition_data[].records")
                        parts_count = len(parts_tuple)
                    else:
                        n = buffer_length(records, "topic_data[].partition_data[].records")
                        parts_count = -1
                    if n > 0x7FFFFFFE:
                        raise ValueError(f"ProduceRequest.topic_data[{i}].partition_data[{j}]"
                                         f".records: {n} bytes exceed the int32 limit")
                    if flexible:
                        put_uvarint(&s, <uint32_t>(n + 1))
                    else:
                        put32(&s, <int32_t>n)
                    if n:
                        # Close the framing segment; the batch goes in as it is.
                        if first_end < 0:
                            first_end = s.length
                        else:
                            chunks.append(segment(&s, start))
                        if parts_count < 0:
                            chunks.append(records)
                        else:
                            for k in range(parts_count):
                                part = parts_tuple[k]
                                if buffer_length(part, "records"):
                                    chunks.append(part)
                        records_bytes += n
                        start = s.length
                if flexible:
                    s.data[s.length] = 0   # partition: no tagged fields
                    s.length += 1
            if flexible:
                reserve(&s, 1)
                s.data[s.length] = 0       # topic: no tagged fields
                s.length += 1
        if flexible:
            reserve(&s, 1)
            s.data[s.length] = 0           # request: no tagged fields
            s.length += 1
        size = s.length - 4 + records_bytes
        if size > 0x7FFFFFFF:
            raise ValueError(f"ProduceRequest: encoded size {size} exceeds the protocol's "
                             f"int32 limit")
        kprod_store_be32(s.data, <uint32_t>size)
        if first_end < 0:
            chunks[0] = segment(&s, 0)
        else:
            chunks[0] = PyBytes_FromStringAndSize(<char*>s.data, first_end)
            if s.length > start:
                chunks.append(segment(&s, start))
        return chunks, size
    finally:
        if s.heap:
            free(s.data)
