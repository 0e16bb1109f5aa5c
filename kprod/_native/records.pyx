# cython: language_level=3
"""Kafka RecordBatch v2 (magic 2) builder and reader.

Wire format as in Kafka's ``org.apache.kafka.common.record.DefaultRecordBatch``
(61-byte header, CRC-32C over attributes..end, KIP-98 producer id / epoch /
base sequence and the transactional bit) and ``DefaultRecord`` (zig-zag varint
fields, headers); compression levels per KIP-390 (see :mod:`kprod.compression`).

Builder: ``RecordBatchBuilder`` writes each record straight into a
``PooledBuffer`` (never grows it), leaving room for the header, and at
``close()`` compresses the records region once (the codec libraries release the
GIL), writes the header and the CRC (the ``crc32c`` package releases the GIL for
large buffers). ``restamp()`` rewrites producer id / epoch / base sequence / the
transactional bit and the CRC in place, without re-encoding or recompressing.

Reader: ``read_batches(data)`` parses concatenated batches with bounds checks
on every read through a pointer + end cursor; malformed input (bad lengths or
counts, varints longer than 5/10 bytes, CRC mismatch, undecodable compressed
data, trailing bytes) raises ``kprod.errors.CorruptRecordError`` saying what
was wrong. A partial trailing batch (as a broker may return in a fetch)
raises too, unless ``allow_partial=True``: then it is dropped silently.
Decompression is not size-capped (the CRC must match first).

GIL: compression and decompression go through kprod.compression (zlib,
cramjam snappy, lz4.frame, zstandard: each releases the GIL while it works);
CRC-32C uses the ``crc32c`` package (hardware accelerated; releases the GIL
for buffers of 32 KiB and more). Everything else runs under the GIL: the
builder is not meant to be shared between threads without a lock (as in
Java, the accumulator serialises append/close of a batch).
"""
cimport cython
from cpython.buffer cimport (
    PyBUF_READ, PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer,
)
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.ref cimport PyObject
from cpython.sequence cimport PySequence_Fast, PySequence_Fast_GET_ITEM, PySequence_Fast_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport INT32_MAX, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from kprod._native.bufferpool cimport PooledBuffer
from kprod._native.byteorder cimport (
    kprod_as_i16, kprod_as_i32, kprod_as_i64, kprod_load_be16, kprod_load_be32,
    kprod_load_be64, kprod_span, kprod_store_be16, kprod_store_be32, kprod_store_be64,
    kprod_wrap_add64, kprod_wrap_sub64,
)
from kprod._native.varint cimport (
    VARINT_OK, VARINT_OVERFLOW, read_varint, read_varlong, varint_size, varlong_size,
    write_varint, write_varlong,
)

from crc32c import crc32c as _crc32c_py

from kprod.compression import CODEC_NAMES as _CODEC_NAMES
from kprod.compression import check_level as _check_level
from kprod.compression import compress as _compress
from kprod.compression import decompress as _decompress
from kprod.errors import CorruptRecordError, IllegalStateError

__all__ = [
    "RecordBatchBuilder", "RecordBatch", "Record", "read_batches",
    "record_size_upper_bound", "RECORD_BATCH_OVERHEAD", "MAX_RECORD_OVERHEAD",
    "LOG_OVERHEAD",
]

# Header layout (DefaultRecordBatch.java).
cdef enum:
    BASE_OFFSET_OFFSET = 0
    LENGTH_OFFSET = 8
    PLE_OFFSET = 12
    MAGIC_OFFSET = 16
    CRC_OFFSET = 17
    ATTRIBUTES_OFFSET = 21
    LAST_OFFSET_DELTA_OFFSET = 23
    BASE_TIMESTAMP_OFFSET = 27
    MAX_TIMESTAMP_OFFSET = 35
    PRODUCER_ID_OFFSET = 43
    PRODUCER_EPOCH_OFFSET = 51
    BASE_SEQUENCE_OFFSET = 53
    RECORDS_COUNT_OFFSET = 57
    HEADER_SIZE = 61
    LOG_OVERHEAD_ = 12
    MAX_RECORD_OVERHEAD_ = 21   # 5 length + 10 timestamp delta + 5 offset delta + 1 attributes
    MIN_RECORD_SIZE = 7         # length + attrs + ts + offset + key len + value len + header count
    CODEC_MASK = 0x07
    TIMESTAMP_TYPE_MASK = 0x08
    TRANSACTIONAL_MASK = 0x10
    CONTROL_MASK = 0x20

RECORD_BATCH_OVERHEAD = HEADER_SIZE
MAX_RECORD_OVERHEAD = MAX_RECORD_OVERHEAD_
LOG_OVERHEAD = LOG_OVERHEAD_


# ------------------------------------------------------------------ helpers

# append() returns offset deltas; ints above 256 would be a fresh allocation
# per record, so keep a lazily grown table of them (at most ~1.8 MB).
cdef enum:
    _INT_CACHE_SIZE = 65536
cdef list _int_cache = []


