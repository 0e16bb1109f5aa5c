# cython: language_level=3
"""send_many's columns, read in place (see column_reader.pxd for the C view).

A numpy or single-chunk Arrow column is described, not copied: its data buffer, its
offsets or item size, its validity bitmap. column_item() reads record i from them when
the checks and the append loop get to it, so a call writes no per-record array of
addresses. Arrow offsets are checked once, when the column is made (non-decreasing,
inside the data buffer), so column_item() never reads outside a buffer the caller gave.

Sequences of bytes and chunked Arrow arrays become spans: an address and a length per
record (-1: null) in two numpy arrays, filled by spans_from_objects / spans_of.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint8_t


@cython.final
cdef class Column:
    """One column of send_many: ``len()``, ``item(i)`` (a copy, or None),
    ``length_of(i)``, ``present`` (False: every record null). Made by the functions
    ``null_column``, ``spans_column``, ``fixed_column`` and ``offsets_column``."""

    def __cinit__(self):
        self.view.kind = COLUMN_NULL
        self.view.count = 0
        self.view.data = NULL
        self.view.offsets32 = NULL
        self.view.offsets64 = NULL
        self.view.itemsize = 0
        self.view.strip_nuls = False
        self.view.validity = NULL
        self.view.bit_offset = 0
        self.view.address = NULL
        self.view.length = NULL
        self.view.max_length = -1
        self.keep = []
        self.objects = None

    def __len__(self):
        return self.view.count

    @property
    def present(self):
        return self.view.kind != COLUMN_NULL

    def length_of(self, Py_ssize_t i):
        """Record i's length (-1: null)."""
        self._check_index(i)
        return column_length(&self.view, i)

    def item(self, Py_ssize_t i):
        """Record i's bytes (a copy; for the per-record paths only), or None."""
        cdef const char* p
        cdef Py_ssize_t n
        self._check_index(i)
        n = column_item(&self.view, i, &p)
        if n < 0:
            return None
        return p[:n]

    cdef int _check_index(self, Py_ssize_t i) except -1:
        if i < 0 or i >= self.view.count:
            raise IndexError(f"record {i} of a column of {self.view.count}")
        return 0


def null_column(Py_ssize_t count):
    """The keys of a call without keys: every one null."""
    cdef Column c = Column()
    c.view.count = count
    return c


def spans_column(Py_ssize_t count, size_t[::1] address, Py_ssize_t[::1] length):
    """A column of spans (``address``/``length``, numpy uintp / intp arrays that the
    spans_* functions below filled)."""
    if address.shape[0] < count or length.shape[0] < count:
        raise IndexError("spans_column: the spans are shorter than the count")
    cdef Column c = Column()
    c.view.kind = COLUMN_SPANS
    c.view.count = count
    c._address = address.base if address.base is not None else address
    c._length = length.base if length.base is not None else length
    cdef Py_ssize_t i, longest = -1
    with nogil:
        for i in range(count):
            if length[i] > longest:
                longest = length[i]
    c.view.max_length = longest
    if count:
        c.view.address = &address[0]
        c.view.length = &length[0]
    return c


def fixed_column(size_t data, Py_ssize_t count, Py_ssize_t itemsize, bint strip_nuls,
                 size_t validity, Py_ssize_t bit_offset, keep):
    """``count`` records of ``itemsize`` bytes each at ``data`` (numpy 'S', 'V',
    structured and 2-D uint8 arrays, Arrow FixedSizeBinary); ``keep`` owns that memory
    (and the bitmap). ``strip_nuls``: numpy 'S' (an item ends before its trailing NUL
    bytes, as numpy converts it to bytes). ``validity``: an Arrow validity bitmap (0:
    none), read from bit ``bit_offset``."""
    if count < 0 or itemsize < 0 or bit_offset < 0 or (count and not data):
        raise ValueError("fixed_column: bad buffer description")
    cdef Column c = Column()
    c.view.kind = COLUMN_FIXED
    c.view.count = count
    c.view.data = <const uint8_t*>data
    c.view.itemsize = itemsize
    c.view.max_length = itemsize
    c.view.strip_nuls = strip_nuls
    c.view.validity = <const uint8_t*>validity
    c.view.bit_offset = bit_offset
    if keep is not None:
        c.keep.append(keep)
    return c


