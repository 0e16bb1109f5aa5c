from libc.stdint cimport uint32_t

cdef uint32_t murmur2_object(object key) except? 0