cdef inline object _small_int(int32_t v):
    cdef Py_ssize_t n = len(_int_cache)
    if v >= n:
        _int_cache.extend(range(n, min(max(2 * n, v + 1, 512), <Py_ssize_t>_INT_CACHE_SIZE)))
    return _int_cache[v]


cdef inline uint32_t _crc32c(const char* p, Py_ssize_t n) except? 0xffffffff:
    # The crc32c package is hardware accelerated and releases the GIL itself
    # for large buffers; one call per batch.
    cdef object view = PyMemoryView_FromMemory(<char*>p, n, PyBUF_READ)
    try:
        return <uint32_t>_crc32c_py(view)
    finally:
        view.release()


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


cdef Py_ssize_t _headers_size(object seq, Py_ssize_t n) except -1:
    """Encoded size of the headers after the count (seq is a list or tuple)."""
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


cdef uint8_t* _write_headers(object seq, Py_ssize_t n, uint8_t* p,
                             const uint8_t* end) except NULL:
    """Write headers at p; every write is checked against end (the sizes
    were computed by _headers_size; a mismatch means a header changed)."""
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
            p = write_varint(p, <int32_t>vl)
            if vl > 0:
                memcpy(p, vp, <size_t>vl)
                p += vl
        finally:
            if held:
                PyBuffer_Release(&vb)
    return p


cdef inline Py_ssize_t _fields_size(Py_ssize_t key_len, Py_ssize_t value_len,
                                   Py_ssize_t header_count, Py_ssize_t headers_size) noexcept nogil:
    """Bytes of a record's key, value and headers (lengths < 0: null; each at most
    INT32_MAX, checked by the callers): Java ``DefaultRecord.sizeOf(key, value,
    headers)``, the part of a record's size every size rule shares."""
    cdef Py_ssize_t size = (varint_size(<int32_t>key_len) + key_len) if key_len >= 0 else 1
    size += (varint_size(<int32_t>value_len) + value_len) if value_len >= 0 else 1
    return size + varint_size(<int32_t>header_count) + headers_size


cdef int _check_producer_state(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                               bint transactional) except -1:
    # MemoryRecordsBuilder.validateProducerState (Java).
    if transactional and producer_id == -1:
        raise ValueError("cannot write transactional records without a producer id")
    if producer_id != -1:
        if epoch == -1:
            raise ValueError("a producer id requires a producer epoch (not -1)")
        if base_sequence < 0:
            raise ValueError("a producer id requires a base sequence >= 0")
    return 0


# ------------------------------------------------------------------ builder

