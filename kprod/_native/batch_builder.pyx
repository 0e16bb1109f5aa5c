# cython: language_level=3
"""Kafka RecordBatch v2 (magic 2) builder: the batch a producer sends.

Wire format as in Kafka's ``org.apache.kafka.common.record.DefaultRecordBatch``
(61-byte header, CRC-32C over attributes..end, KIP-98 producer id / epoch /
base sequence and the transactional bit; layout in batch_format.pxd) and
``DefaultRecord`` (record_encoding.pxd/.pyx); compression levels per KIP-390
(see :mod:`kprod.compression`). batch_reader.pyx reads what this writes.

``RecordBatchBuilder`` writes each record straight into a ``PooledBuffer``
(never grows it), leaving room for the header, and at ``close()`` compresses
the records region once, writes the header and the CRC. ``restamp()`` rewrites
producer id / epoch / base sequence / the transactional bit and the CRC in
place, without re-encoding or recompressing: the records' CRC is kept from
``close()`` and combined with the header's (crc32c_combine.pxd), so a restamp
reads 40 bytes, not the batch.

GIL: compression goes through kprod.compression (zlib, cramjam snappy,
lz4.frame, zstandard: each releases the GIL while it works); CRC-32C uses the
``crc32c`` package (hardware accelerated; releases the GIL for buffers of 32 KiB
and more). ``append_plain`` (the bulk path) runs without the GIL; everything
else runs under it: the builder is not meant to be shared between threads
without a lock (as in Java, the accumulator serialises append/close of a batch).
"""
cimport cython
from cpython.buffer cimport (
    PyBUF_READ, PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer,
)
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_FromMemory
from libc.stdint cimport INT32_MAX, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from kprod._native.batch_format cimport (
    ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET,
    CRC_OFFSET, HEADER_SIZE, LAST_OFFSET_DELTA_OFFSET, LENGTH_OFFSET, MAGIC_OFFSET,
    MAX_TIMESTAMP_OFFSET, OFFSET_LENGTH_SIZE, PLE_OFFSET, PRODUCER_EPOCH_OFFSET,
    PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET, TRANSACTIONAL_MASK, batch_crc,
)
from kprod._native.bufferpool cimport PooledBuffer
from kprod._native.crc32c_combine cimport crc32c_combine
from kprod._native.byteorder cimport (
    kprod_load_be16, kprod_store_be16, kprod_store_be32, kprod_store_be64, kprod_wrap_sub64,
)
from kprod._native.record_encoding cimport (
    body_size, fields_size, headers_sequence, record_size, write_headers, write_record_start,
)
from kprod._native.varint cimport varlong_size, write_varint

from crc32c import crc32c as _crc32c

from kprod.compression import CODEC_NAMES as _CODEC_NAMES
from kprod.compression import check_level as _check_level
from kprod.compression import compress as _compress
from kprod.errors import IllegalStateError

__all__ = ["RecordBatchBuilder"]

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


# _room's answers.
cdef enum:
    FITS = 0
    FULL = -1           # the batch has records and no room for this one
    TOO_LARGE = -3      # does not fit even the empty batch


cdef inline int _room(RecordBatchBuilder b, int32_t offset_delta,
                      Py_ssize_t total) noexcept nogil:
    """Whether a record of ``total`` bytes goes in next (at ``offset_delta``):
    MemoryRecordsBuilder.hasRoomFor plus the buffer's capacity and the batch's
    int32 length. The first record is always admitted if the buffer holds it."""
    if total > b._capacity - b._pos or b._pos + total - OFFSET_LENGTH_SIZE > INT32_MAX:
        return TOO_LARGE if offset_delta == 0 else FULL
    if offset_delta != 0 and (offset_delta == INT32_MAX
                              or b._estimated() + total > b._write_limit
                              or b._estimated() >= b._write_limit):
        return FULL
    return FITS