def offsets_column(size_t data, Py_ssize_t data_size, size_t offsets, bint large,
                   Py_ssize_t offset, Py_ssize_t count, size_t validity, keep):
    """An Arrow Binary/String (int32 offsets) or LargeBinary/LargeString (``large``:
    int64 offsets) array of ``count`` records from element ``offset`` of its buffers
    (``keep`` owns them). Every non-null record's offsets are checked first
    (non-decreasing, inside the ``data_size`` bytes of the data buffer): returns
    (column, -1), or (None, index of the first bad record)."""
    if count < 0 or offset < 0 or data_size < 0 or not data or (count and not offsets):
        raise ValueError("offsets_column: bad buffer description")
    cdef Py_ssize_t longest = -1
    cdef Py_ssize_t bad
    with nogil:
        bad = first_bad_offsets(data_size, offsets, large, offset, count, validity,
                                &longest)
    if bad >= 0:
        return None, bad
    cdef Column c = Column()
    c.view.kind = COLUMN_OFFSETS64 if large else COLUMN_OFFSETS32
    c.view.count = count
    c.view.max_length = longest
    c.view.data = <const uint8_t*>data
    if large:
        c.view.offsets64 = (<const int64_t*>offsets) + offset
    else:
        c.view.offsets32 = (<const int32_t*>offsets) + offset
    c.view.validity = <const uint8_t*>validity
    c.view.bit_offset = offset
    if keep is not None:
        c.keep.append(keep)
    return c, -1


cdef Py_ssize_t first_bad_offsets(Py_ssize_t data_size, size_t offsets, bint large,
                                  Py_ssize_t offset, Py_ssize_t count, size_t validity,
                                  Py_ssize_t* longest) noexcept nogil:
    # The first non-null record with bad offsets, or -1; ``longest``: the longest
    # non-null record seen (-1 for none).
    cdef Py_ssize_t i, bit
    cdef int64_t lo, hi, most = -1
    cdef const int32_t* o32 = <const int32_t*>offsets
    cdef const int64_t* o64 = <const int64_t*>offsets
    cdef const uint8_t* bits = <const uint8_t*>validity
    for i in range(count):
        if bits != NULL:
            bit = offset + i
            if not (bits[bit >> 3] >> (bit & 7)) & 1:
                continue
        if large:
            lo = o64[offset + i]
            hi = o64[offset + i + 1]
        else:
            lo = o32[offset + i]
            hi = o32[offset + i + 1]
        if lo < 0 or hi < lo or hi > data_size:
            return i
        if hi - lo > most:
            most = hi - lo
    longest[0] = <Py_ssize_t>most
    return -1


# ------------------------------------------------------------------ spans

def spans_from_objects(tuple items, size_t[::1] address, Py_ssize_t[::1] length,
                       list keep):
    """Spans of a tuple of bytes / bytes-like / None. A bytes-like item that is not
    bytes is copied once into bytes (appended to ``keep``: alive for the call, and
    immune to the caller changing it meanwhile). Returns the index of the first item
    that is none of these, or -1."""
    cdef Py_ssize_t i, n = len(items)
    cdef object item
    if address.shape[0] < n or length.shape[0] < n:
        raise IndexError("spans_from_objects: output too short")
    for i in range(n):
        item = items[i]
        if item is None:
            address[i] = 0
            length[i] = -1
            continue
        if type(item) is not bytes:
            if not isinstance(item, (bytes, bytearray, memoryview)):
                return i
            item = bytes(item)
            keep.append(item)
        address[i] = <size_t>PyBytes_AS_STRING(item)
        length[i] = PyBytes_GET_SIZE(item)
    return -1


def spans_of(Column column not None, size_t[::1] address, Py_ssize_t[::1] length,
             Py_ssize_t start):
    """A column's records as spans, into ``address[start:]`` / ``length[start:]`` (one
    chunk of a chunked Arrow array). Returns -1."""
    cdef Py_ssize_t i, count = column.view.count
    cdef const char* p
    if start < 0 or start + count > address.shape[0] or start + count > length.shape[0]:
        raise IndexError("spans_of: output too short")
    with nogil:
        for i in range(count):
            length[start + i] = column_item(&column.view, i, &p)
            address[start + i] = <size_t>p
    return -1