cdef class RecordBatchBuilder:
    """Builds one RecordBatch v2 directly in a ``PooledBuffer``.

    ``RecordBatchBuilder(buffer, *, compression=0, compression_level=None,
    write_limit=None, producer_id=-1, producer_epoch=-1, base_sequence=-1,
    transactional=False, estimated_compression_ratio=1.0)``

    ``write_limit`` is ``batch.size`` (default: the buffer capacity). The
    builder never grows the buffer and always admits the first record if it
    fits the buffer (the caller allocates ``max(batch.size,
    record_size_upper_bound(...))``). It holds a reference to the buffer but
    keeps a view (export) of it, so the memory cannot go back to the pool
    while the builder is alive, even if the owner calls ``buffer.release()``;
    ``release_buffer()`` drops that view and requests the release (the
    memory returns once the last memoryview from close() is gone too).
    """

    def __cinit__(self, PooledBuffer buffer not None, *, int compression=0,
                  compression_level=None, write_limit=None,
                  int64_t producer_id=-1, int16_t producer_epoch=-1,
                  int32_t base_sequence=-1, bint transactional=False,
                  double estimated_compression_ratio=1.0):
        if buffer.capacity < HEADER_SIZE:
            raise ValueError(f"buffer capacity {buffer.capacity} < batch header size {HEADER_SIZE}")
        if compression < 0 or compression > 4:
            raise ValueError(f"unknown compression codec {compression}")
        self._level = _check_level(compression, compression_level)
        if transactional and producer_id == -1:
            raise ValueError("cannot write transactional records without a producer id")
        if not estimated_compression_ratio > 0.0:
            raise ValueError("estimated_compression_ratio must be > 0")
        PyObject_GetBuffer(buffer, &self._pybuf, PyBUF_WRITABLE)   # raises if stale
        self._held = True
        self._buffer = buffer
        self._data = <char*>self._pybuf.buf
        self._capacity = self._pybuf.len
        self._pos = HEADER_SIZE
        if write_limit is None:
            self._write_limit = self._capacity
        else:
            self._write_limit = write_limit
        self._ratio = estimated_compression_ratio
        self._count = 0
        self._max_record = 0
        self._base_ts = 0
        self._max_ts = 0
        self._producer_id = producer_id
        self._producer_epoch = producer_epoch
        self._base_sequence = base_sequence
        self._transactional = transactional
        self._codec = compression
        self._closed = False
        self._out_owner = None
        self._out = NULL
        self._out_len = 0

    def __dealloc__(self):
        if self._held:
            self._held = False
            PyBuffer_Release(&self._pybuf)

    def release_buffer(self):
        """Drop the builder's view of the buffer and request its release.

        The builder is unusable afterwards (only sizes/properties remain);
        views returned by close() stay valid until they are released.
        """
        self._data = NULL
        if self._out_owner is self._buffer:
            self._out = NULL
        if self._held:
            self._held = False
            PyBuffer_Release(&self._pybuf)
        self._buffer.release()

    cdef int _check_usable(self) except -1:
        if self._data == NULL:
            raise IllegalStateError("the batch buffer was released")
        return 0

    # -------------------------------------------------------------- append

    cdef int32_t append_raw(self, int64_t timestamp_ms, const char* key,
                            Py_ssize_t key_len, const char* value,
                            Py_ssize_t value_len, object headers) except -2:
        cdef int32_t offset_delta = self._count
        cdef int64_t ts_delta = 0
        cdef Py_ssize_t body, total, hcount = 0, hsize = 0
        cdef object seq = None
        cdef uint8_t* p
        cdef uint8_t* rec_end

        if self._closed or self._data == NULL:
            self._check_usable()
            raise IllegalStateError("append to a closed record batch")
        if key_len > INT32_MAX or value_len > INT32_MAX:
            raise ValueError("key or value larger than 2**31-1 bytes")
        if offset_delta != 0:
            ts_delta = kprod_wrap_sub64(timestamp_ms, self._base_ts)
        if headers is not None:
            if type(headers) is list or type(headers) is tuple:
                seq = headers
            else:
                seq = PySequence_Fast(headers, "headers must be a sequence of (str, bytes|None)")
            hcount = PySequence_Fast_GET_SIZE(seq)
            if hcount > INT32_MAX:
                raise ValueError("too many headers")
            if hcount:
                hsize = _headers_size(seq, hcount)
        # attributes, timestamp delta, offset delta, then key, value and headers
        body = (1 + varlong_size(ts_delta) + varint_size(offset_delta)
                + _fields_size(key_len, value_len, hcount, hsize))
        if body > INT32_MAX:
            raise ValueError("record larger than 2**31-1 bytes")
        total = varint_size(<int32_t>body) + body

        if offset_delta != 0:
            # MemoryRecordsBuilder.hasRoomFor, plus the physical capacity.
            if (offset_delta == INT32_MAX
                    or self._estimated() + total > self._write_limit
                    or self._estimated() >= self._write_limit
                    or total > self._capacity - self._pos
                    or self._pos + total - LOG_OVERHEAD_ > INT32_MAX):
                return -1
        elif total > self._capacity - self._pos or self._pos + total - LOG_OVERHEAD_ > INT32_MAX:
            raise ValueError(
                f"record of {total} bytes does not fit in an empty batch buffer of "
                f"capacity {self._capacity} (allocate record_size_upper_bound())")

        p = <uint8_t*>self._data + self._pos
        rec_end = p + total
        p = write_varint(p, <int32_t>body)
        p[0] = 0                        # record attributes
        p += 1
        p = write_varlong(p, ts_delta)
        p = write_varint(p, offset_delta)
        if key_len >= 0:
            p = write_varint(p, <int32_t>key_len)
            memcpy(p, key, <size_t>key_len)
            p += key_len
        else:
            p[0] = 1                    # varint -1
            p += 1
        if value_len >= 0:
            p = write_varint(p, <int32_t>value_len)
            memcpy(p, value, <size_t>value_len)
            p += value_len
        else:
            p[0] = 1
            p += 1
        if hcount == 0:
            p[0] = 0
            p += 1
        else:
            p = write_varint(p, <int32_t>hcount)
            p = _write_headers(seq, hcount, p, rec_end)
        if p != rec_end:
            raise RuntimeError("headers changed while the record was written")

        self._pos += total
        if total > self._max_record:
            self._max_record = total
        if offset_delta == 0:
            self._base_ts = timestamp_ms
            self._max_ts = timestamp_ms
        elif timestamp_ms > self._max_ts:
            self._max_ts = timestamp_ms
        self._count = offset_delta + 1
        return offset_delta

    cdef int32_t append_object(self, int64_t timestamp_ms, object key,
                               object value, object headers) except -2:
        cdef const char* kp = NULL
        cdef const char* vp = NULL
        cdef Py_ssize_t kl = -1, vl = -1
        cdef Py_buffer kb, vb
        cdef bint kheld = False, vheld = False
        if type(key) is bytes:
            kp = PyBytes_AS_STRING(key)
            kl = PyBytes_GET_SIZE(key)
        elif key is not None:
            PyObject_GetBuffer(key, &kb, PyBUF_SIMPLE)
            kheld = True
            kp = <const char*>kb.buf
            kl = kb.len
        if type(value) is bytes:
            vp = PyBytes_AS_STRING(value)
            vl = PyBytes_GET_SIZE(value)
        elif value is not None:
            try:
                PyObject_GetBuffer(value, &vb, PyBUF_SIMPLE)
            except BaseException:
                if kheld:
                    PyBuffer_Release(&kb)
                raise
            vheld = True
            vp = <const char*>vb.buf
            vl = vb.len
        if not kheld and not vheld:
            return self.append_raw(timestamp_ms, kp, kl, vp, vl, headers)
        try:
            return self.append_raw(timestamp_ms, kp, kl, vp, vl, headers)
        finally:
            if kheld:
                PyBuffer_Release(&kb)
            if vheld:
                PyBuffer_Release(&vb)

    def append_many(self, int64_t timestamp_ms, values, keys=None, Py_ssize_t start=0):
        """append_many(timestamp_ms, values, keys=None, start=0) -> int

        Bulk append: records ``values[start:]`` (with ``keys[i]`` if given, else
        null keys), all with ``timestamp_ms``, until the batch is full. Returns
        the index after the last record appended (``start`` if none fit). One
        call instead of one per record: the loop runs in C.
        """
        cdef Py_ssize_t i = start, n = len(values)
        cdef object key = None
        if keys is not None and len(keys) != n:
            raise ValueError(f"append_many: {len(keys)} keys for {n} values")
        while i < n:
            if keys is not None:
                key = keys[i]
            if self.append_object(timestamp_ms, key, values[i], None) < 0:
                break
            i += 1
        return i

    @cython.binding(False)      # a plain method descriptor: CPython's fast call path
    def append(self, int64_t timestamp_ms, key, value, headers=None):
        """append(timestamp_ms, key, value, headers=None) -> int

        Write one record; return its offset delta, or -1 when it does not fit
        (the batch is full). ``key``/``value``: None or bytes-like; headers:
        None or a sequence of ``(str, bytes-like | None)``.
        """
        cdef int32_t delta = self.append_object(timestamp_ms, key, value, headers)
        if 0 <= delta < _INT_CACHE_SIZE:
            return _small_int(delta)
        return delta

    # -------------------------------------------------------------- sizes

    cdef Py_ssize_t _estimated(self) noexcept:
        if self._closed:
            return self._out_len
        if self._codec == 0:
            return self._pos
        # MemoryRecordsBuilder.estimatedBytesWritten: ratio * 1.05 safety factor.
        return HEADER_SIZE + <Py_ssize_t>(<double>(self._pos - HEADER_SIZE) * self._ratio * 1.05)

    @property
    def estimated_size_in_bytes(self):
        """Estimated batch size (Java's estimatedBytesWritten); exact once closed."""
        return self._estimated()

    @property
    def size_in_bytes(self):
        """Bytes of the built batch once closed, else bytes written so far (uncompressed)."""
        return self._out_len if self._closed else self._pos

    @property
    def uncompressed_size_in_bytes(self):
        """Header + uncompressed records bytes."""
        return self._pos

    @property
    def num_records(self):
        return self._count

    @property
    def max_record_size(self):
        """Bytes of the largest record appended (Java's ProducerBatch.maxRecordSize)."""
        return self._max_record

    @property
    def is_full(self):
        """Java's isFull: closed, or records > 0 and estimated bytes >= write_limit."""
        return self._closed or (self._count > 0 and self._estimated() >= self._write_limit)

    @property
    def is_closed(self):
        return self._closed

    @property
    def write_limit(self):
        return self._write_limit

    @property
    def capacity(self):
        return self._capacity

    @property
    def buffer(self):
        return self._buffer

    @property
    def compression(self):
        return self._codec

    @property
    def compression_level(self):
        return self._level

    @property
    def producer_id(self):
        return self._producer_id

    @property
    def producer_epoch(self):
        return self._producer_epoch

    @property
    def base_sequence(self):
        return self._base_sequence

    @property
    def is_transactional(self):
        return self._transactional

    @property
    def base_timestamp(self):
        return self._base_ts if self._count else None

    @property
    def max_timestamp(self):
        return self._max_ts if self._count else None

    @property
    def compression_ratio(self):
        """compressed / uncompressed records bytes once closed (1.0 before)."""
        if not self._closed or self._pos == HEADER_SIZE or self._out_len == 0:
            return 1.0
        return (self._out_len - HEADER_SIZE) / <double>(self._pos - HEADER_SIZE)

    def has_room_for(self, Py_ssize_t key_len, Py_ssize_t value_len, headers=None,
                     timestamp_ms=None):
        """Whether a record with these sizes (-1 = null) would be accepted.

        Without ``timestamp_ms`` the worst case timestamp delta (10 bytes) is
        assumed. Headers as for append().
        """
        cdef int ts_size
        cdef Py_ssize_t body, total, hcount = 0, hsize = 0
        cdef object seq
        if self._closed or key_len > INT32_MAX or value_len > INT32_MAX:
            return False
        if self._count == 0:
            ts_size = 1
        elif timestamp_ms is None:
            ts_size = 10
        else:
            ts_size = varlong_size(kprod_wrap_sub64(timestamp_ms, self._base_ts))
        if headers is not None:
            seq = PySequence_Fast(headers, "headers must be a sequence")
            hcount = PySequence_Fast_GET_SIZE(seq)
            if hcount > INT32_MAX:
                return False
            if hcount:
                hsize = _headers_size(seq, hcount)
        body = 1 + ts_size + varint_size(self._count) + _fields_size(key_len, value_len,
                                                                     hcount, hsize)
        if body > INT32_MAX:
            return False
        total = varint_size(<int32_t>body) + body
        if total > self._capacity - self._pos:
            return False
        if self._count == 0:
            return True
        return (self._estimated() < self._write_limit
                and self._estimated() + total <= self._write_limit)

    # -------------------------------------------------------------- close

    cdef int _finish_header(self) except -1:
        cdef uint8_t* p = <uint8_t*>self._out
        cdef uint16_t attrs = <uint16_t>(self._codec | (TRANSACTIONAL_MASK if self._transactional else 0))
        kprod_store_be64(p + BASE_OFFSET_OFFSET, 0)
        kprod_store_be32(p + LENGTH_OFFSET, <uint32_t>(self._out_len - LOG_OVERHEAD_))
        kprod_store_be32(p + PLE_OFFSET, <uint32_t>0xffffffff)       # NO_PARTITION_LEADER_EPOCH
        p[MAGIC_OFFSET] = 2
        kprod_store_be16(p + ATTRIBUTES_OFFSET, attrs)
        kprod_store_be32(p + LAST_OFFSET_DELTA_OFFSET, <uint32_t>(self._count - 1))
        kprod_store_be64(p + BASE_TIMESTAMP_OFFSET, <uint64_t>self._base_ts)
        kprod_store_be64(p + MAX_TIMESTAMP_OFFSET, <uint64_t>self._max_ts)
        kprod_store_be64(p + PRODUCER_ID_OFFSET, <uint64_t>self._producer_id)
        kprod_store_be16(p + PRODUCER_EPOCH_OFFSET, <uint16_t>self._producer_epoch)
        kprod_store_be32(p + BASE_SEQUENCE_OFFSET, <uint32_t>self._base_sequence)
        kprod_store_be32(p + RECORDS_COUNT_OFFSET, <uint32_t>self._count)
        kprod_store_be32(p + CRC_OFFSET, _crc32c(self._out + ATTRIBUTES_OFFSET,
                                                 self._out_len - ATTRIBUTES_OFFSET))
        return 0

    cdef object _view(self):
        if self._out_owner is None:
            raise IllegalStateError("the batch is being closed by another thread")
        if self._out_owner is self._buffer:
            return memoryview(self._buffer)[:self._out_len]
        return memoryview(self._out_owner)

    def close(self):
        """close() -> memoryview

        Compress (once), write the header and CRC; return a view of the
        finished batch that keeps its memory alive. Idempotent: later calls
        return a view of the same bytes. An empty batch builds to b"" (as
        Java's MemoryRecordsBuilder). Java sends the configured codec even
        when the output is larger: so does this builder; when the compressed
        batch does not fit the pooled buffer it goes to a bytearray the
        builder owns.
        """
        cdef object raw, comp, out
        cdef Py_buffer cb
        cdef Py_ssize_t clen
        if self._closed:
            return self._view()
        self._check_usable()
        if self._count == 0:
            self._closed = True
            self._out_owner = self._buffer
            self._out = self._data
            self._out_len = 0
            return self._view()
        _check_producer_state(self._producer_id, self._producer_epoch,
                              self._base_sequence, self._transactional)
        self._check_usable()
        if self._codec == 0:
            self._out_owner = self._buffer
            self._out = self._data
            self._out_len = self._pos
        else:
            # The codec runs without the GIL: refuse appends meanwhile (the
            # accumulator should never race close() with append() anyway).
            self._closed = True
            raw = PyMemoryView_FromMemory(self._data + HEADER_SIZE, self._pos - HEADER_SIZE,
                                          PyBUF_READ)
            try:
                comp = _compress(self._codec, raw, self._level)
            except BaseException:
                self._closed = False
                raise
            finally:
                raw.release()
            PyObject_GetBuffer(comp, &cb, PyBUF_SIMPLE)
            try:
                clen = cb.len
                if clen > INT32_MAX - HEADER_SIZE:
                    self._closed = False
                    raise ValueError("compressed batch larger than 2**31 bytes")
                if clen <= self._capacity - HEADER_SIZE:
                    memcpy(self._data + HEADER_SIZE, cb.buf, <size_t>clen)
                    self._out_owner = self._buffer
                    self._out = self._data
                else:
                    out = PyByteArray_FromStringAndSize(NULL, HEADER_SIZE + clen)
                    memcpy(PyByteArray_AS_STRING(out) + HEADER_SIZE, cb.buf, <size_t>clen)
                    self._out_owner = out
                    self._out = PyByteArray_AS_STRING(out)
                self._out_len = HEADER_SIZE + clen
            finally:
                PyBuffer_Release(&cb)
        try:
            self._finish_header()
        except BaseException:
            self._out_owner = None
            self._out = NULL
            self._out_len = 0
            self._closed = False
            raise
        self._closed = True
        return self._view()

    def restamp(self, int64_t producer_id, int16_t producer_epoch, int32_t base_sequence,
                bint transactional):
        """Set producer id / epoch / base sequence / transactional bit.

        Before close() this only records the values (Java's setProducerState);
        after close() it rewrites the header in place and recomputes the CRC,
        leaving the records bytes (compressed or not) untouched.
        """
        cdef uint8_t* p
        cdef uint16_t attrs
        _check_producer_state(producer_id, producer_epoch, base_sequence, transactional)
        if self._closed and self._out_len > 0 and self._out == NULL:
            raise IllegalStateError("the batch buffer was released")
        self._producer_id = producer_id
        self._producer_epoch = producer_epoch
        self._base_sequence = base_sequence
        self._transactional = transactional
        if self._closed and self._out_len > 0:
            p = <uint8_t*>self._out
            attrs = kprod_load_be16(p + ATTRIBUTES_OFFSET)
            attrs = <uint16_t>((attrs & ~(<uint16_t>TRANSACTIONAL_MASK))
                               | (TRANSACTIONAL_MASK if transactional else 0))
            kprod_store_be16(p + ATTRIBUTES_OFFSET, attrs)
            kprod_store_be64(p + PRODUCER_ID_OFFSET, <uint64_t>producer_id)
            kprod_store_be16(p + PRODUCER_EPOCH_OFFSET, <uint16_t>producer_epoch)
            kprod_store_be32(p + BASE_SEQUENCE_OFFSET, <uint32_t>base_sequence)
            kprod_store_be32(p + CRC_OFFSET, _crc32c(self._out + ATTRIBUTES_OFFSET,
                                                     self._out_len - ATTRIBUTES_OFFSET))

    def __repr__(self):
        return (f"<RecordBatchBuilder records={self._count} bytes={self._pos} "
                f"limit={self._write_limit} capacity={self._capacity} "
                f"codec={_CODEC_NAMES.get(self._codec)} closed={self._closed}>")


