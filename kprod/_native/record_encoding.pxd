# One record's bytes in a RecordBatch v2 (Kafka's DefaultRecord): the size rules (inline
# here, so the builder's per-record path pays no call) and the headers' encoding
# (record_encoding.pyx). The batch around the records is batch_builder.pyx's job.
from cpython.sequence cimport PySequence_Fast, PySequence_Fast_GET_SIZE
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint8_t
from libc.string cimport memcpy

from kprod._native.varint cimport varint_size, write_varint, write_varlong

cdef enum:
    MAX_RECORD_OVERHEAD_SIZE = 21   # 5 length + 10 timestamp delta + 5 offset delta + 1
                                    # attributes: Java's DefaultRecord.MAX_RECORD_OVERHEAD
    MIN_RECORD_SIZE = 7             # length, attributes, timestamp and offset deltas, key
                                    # and value lengths, header count: one byte each


cdef inline Py_ssize_t fields_size(Py_ssize_t key_len, Py_ssize_t value_len,
                                   Py_ssize_t header_count,
                                   Py_ssize_t headers_size) noexcept nogil:
    """Bytes of a record's key, value and headers (lengths < 0: null; each at most
    INT32_MAX, checked by the callers): Java ``DefaultRecord.sizeOf(key, value,
    headers)``, the part of a record's size every size rule shares."""
    cdef Py_ssize_t size = (varint_size(<int32_t>key_len) + key_len) if key_len >= 0 else 1
    size += (varint_size(<int32_t>value_len) + value_len) if value_len >= 0 else 1
    return size + varint_size(<int32_t>header_count) + headers_size


cdef inline Py_ssize_t body_size(int timestamp_delta_size, int32_t offset_delta,
                                 Py_ssize_t fields) noexcept nogil:
    """Bytes of a record after its length prefix: attributes, the two deltas, then
    ``fields`` (fields_size). Above INT32_MAX the record cannot be written."""
    return 1 + timestamp_delta_size + varint_size(offset_delta) + fields


cdef inline Py_ssize_t record_size(Py_ssize_t body) noexcept nogil:
    """Bytes of a whole record: its length prefix and a body of at most INT32_MAX."""
    return varint_size(<int32_t>body) + body


cdef inline uint8_t* write_field(uint8_t* p, const char* data, Py_ssize_t n) noexcept nogil:
    """A length-prefixed key or value (n < 0: null, the varint -1)."""
    if n < 0:
        p[0] = 1
        return p + 1
    p = write_varint(p, <int32_t>n)
    if n > 0:                       # memcpy from NULL is undefined even for 0 bytes
        memcpy(p, data, <size_t>n)
    return p + n


cdef inline uint8_t* write_record_start(uint8_t* p, Py_ssize_t body, int64_t timestamp_delta,
                                        int32_t offset_delta, const char* key,
                                        Py_ssize_t key_len, const char* value,
                                        Py_ssize_t value_len) noexcept nogil:
    """A record up to its headers: length, attributes (0), deltas, key, value. The
    caller has checked that record_size(body) bytes fit at p."""
    p = write_varint(p, <int32_t>body)
    p[0] = 0
    p += 1
    p = write_varlong(p, timestamp_delta)
    p = write_varint(p, offset_delta)
    p = write_field(p, key, key_len)
    return write_field(p, value, value_len)


# The encoded size of ``count`` headers after the count (seq: a list or tuple of
# (str | bytes, bytes-like | None)); ValueError / TypeError for bad headers.
cdef Py_ssize_t headers_size(object seq, Py_ssize_t count) except -1
# Writes the count's headers at p, every write checked against end (the sizes came
# from headers_size: a mismatch means a header changed meanwhile).
cdef uint8_t* write_headers(object seq, Py_ssize_t count, uint8_t* p,
                            const uint8_t* end) except NULL


cdef inline object headers_sequence(object headers, Py_ssize_t* count, Py_ssize_t* size):
    """``headers`` (None or a sequence) as a list or tuple (None for none), with its
    count and headers_size. Inline: most records have none."""
    cdef object seq
    count[0] = 0
    size[0] = 0
    if headers is None:
        return None
    if type(headers) is list or type(headers) is tuple:
        seq = headers
    else:
        seq = PySequence_Fast(headers, "headers must be a sequence of (str, bytes|None)")
    count[0] = PySequence_Fast_GET_SIZE(seq)
    if count[0] > INT32_MAX:
        raise ValueError("too many headers")
    if count[0]:
        size[0] = headers_size(seq, count[0])
    return seq
