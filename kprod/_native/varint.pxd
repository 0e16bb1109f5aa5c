# Zig-zag varints as used by Kafka's record format (DefaultRecord, KIP-98):
# protobuf-style zig-zag then unsigned LEB128, 7 bits per byte, MSB set on all
# but the last byte. int32 values take at most 5 bytes, int64 at most 10.
#
# Everything is computed on unsigned integers: left-shifting a negative signed
# value is undefined behaviour in C (a bug seen in aiokafka and librdkafka).
# All functions are inline, noexcept and nogil; this .pxd has no module.

cimport cython
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from kprod._native.byteorder cimport (
    kprod_uvarint32_size, kprod_uvarint64_size, kprod_as_i32, kprod_as_i64,
)

# Status codes of the read functions.
cdef enum:
    VARINT_OK = 0
    VARINT_TRUNCATED = 1     # the input ended inside the varint
    VARINT_OVERFLOW = 2      # more than 5 (10) bytes, or bits beyond 32 (64)


@cython.overflowcheck(False)   # unsigned wrap-around is intended
cdef inline uint32_t zigzag32(int32_t v) noexcept nogil:
    return (<uint32_t>v << 1) ^ (<uint32_t>0 - (<uint32_t>v >> 31))


@cython.overflowcheck(False)   # unsigned wrap-around is intended
cdef inline uint64_t zigzag64(int64_t v) noexcept nogil:
    return (<uint64_t>v << 1) ^ (<uint64_t>0 - (<uint64_t>v >> 63))


@cython.overflowcheck(False)   # unsigned wrap-around is intended
cdef inline int32_t unzigzag32(uint32_t u) noexcept nogil:
    return kprod_as_i32((u >> 1) ^ (<uint32_t>0 - (u & 1)))


@cython.overflowcheck(False)   # unsigned wrap-around is intended
cdef inline int64_t unzigzag64(uint64_t u) noexcept nogil:
    return kprod_as_i64((u >> 1) ^ (<uint64_t>0 - (u & 1)))


cdef inline int varint_size(int32_t v) noexcept nogil:
    """Encoded size in bytes (1..5) of a zig-zag varint."""
    return kprod_uvarint32_size(zigzag32(v))


cdef inline int varlong_size(int64_t v) noexcept nogil:
    """Encoded size in bytes (1..10) of a zig-zag varlong."""
    return kprod_uvarint64_size(zigzag64(v))


cdef inline uint8_t* write_uvarint32(uint8_t* p, uint32_t u) noexcept nogil:
    while u >= 0x80:
        p[0] = <uint8_t>((u & 0x7f) | 0x80)
        p += 1
        u >>= 7
    p[0] = <uint8_t>u
    return p + 1


cdef inline uint8_t* write_uvarint64(uint8_t* p, uint64_t u) noexcept nogil:
    while u >= 0x80:
        p[0] = <uint8_t>((u & 0x7f) | 0x80)
        p += 1
        u >>= 7
    p[0] = <uint8_t>u
    return p + 1


cdef inline uint8_t* write_varint(uint8_t* p, int32_t v) noexcept nogil:
    """Write a zig-zag varint at p (caller guarantees 5 bytes); return the end."""
    return write_uvarint32(p, zigzag32(v))


cdef inline uint8_t* write_varlong(uint8_t* p, int64_t v) noexcept nogil:
    """Write a zig-zag varlong at p (caller guarantees 10 bytes); return the end."""
    return write_uvarint64(p, zigzag64(v))


cdef inline int read_varint(const uint8_t** pp, const uint8_t* end,
                            int32_t* out) noexcept nogil:
    """Read a zig-zag varint from *pp (never past end); advance *pp.

    Returns VARINT_OK, VARINT_TRUNCATED or VARINT_OVERFLOW (a 5th byte with
    the continuation bit or with bits above 2**32).
    """
    cdef const uint8_t* p = pp[0]
    cdef uint32_t result = 0
    cdef uint32_t b
    cdef int shift = 0
    while True:
        if p >= end:
            return VARINT_TRUNCATED
        b = p[0]
        p += 1
        if shift == 28:
            if b > 0x0f:
                return VARINT_OVERFLOW
            result |= b << 28
            break
        result |= (b & 0x7f) << shift
        if b < 0x80:
            break
        shift += 7
    pp[0] = p
    out[0] = unzigzag32(result)
    return VARINT_OK


cdef inline int read_varlong(const uint8_t** pp, const uint8_t* end,
                             int64_t* out) noexcept nogil:
    """As read_varint for a zig-zag varlong (at most 10 bytes)."""
    cdef const uint8_t* p = pp[0]
    cdef uint64_t result = 0
    cdef uint64_t b
    cdef int shift = 0
    while True:
        if p >= end:
            return VARINT_TRUNCATED
        b = p[0]
        p += 1
        if shift == 63:
            if b > 0x01:
                return VARINT_OVERFLOW
            result |= b << 63
            break
        result |= (b & 0x7f) << shift
        if b < 0x80:
            break
        shift += 7
    pp[0] = p
    out[0] = unzigzag64(result)
    return VARINT_OK