def record_size_upper_bound(key, value, headers=None):
    """record_size_upper_bound(key, value, headers=None) -> int

    Upper bound of a batch holding just this record: 61 + 21 + size of key,
    value and headers (Java's AbstractRecords.estimateSizeInBytesUpperBound).
    Used for max.request.size / buffer.memory checks and as the minimum
    buffer size for a new batch.
    """
    cdef Py_ssize_t lengths[2]
    cdef Py_ssize_t i, n, hcount = 0, hsize = 0
    cdef Py_buffer b
    cdef object seq
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
    if headers is not None:
        seq = PySequence_Fast(headers, "headers must be a sequence of (str, bytes|None)")
        hcount = PySequence_Fast_GET_SIZE(seq)
        if hcount > INT32_MAX:
            raise ValueError("too many headers")
        if hcount:
            hsize = _headers_size(seq, hcount)
    return HEADER_SIZE + MAX_RECORD_OVERHEAD_ + _fields_size(lengths[0], lengths[1], hcount,
                                                             hsize)


# ------------------------------------------------------------------ reader

@cython.final
@cython.freelist(64)
cdef class Record:
    """One record of a batch (offsets and timestamps made absolute)."""
    cdef readonly int64_t offset
    cdef readonly int64_t timestamp
    cdef readonly object key
    cdef readonly object value
    cdef readonly list headers
    cdef readonly int attributes

    def __repr__(self):
        return (f"Record(offset={self.offset}, timestamp={self.timestamp}, key={self.key!r}, "
                f"value={self.value!r}, headers={self.headers!r})")


