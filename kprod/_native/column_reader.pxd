# C-level interface of send_many's columns (column_reader.pyx): a column is read in place,
# record by record, from its numpy / Arrow buffers (or from spans for a column that has
# no such buffer layout), so no array of addresses is written per call.
cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t

cdef enum ColumnKind:
    COLUMN_NULL = 0        # every record null (send_many without keys)
    COLUMN_SPANS = 1       # address / length arrays (sequences, chunked Arrow arrays)
    COLUMN_FIXED = 2       # itemsize bytes per record (numpy 'S'/'V', FixedSizeBinary)
    COLUMN_OFFSETS32 = 3   # Arrow Binary / String (int32 offsets)
    COLUMN_OFFSETS64 = 4   # Arrow LargeBinary / LargeString (int64 offsets)

cdef struct ColumnView:
    ColumnKind kind
    Py_ssize_t count
    const uint8_t* data
    const int32_t* offsets32      # already at the column's first element
    const int64_t* offsets64
    Py_ssize_t itemsize
    bint strip_nuls               # numpy 'S': an item ends before its trailing NULs
    const uint8_t* validity       # Arrow validity bitmap, or NULL
    Py_ssize_t bit_offset
    const size_t* address         # COLUMN_SPANS
    const Py_ssize_t* length
    Py_ssize_t max_length         # no record is longer (-1: every one null), so a
                                  # call whose records are all small skips their checks


@cython.final
cdef class Column:
    cdef ColumnView view
    cdef object _address          # the numpy arrays behind a spans column
    cdef object _length
    cdef public list keep         # objects whose memory the column points into
    cdef public object objects    # the items, for a sequence column

    cdef int _check_index(self, Py_ssize_t i) except -1


cdef inline Py_ssize_t column_item(const ColumnView* c, Py_ssize_t i,
                                   const char** out) noexcept nogil:
    """Record i's bytes (``out``) and length, -1 for null. ``i`` < c.count (the caller's
    loop bound; the offsets were checked when the column was made)."""
    cdef Py_ssize_t bit, n
    cdef int64_t lo
    cdef const uint8_t* item
    if c.kind == COLUMN_SPANS:
        out[0] = <const char*>c.address[i]
        return c.length[i]
    if c.kind == COLUMN_NULL:
        out[0] = NULL
        return -1
    if c.validity != NULL:
        bit = c.bit_offset + i
        if not (c.validity[bit >> 3] >> (bit & 7)) & 1:
            out[0] = NULL
            return -1
    if c.kind == COLUMN_FIXED:
        item = c.data + i * c.itemsize
        n = c.itemsize
        if c.strip_nuls:
            while n > 0 and item[n - 1] == 0:
                n -= 1
        out[0] = <const char*>item
        return n
    if c.kind == COLUMN_OFFSETS32:
        lo = c.offsets32[i]
        out[0] = <const char*>(c.data + lo)
        return <Py_ssize_t>(c.offsets32[i + 1] - lo)
    lo = c.offsets64[i]
    out[0] = <const char*>(c.data + lo)
    return <Py_ssize_t>(c.offsets64[i + 1] - lo)


cdef inline Py_ssize_t column_length(const ColumnView* c, Py_ssize_t i) noexcept nogil:
    cdef const char* ignored
    return column_item(c, i, &ignored)
