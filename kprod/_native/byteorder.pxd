# Big-endian loads/stores via memcpy (byteorder.h). Header-only: no module.
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int16_t, int32_t, int64_t

cdef extern from "byteorder.h" nogil:
    void kprod_store_be16(void* p, uint16_t v)
    void kprod_store_be32(void* p, uint32_t v)
    void kprod_store_be64(void* p, uint64_t v)
    uint16_t kprod_load_be16(const void* p)
    uint32_t kprod_load_be32(const void* p)
    uint64_t kprod_load_be64(const void* p)
    int16_t kprod_as_i16(uint16_t v)
    int32_t kprod_as_i32(uint32_t v)
    int64_t kprod_as_i64(uint64_t v)
    int64_t kprod_wrap_add64(int64_t a, int64_t b)
    int64_t kprod_wrap_sub64(int64_t a, int64_t b)
    Py_ssize_t kprod_span(const void* p, const void* end)
    int kprod_uvarint32_size(uint32_t v)
    int kprod_uvarint64_size(uint64_t v)