@cython.final
cdef class RecordBatch:
    """One parsed RecordBatch v2: header fields and ``records``."""
    cdef readonly int64_t base_offset
    cdef readonly int32_t length
    cdef readonly int32_t partition_leader_epoch
    cdef readonly int magic
    cdef readonly uint32_t crc
    cdef readonly int attributes
    cdef readonly int compression
    cdef readonly int timestamp_type
    cdef readonly bint is_transactional
    cdef readonly bint is_control
    cdef readonly int32_t last_offset_delta
    cdef readonly int64_t base_timestamp
    cdef readonly int64_t max_timestamp
    cdef readonly int64_t producer_id
    cdef readonly int16_t producer_epoch
    cdef readonly int32_t base_sequence
    cdef readonly int32_t records_count
    cdef readonly list records

    @property
    def size_in_bytes(self):
        return <int64_t>self.length + LOG_OVERHEAD_

    @property
    def last_offset(self):
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self):
        return self.base_offset + self.last_offset_delta + 1

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __repr__(self):
        return (f"RecordBatch(base_offset={self.base_offset}, records={self.records_count}, "
                f"codec={_CODEC_NAMES.get(self.compression)}, producer_id={self.producer_id}, "
                f"producer_epoch={self.producer_epoch}, base_sequence={self.base_sequence})")


