# cython: language_level=3
"""One record's encoding in a RecordBatch v2 (Kafka's ``DefaultRecord``): the
headers (zig-zag varint lengths, UTF-8 keys, null values as -1) and
``record_size_upper_bound``, the size rule the producer checks a record against
before it has a batch. The size arithmetic and the writes of a record's fixed
fields are inline in record_encoding.pxd (the builder's per-record path);
batch_builder.pyx writes the batch around the records.

GIL: held (headers are Python objects).
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.sequence cimport PySequence_Fast_GET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport INT32_MAX, int32_t, uint8_t
from libc.string cimport memcpy

from kprod._native.batch_format cimport HEADER_SIZE
from kprod._native.byteorder cimport kprod_span
from kprod._native.varint cimport varint_size, write_varint

__all__ = ["record_size_upper_bound", "RECORD_BATCH_OVERHEAD", "MAX_RECORD_OVERHEAD"]

RECORD_BATCH_OVERHEAD = HEADER_SIZE
MAX_RECORD_OVERHEAD = MAX_RECORD_OVERHEAD_SIZE


cdef inline const char* _header_key(object k, Py_ssize_t* n) except NULL:
    if isinstance(k, str):
        return PyUnicode_AsUTF8AndSize(k, n)
    if isinstance(k, bytes):
        n[0] = PyBytes_GET_SIZE(k)
        return PyBytes_AS_STRING(k)
    if k is None:
        raise TypeError("header key must not be None")
    raise TypeError(f"header key must be str, not {type(k).__name__}")


cdef inline object _header_item(object h, Py_ssize_t i):
    if type(h) is tuple and len(<tuple>h) == 2:
        return (<tuple>h)[i]
    hk, hv = h
    return hk if i == 0 else hv


cdef Py_ssize_t headers_size(object seq, Py_ssize_t n) except -1:
    cdef Py_ssize_t i, kl, size = 0
    cdef Py_buffer vb
    cdef object h, v
    for i in range(n):
        h = <object>PySequence_Fast_GET_ITEM(seq, i)
        _header_key(_header_item(h, 0), &kl)
        if kl > INT32_MAX:
            raise ValueError("header key too long")
        size += varint_size(<int32_t>kl) + kl
        v = _header_item(h, 1)
        if v is None:
            size += 1
        elif type(v) is bytes:
            kl = PyBytes_GET_SIZE(v)
            if kl > INT32_MAX:
                raise ValueError("header value too long")
            size += varint_size(<int32_t>kl) + kl
        else:
            PyObject_GetBuffer(v, &vb, PyBUF_SIMPLE)
            kl = vb.len
            PyBuffer_Release(&vb)
            if kl > INT32_MAX:
                raise ValueError("header value too long")
            size += varint_size(<int32_t>kl) + kl
        if size > INT32_MAX:
            raise ValueError("headers too large")
    return size


cdef uint8_t* write_headers(object seq, Py_ssize_t n, uint8_t* p,
                            const uint8_t* end) except NULL:
    cdef Py_ssize_t i, kl, vl
    cdef const char* kp
    cdef const char* vp
    cdef Py_buffer vb
    cdef bint held
    cdef object h, v
    for i in range(n):
        h = <object>PySequence_Fast_GET_ITEM(seq, i)
        kp = _header_key(_header_item(h, 0), &kl)
        v = _header_item(h, 1)
        held = False
        if v is None:
            vl = -1
            vp = NULL
        elif type(v) is bytes:
            vl = PyBytes_GET_SIZE(v)
            vp = PyBytes_AS_STRING(v)
        else:
            PyObject_GetBuffer(v, &vb, PyBUF_SIMPLE)
            held = True
            vl = vb.len
            vp = <const char*>vb.buf
        try:
            if kl > INT32_MAX or vl > INT32_MAX or kprod_span(p, end) < (
                    varint_size(<int32_t>kl) + kl
                    + (varint_size(<int32_t>vl) + vl if vl >= 0 else 1)):
                raise RuntimeError("headers changed while the record was written")
            p = write_varint(p, <int32_t>kl)
            memcpy(p, kp, <size_t>kl)
            p += kl
            p = write_field(p, vp, vl)
        finally:
            if held:
                PyBuffer_Release(&vb)
    return p


def record_size_upper_bound(key, value, headers=None):
    """record_size_upper_bound(key, value, headers=None) -> int

    Upper bound of a batch holding just this record: 61 + 21 + size of key,
    value and headers (Java's AbstractRecords.estimateSizeInBytesUpperBound).
    Used for max.request.size / buffer.memory checks and as the minimum
    buffer size for a new batch.
    """
    cdef Py_ssize_t lengths[2]
    cdef Py_ssize_t i, n, hcount, hsize
    cdef Py_buffer b
    for i, obj in enumerate((key, value)):
        if obj is None:
            n = -1
        elif type(obj) is bytes:
            n = PyBytes_GET_SIZE(obj)
        else:
            PyObject_GetBuffer(obj, &b, PyBUF_SIMPLE)
            n = b.len
            PyBuffer_Release(&b)
        if n > INT32_MAX:
            raise ValueError("key or value larger than 2**31-1 bytes")
        lengths[i] = n
    headers_sequence(headers, &hcount, &hsize)
    return HEADER_SIZE + MAX_RECORD_OVERHEAD_SIZE + fields_size(lengths[0], lengths[1],
                                                                 hcount, hsize)
