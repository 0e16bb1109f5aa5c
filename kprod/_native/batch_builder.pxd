# C-level interface of the RecordBatch v2 builder (batch_builder.pyx), so the
# producer's append paths (appender.pyx, columns.pyx) cimport it and append without
# a Python call.
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t
from kprod._native.bufferpool cimport PooledBuffer


@cython.final
@cython.no_gc
cdef class RecordBatchBuilder:
    cdef PooledBuffer _buffer
    cdef Py_buffer _pybuf          # our own export of _buffer: its memory cannot be
    cdef bint _held                # recycled while the builder holds it
    cdef char* _data               # _pybuf.buf (NULL once release_buffer() ran)
    cdef Py_ssize_t _capacity      # _pybuf.len
    cdef Py_ssize_t _pos           # end of the written records (starts at 61)
    cdef Py_ssize_t _write_limit   # batch.size
    cdef double _ratio             # estimated compression ratio (Java's estimator)
    cdef int32_t _count
    cdef Py_ssize_t _max_record    # largest record appended, bytes (record-size-max)
    cdef int64_t _base_ts
    cdef int64_t _max_ts
    cdef int64_t _producer_id
    cdef int16_t _producer_epoch
    cdef int32_t _base_sequence
    cdef bint _transactional
    cdef int _codec
    cdef object _level             # None or the KIP-390 level
    cdef bint _closed
    cdef object _out_owner         # the PooledBuffer or a bytearray with the built batch
    cdef char* _out                # start of the built batch
    cdef Py_ssize_t _out_len       # its length
    cdef uint32_t _records_crc     # CRC-32C of the built batch's records (after the header)

    # key_len / value_len < 0 mean a null key / value. Returns the offset
    # delta, or -1 when the record does not fit (the batch is then full).
    cdef int32_t append_raw(self, int64_t timestamp_ms, const char* key,
                            Py_ssize_t key_len, const char* value,
                            Py_ssize_t value_len, object headers) except -2
    # append_raw without headers and without the GIL: -1 when full, -3 when
    # append_raw would raise; the estimated size's growth and isFull after it.
    cdef int32_t append_plain(self, int64_t timestamp_ms, const char* key,
                              Py_ssize_t key_len, const char* value,
                              Py_ssize_t value_len, Py_ssize_t* appended,
                              bint* full) noexcept nogil
    # key / value: None, bytes or any C-contiguous buffer.
    cdef int32_t append_object(self, int64_t timestamp_ms, object key,
                               object value, object headers) except -2
    cdef Py_ssize_t _estimated(self) noexcept nogil
    cdef int _finish_header(self) except -1
    cdef int _store_crc(self) except -1
    cdef object _view(self)
    cdef int _check_usable(self) except -1