cdef int _corrupt(str msg) except -1:
    raise CorruptRecordError(msg)


cdef int _varint_fail(int status, str what, Py_ssize_t index) except -1:
    if status == VARINT_OVERFLOW:
        return _corrupt(f"record {index}: {what} varint is too long (overflow)")
    return _corrupt(f"record {index}: truncated in {what}")


cdef object _read_bytes(const uint8_t** pp, const uint8_t* end, str what, Py_ssize_t index):
    """A length-prefixed byte string (-1 = None)."""
    cdef int32_t n = 0
    cdef int st = read_varint(pp, end, &n)
    cdef object out
    if st != VARINT_OK:
        _varint_fail(st, what + " length", index)
    if n == -1:
        return None
    if n < -1:
        _corrupt(f"record {index}: invalid {what} length {n}")
    if n > kprod_span(pp[0], end):
        _corrupt(f"record {index}: {what} length {n} exceeds the {kprod_span(pp[0], end)} bytes left")
    out = PyBytes_FromStringAndSize(<const char*>pp[0], n)
    pp[0] += n
    return out


cdef Record _read_record(const uint8_t** pp, const uint8_t* end, RecordBatch batch,
                         Py_ssize_t index):
    cdef const uint8_t* p = pp[0]
    cdef const uint8_t* rend
    cdef int32_t length = 0, offset_delta = 0, hcount = 0, n = 0
    cdef int64_t ts_delta = 0
    cdef int st
    cdef Py_ssize_t i
    cdef Record rec
    cdef list headers
    cdef object hk, hv

    st = read_varint(&p, end, &length)
    if st != VARINT_OK:
        _varint_fail(st, "length", index)
    if length < MIN_RECORD_SIZE - 1:
        _corrupt(f"record {index}: invalid record length {length}")
    if length > kprod_span(p, end):
        _corrupt(f"record {index}: record length {length} exceeds the {kprod_span(p, end)} bytes left")
    rend = p + length
    rec = Record.__new__(Record)
    rec.attributes = p[0]
    p += 1
    st = read_varlong(&p, rend, &ts_delta)
    if st != VARINT_OK:
        _varint_fail(st, "timestamp delta", index)
    st = read_varint(&p, rend, &offset_delta)
    if st != VARINT_OK:
        _varint_fail(st, "offset delta", index)
    rec.offset = kprod_wrap_add64(batch.base_offset, offset_delta)
    if batch.timestamp_type == 1:
        rec.timestamp = batch.max_timestamp       # LogAppendTime
    else:
        rec.timestamp = kprod_wrap_add64(batch.base_timestamp, ts_delta)
    rec.key = _read_bytes(&p, rend, "key", index)
    rec.value = _read_bytes(&p, rend, "value", index)
    st = read_varint(&p, rend, &hcount)
    if st != VARINT_OK:
        _varint_fail(st, "header count", index)
    if hcount < 0 or hcount > (kprod_span(p, rend)) // 2:
        _corrupt(f"record {index}: invalid header count {hcount} for {kprod_span(p, rend)} bytes left")
    headers = []
    for i in range(hcount):
        st = read_varint(&p, rend, &n)
        if st != VARINT_OK:
            _varint_fail(st, "header key length", index)
        if n < 0:
            _corrupt(f"record {index}: invalid header key length {n}")
        if n > kprod_span(p, rend):
            _corrupt(f"record {index}: header key length {n} exceeds the {kprod_span(p, rend)} bytes left")
        try:
            hk = PyUnicode_DecodeUTF8(<const char*>p, n, NULL)
        except UnicodeDecodeError as e:
            raise CorruptRecordError(f"record {index}: header key is not UTF-8: {e}") from None
        p += n
        hv = _read_bytes(&p, rend, "header value", index)
        headers.append((hk, hv))
    rec.headers = headers
    if p != rend:
        _corrupt(f"record {index}: {kprod_span(p, rend)} unread bytes at the end of the record")
    pp[0] = rend
    return rec


