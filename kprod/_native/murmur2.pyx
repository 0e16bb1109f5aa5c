# cython: language_level=3
"""Java-compatible murmur2 (Kafka ``Utils.murmur2``) and ``toPositive``.

Kafka's default partitioner places a keyed record on
``toPositive(murmur2(key)) % num_partitions``; any deviation here moves records
to other partitions than the Java client would. Arithmetic is on uint32_t and
bytes are read one at a time as unsigned (no unaligned loads, no sign bugs).
"""
cimport cython
from cpython.buffer cimport PyBuffer_Release, PyObject_GetBuffer, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from libc.stdint cimport int32_t, uint8_t, uint32_t


@cython.overflowcheck(False)   # modular uint32_t arithmetic is the algorithm (debug builds)
cdef inline uint32_t _murmur2(const uint8_t* data, Py_ssize_t length) noexcept nogil:
    cdef uint32_t seed = 0x9747b28c
    cdef uint32_t m = 0x5bd1e995
    cdef uint32_t h = seed ^ <uint32_t>length
    cdef uint32_t k
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t blocks_end = length - (length % 4)
    while i < blocks_end:
        k = (<uint32_t>data[i] | (<uint32_t>data[i + 1] << 8)
             | (<uint32_t>data[i + 2] << 16) | (<uint32_t>data[i + 3] << 24))
        k *= m
        k ^= k >> 24
        k *= m
        h *= m
        h ^= k
        i += 4
    cdef Py_ssize_t tail = length % 4
    if tail == 3:
        h ^= <uint32_t>data[i + 2] << 16
    if tail >= 2:
        h ^= <uint32_t>data[i + 1] << 8
    if tail >= 1:
        h ^= <uint32_t>data[i]
        h *= m
    h ^= h >> 13
    h *= m
    h ^= h >> 15
    return h


cdef uint32_t murmur2_span(const uint8_t* data, Py_ssize_t length) noexcept nogil:
    """The hash of ``length`` bytes at ``data`` (for callers outside this module)."""
    return _murmur2(data, length)


cdef uint32_t murmur2_object(object key) except? 0:
    """Hash any bytes-like object (one buffer acquisition; bytes fast path)."""
    cdef Py_buffer view
    cdef uint32_t h
    if PyBytes_CheckExact(key):
        return _murmur2(<const uint8_t*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))
    if key is None:
        raise TypeError("murmur2 needs a bytes-like key, not None (None means 'no key')")
    PyObject_GetBuffer(key, &view, PyBUF_SIMPLE)
    try:
        with nogil:
            h = _murmur2(<const uint8_t*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)
    return h


def murmur2(key) -> int:
    """Java's ``Utils.murmur2(key)``: a signed 32-bit int, bit for bit."""
    return <int32_t>murmur2_object(key)


def to_positive(int number) -> int:
    """Java's ``Utils.toPositive``: ``number & 0x7fffffff`` (not ``abs``)."""
    return number & 0x7fffffff


def partition_for_key(key, Py_ssize_t num_partitions) -> int:
    """``toPositive(murmur2(key)) % num_partitions``, the Java built-in choice."""
    if num_partitions <= 0:
        raise ValueError(f"num_partitions must be positive, got {num_partitions}")
    return <Py_ssize_t>(murmur2_object(key) & 0x7fffffff) % num_partitions
