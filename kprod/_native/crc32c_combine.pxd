# CRC-32C of a concatenation from the CRCs of its parts: crc(A + B) from crc(A),
# crc(B) and len(B), without reading A or B again. Header-only (inline, no state).
#
# Why: a batch's CRC covers its 40 header bytes after the CRC field and then the
# records. The builder keeps the records' CRC from close(), so restamping the header
# (idempotence stamps producer id, epoch and sequence after close; retries and epoch
# bumps stamp again) costs a 40-byte CRC and one combine instead of a pass over the
# whole batch.
#
# The math (GF(2) polynomials mod the Castagnoli polynomial, reflected: bit 31 is
# x^0): appending n zero bytes to a message multiplies its CRC register by x^(8n), and
# the initial and final inversions cancel, so crc(A + B) = crc(A) * x^(8 len(B)) ^ crc(B).
from libc.stdint cimport uint32_t, uint64_t

cdef enum:
    CASTAGNOLI_REFLECTED = 0x82F63B78


cdef inline uint32_t crc32c_multiply(uint32_t a, uint32_t b) noexcept nogil:
    """a * b mod P, both reflected."""
    cdef uint32_t product = 0
    cdef uint32_t bit = 0x80000000u          # x^0 in a
    while bit:
        if a & bit:
            product ^= b
        bit >>= 1
        b = (b >> 1) ^ <uint32_t>CASTAGNOLI_REFLECTED if b & 1 else b >> 1   # b * x
    return product


cdef inline uint32_t crc32c_shift(uint32_t crc, uint64_t length) noexcept nogil:
    """crc * x^(8 length) mod P: the CRC register after ``length`` more zero bytes,
    by squaring (x^8, x^16, x^32, ...: O(log length) multiplications)."""
    cdef uint32_t power = 0x00800000u        # x^8
    while length:
        if length & 1:
            crc = crc32c_multiply(power, crc)
        length >>= 1
        if length:
            power = crc32c_multiply(power, power)
    return crc


cdef inline uint32_t crc32c_combine(uint32_t crc_first, uint32_t crc_second,
                                    uint64_t second_length) noexcept nogil:
    """CRC-32C of first + second from the CRC-32C of each and second's length."""
    return crc32c_shift(crc_first, second_length) ^ crc_second