cdef RecordBatch _read_batch(const uint8_t* p, Py_ssize_t size, bint verify_crc):
    """Parse the batch at p (size = 12 + Length bytes, already bounds-checked)."""
    cdef RecordBatch batch = RecordBatch.__new__(RecordBatch)
    cdef uint32_t computed
    cdef const uint8_t* rp
    cdef const uint8_t* rend
    cdef object raw, data
    cdef Py_buffer db
    cdef bint held = False
    cdef Py_ssize_t i, rlen
    cdef list records

    batch.base_offset = kprod_as_i64(kprod_load_be64(p + BASE_OFFSET_OFFSET))
    batch.length = kprod_as_i32(kprod_load_be32(p + LENGTH_OFFSET))
    batch.partition_leader_epoch = kprod_as_i32(kprod_load_be32(p + PLE_OFFSET))
    batch.magic = <int>(<signed char>p[MAGIC_OFFSET])
    if batch.magic != 2:
        _corrupt(f"unsupported record batch magic {batch.magic} (only v2 is read)")
    batch.crc = kprod_load_be32(p + CRC_OFFSET)
    if verify_crc:
        computed = _crc32c(<const char*>p + ATTRIBUTES_OFFSET, size - ATTRIBUTES_OFFSET)
        if computed != batch.crc:
            _corrupt(f"record batch CRC mismatch: stored 0x{batch.crc:08x}, "
                     f"computed 0x{computed:08x}")
    batch.attributes = kprod_load_be16(p + ATTRIBUTES_OFFSET)
    batch.compression = batch.attributes & CODEC_MASK
    batch.timestamp_type = 1 if batch.attributes & TIMESTAMP_TYPE_MASK else 0
    batch.is_transactional = (batch.attributes & TRANSACTIONAL_MASK) != 0
    batch.is_control = (batch.attributes & CONTROL_MASK) != 0
    batch.last_offset_delta = kprod_as_i32(kprod_load_be32(p + LAST_OFFSET_DELTA_OFFSET))
    batch.base_timestamp = kprod_as_i64(kprod_load_be64(p + BASE_TIMESTAMP_OFFSET))
    batch.max_timestamp = kprod_as_i64(kprod_load_be64(p + MAX_TIMESTAMP_OFFSET))
    batch.producer_id = kprod_as_i64(kprod_load_be64(p + PRODUCER_ID_OFFSET))
    batch.producer_epoch = kprod_as_i16(kprod_load_be16(p + PRODUCER_EPOCH_OFFSET))
    batch.base_sequence = kprod_as_i32(kprod_load_be32(p + BASE_SEQUENCE_OFFSET))
    batch.records_count = kprod_as_i32(kprod_load_be32(p + RECORDS_COUNT_OFFSET))
    if batch.compression > 4:
        _corrupt(f"unknown compression codec {batch.compression}")
    if batch.records_count < 0:
        _corrupt(f"negative records count {batch.records_count}")

    rp = p + HEADER_SIZE
    rend = p + size
    try:
        if batch.compression != 0:
            raw = PyMemoryView_FromMemory(<char*>rp, size - HEADER_SIZE, PyBUF_READ)
            try:
                data = _decompress(batch.compression, raw)
            except Exception as e:
                raise CorruptRecordError(
                    f"cannot decompress {_CODEC_NAMES[batch.compression]} records: "
                    f"{type(e).__name__}: {e}") from None
            finally:
                raw.release()
            PyObject_GetBuffer(data, &db, PyBUF_SIMPLE)
            held = True
            rp = <const uint8_t*>db.buf
            rend = rp + db.len
        rlen = kprod_span(rp, rend)
        if batch.records_count > rlen // MIN_RECORD_SIZE:
            _corrupt(f"records count {batch.records_count} cannot fit in "
                     f"{rlen} bytes of records")
        records = []
        for i in range(batch.records_count):
            records.append(_read_record(&rp, rend, batch, i))
        if rp != rend:
            _corrupt(f"{kprod_span(rp, rend)} bytes left after the {batch.records_count} records "
                     f"the batch declares")
    finally:
        if held:
            PyBuffer_Release(&db)
    batch.records = records
    return batch


