from libc.stdint cimport uint8_t, uint32_t

cdef uint32_t murmur2_object(object key) except? 0
cdef uint32_t murmur2_span(const uint8_t* data, Py_ssize_t length) noexcept nogil
