# cython: language_level=3
"""Kafka RecordBatch v2 (magic 2) reader: what batch_builder.pyx writes, and what a
broker returns.

``read_batches(data)`` parses concatenated batches (layout: batch_format.pxd, as
Kafka's ``DefaultRecordBatch`` / ``DefaultRecord``) with bounds checks on every
read through a pointer + end cursor; malformed input (bad lengths or counts,
varints longer than 5/10 bytes, CRC mismatch, undecodable compressed data,
trailing bytes) raises ``kprod.errors.CorruptRecordError`` saying what was wrong.
A partial trailing batch (as a broker may return in a fetch) raises too, unless
``allow_partial=True``: then it is dropped silently. Decompression is not
size-capped (the CRC must match first).

Used by the producer to split a batch the broker refused as too large
(kprod._internals.batch), and by the tests and fuzzers to check what was built.

GIL: held (every record becomes Python objects); decompression goes through
kprod.compression (each codec releases the GIL while it works), CRC-32C through
the ``crc32c`` package (releases it for 32 KiB and more).
"""
cimport cython
from cpython.buffer cimport PyBUF_READ, PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.memoryview cimport PyMemoryView_FromMemory
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t

from kprod._native.batch_format cimport (
    ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, BASE_SEQUENCE_OFFSET, BASE_TIMESTAMP_OFFSET,
    CODEC_MASK, CONTROL_MASK, CRC_OFFSET, HEADER_SIZE, LAST_OFFSET_DELTA_OFFSET,
    LENGTH_OFFSET, MAGIC_OFFSET, MAX_TIMESTAMP_OFFSET, OFFSET_LENGTH_SIZE, PLE_OFFSET,
    PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORDS_COUNT_OFFSET, TIMESTAMP_TYPE_MASK,
    TRANSACTIONAL_MASK, batch_crc,
)
from kprod._native.byteorder cimport (
    kprod_as_i16, kprod_as_i32, kprod_as_i64, kprod_load_be16, kprod_load_be32,
    kprod_load_be64, kprod_span, kprod_wrap_add64,
)
from kprod._native.record_encoding cimport MIN_RECORD_SIZE
from kprod._native.varint cimport VARINT_OK, VARINT_OVERFLOW, read_varint, read_varlong

from crc32c import crc32c as _crc32c

from kprod.compression import CODEC_NAMES as _CODEC_NAMES
from kprod.compression import decompress as _decompress
from kprod.errors import CorruptRecordError

__all__ = ["RecordBatch", "Record", "read_batches"]


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
        return <int64_t>self.length + OFFSET_LENGTH_SIZE

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
        computed = batch_crc(_crc32c, <const char*>p + ATTRIBUTES_OFFSET,
                             size - ATTRIBUTES_OFFSET)
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
            if length < HEADER_SIZE - OFFSET_LENGTH_SIZE:
                _corrupt(f"invalid record batch length {length} at byte {pos}")
            if length > rem - OFFSET_LENGTH_SIZE:
                if allow_partial:
                    break
                _corrupt(f"truncated record batch at byte {pos}: length {length} "
                         f"but {rem - OFFSET_LENGTH_SIZE} bytes follow")
            out.append(_read_batch(p + pos, length + OFFSET_LENGTH_SIZE, verify_crc))
            pos += length + OFFSET_LENGTH_SIZE
    finally:
        PyBuffer_Release(&view)
    return out