def read_batches(data, *, bint verify_crc=True, bint allow_partial=False):
    """read_batches(data, *, verify_crc=True, allow_partial=False) -> list[RecordBatch]

    Parse one or more concatenated v2 batches from a bytes-like object.
    Malformed, truncated or CRC-failing input raises CorruptRecordError.
    A partial trailing batch (as brokers may return in a fetch) raises too,
    unless ``allow_partial`` is true: then it is silently dropped.
    """
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef Py_ssize_t pos = 0, n, rem
    cdef int32_t length
    cdef list out = []
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        n = view.len
        while pos < n:
            rem = n - pos
            if rem < HEADER_SIZE:
                if rem >= MAGIC_OFFSET + 1 and p[pos + MAGIC_OFFSET] != 2:
                    _corrupt(f"unsupported record batch magic {p[pos + MAGIC_OFFSET]} "
                             f"at byte {pos}")
                if allow_partial:
                    break
                _corrupt(f"truncated record batch at byte {pos}: {rem} bytes left, "
                         f"the header takes {HEADER_SIZE}")
            length = kprod_as_i32(kprod_load_be32(p + pos + LENGTH_OFFSET))
            if length < HEADER_SIZE - LOG_OVERHEAD_:
                _corrupt(f"invalid record batch length {length} at byte {pos}")
            if length > rem - LOG_OVERHEAD_:
                if allow_partial:
                    break
                _corrupt(f"truncated record batch at byte {pos}: length {length} "
                         f"but {rem - LOG_OVERHEAD_} bytes follow")
            out.append(_read_batch(p + pos, length + LOG_OVERHEAD_, verify_crc))
            pos += length + LOG_OVERHEAD_
    finally:
        PyBuffer_Release(&view)
    return out