cdef inline void _appended(RecordBatchBuilder b, int64_t timestamp_ms, int32_t offset_delta,
                           Py_ssize_t total) noexcept nogil:
    """Book a record of ``total`` bytes just written at the end of the batch."""
    b._pos += total
    if total > b._max_record:
        b._max_record = total
    if offset_delta == 0:
        b._base_ts = timestamp_ms
        b._max_ts = timestamp_ms
    elif timestamp_ms > b._max_ts:
        b._max_ts = timestamp_ms
    b._count = offset_delta + 1


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
        self._records_crc = 0

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
        cdef Py_ssize_t body, total, hcount, hsize
        cdef object seq
        cdef int room
        cdef uint8_t* p
        cdef uint8_t* rec_end

        if self._closed or self._data == NULL:
            self._check_usable()
            raise IllegalStateError("append to a closed record batch")
        if key_len > INT32_MAX or value_len > INT32_MAX:
            raise ValueError("key or value larger than 2**31-1 bytes")
        if offset_delta != 0:
            ts_delta = kprod_wrap_sub64(timestamp_ms, self._base_ts)
        seq = headers_sequence(headers, &hcount, &hsize)
        body = body_size(varlong_size(ts_delta), offset_delta,
                         fields_size(key_len, value_len, hcount, hsize))
        if body > INT32_MAX:
            raise ValueError("record larger than 2**31-1 bytes")
        total = record_size(body)
        room = _room(self, offset_delta, total)
        if room == FULL:
            return -1
        if room == TOO_LARGE:
            raise ValueError(
                f"record of {total} bytes does not fit in an empty batch buffer of "
                f"capacity {self._capacity} (allocate record_size_upper_bound())")

        p = <uint8_t*>self._data + self._pos
        rec_end = p + total
        p = write_record_start(p, body, ts_delta, offset_delta, key, key_len, value, value_len)
        if hcount == 0:
            p[0] = 0
            p += 1
        else:
            p = write_varint(p, <int32_t>hcount)
            p = write_headers(seq, hcount, p, rec_end)
        if p != rec_end:
            raise RuntimeError("headers changed while the record was written")
        _appended(self, timestamp_ms, offset_delta, total)
        return offset_delta

    cdef int32_t append_plain(self, int64_t timestamp_ms, const char* key,
                              Py_ssize_t key_len, const char* value,
                              Py_ssize_t value_len, Py_ssize_t* appended,
                              bint* full) noexcept nogil:
        """append_raw for a record without headers, without the GIL (the bulk path,
        kprod._native.columns, on a batch no other thread can see). Same bytes and the
        same room rule; returns -1 when the record does not fit, -3 when append_raw
        would raise (the caller calls it, with the GIL, for the error). On success
        ``appended``: the growth of the estimated size; ``full``: the batch is now
        full (Java's isFull)."""
        cdef int32_t offset_delta = self._count
        cdef int64_t ts_delta = 0
        cdef Py_ssize_t body, total, before = self._estimated(), after
        cdef int room
        cdef uint8_t* p
        if self._closed or self._data == NULL or key_len > INT32_MAX or value_len > INT32_MAX:
            return -3
        if offset_delta != 0:
            ts_delta = kprod_wrap_sub64(timestamp_ms, self._base_ts)
        body = body_size(varlong_size(ts_delta), offset_delta,
                         fields_size(key_len, value_len, 0, 0))
        if body > INT32_MAX:
            return -3
        total = record_size(body)
        room = _room(self, offset_delta, total)
        if room != FITS:
            return room
        p = write_record_start(<uint8_t*>self._data + self._pos, body, ts_delta, offset_delta,
                               key, key_len, value, value_len)
        p[0] = 0                        # no headers
        _appended(self, timestamp_ms, offset_delta, total)
        after = self._estimated()
        appended[0] = after - before
        full[0] = after >= self._write_limit
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

    cdef Py_ssize_t _estimated(self) noexcept nogil:
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
        cdef Py_ssize_t body, hcount, hsize
        if self._closed or key_len > INT32_MAX or value_len > INT32_MAX:
            return False
        if self._count == 0:
            ts_size = 1
        elif timestamp_ms is None:
            ts_size = 10
        else:
            ts_size = varlong_size(kprod_wrap_sub64(timestamp_ms, self._base_ts))
        headers_sequence(headers, &hcount, &hsize)
        body = body_size(ts_size, self._count, fields_size(key_len, value_len, hcount, hsize))
        return body <= INT32_MAX and _room(self, self._count, record_size(body)) == FITS

    # -------------------------------------------------------------- close

    cdef int _finish_header(self) except -1:
        cdef uint8_t* p = <uint8_t*>self._out
        cdef uint16_t attrs = <uint16_t>(self._codec | (TRANSACTIONAL_MASK if self._transactional else 0))
        kprod_store_be64(p + BASE_OFFSET_OFFSET, 0)
        kprod_store_be32(p + LENGTH_OFFSET, <uint32_t>(self._out_len - OFFSET_LENGTH_SIZE))
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
        self._records_crc = batch_crc(_crc32c, self._out + HEADER_SIZE,
                                      self._out_len - HEADER_SIZE)
        return self._store_crc()

    cdef int _store_crc(self) except -1:
        # The batch's CRC (attributes..end) from the header bytes' CRC and the kept
        # records' CRC: crc(header + records) = combine(crc(header), crc(records)).
        cdef uint32_t header_crc = batch_crc(_crc32c, self._out + ATTRIBUTES_OFFSET,
                                             HEADER_SIZE - ATTRIBUTES_OFFSET)
        kprod_store_be32(<uint8_t*>self._out + CRC_OFFSET,
                         crc32c_combine(header_crc, self._records_crc,
                                        <uint64_t>(self._out_len - HEADER_SIZE)))
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
            self._store_crc()

    def __repr__(self):
        return (f"<RecordBatchBuilder records={self._count} bytes={self._pos} "
                f"limit={self._write_limit} capacity={self._capacity} "
                f"codec={_CODEC_NAMES.get(self._codec)} closed={self._closed}>")
