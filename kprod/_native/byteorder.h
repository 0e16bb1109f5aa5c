/* Big-endian loads and stores through memcpy (no unaligned pointer casts,
 * which are undefined behaviour on strict-alignment targets). Used by the
 * RecordBatch builder and reader (batch_builder.pyx, batch_reader.pyx) and the
 * Produce codec. */
#ifndef KPROD_BYTEORDER_H
#define KPROD_BYTEORDER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define KPROD_BE16(x) (x)
#define KPROD_BE32(x) (x)
#define KPROD_BE64(x) (x)
#else
#define KPROD_BE16(x) __builtin_bswap16(x)
#define KPROD_BE32(x) __builtin_bswap32(x)
#define KPROD_BE64(x) __builtin_bswap64(x)
#endif

static inline void kprod_store_be16(void *p, uint16_t v) { v = KPROD_BE16(v); memcpy(p, &v, 2); }
static inline void kprod_store_be32(void *p, uint32_t v) { v = KPROD_BE32(v); memcpy(p, &v, 4); }
static inline void kprod_store_be64(void *p, uint64_t v) { v = KPROD_BE64(v); memcpy(p, &v, 8); }

static inline uint16_t kprod_load_be16(const void *p) { uint16_t v; memcpy(&v, p, 2); return KPROD_BE16(v); }
static inline uint32_t kprod_load_be32(const void *p) { uint32_t v; memcpy(&v, p, 4); return KPROD_BE32(v); }
static inline uint64_t kprod_load_be64(const void *p) { uint64_t v; memcpy(&v, p, 8); return KPROD_BE64(v); }

/* Two's complement reinterpretation without implementation-defined casts. */
static inline int16_t kprod_as_i16(uint16_t v) { int16_t r; memcpy(&r, &v, 2); return r; }
static inline int32_t kprod_as_i32(uint32_t v) { int32_t r; memcpy(&r, &v, 4); return r; }
static inline int64_t kprod_as_i64(uint64_t v) { int64_t r; memcpy(&r, &v, 8); return r; }

/* Two's complement wrapping add / subtract of int64 (Java long semantics),
 * done on uint64_t: no signed overflow UB, and opaque to Cython's
 * overflowcheck mode. */
static inline int64_t kprod_wrap_add64(int64_t a, int64_t b) {
    return kprod_as_i64((uint64_t)a + (uint64_t)b);
}
static inline int64_t kprod_wrap_sub64(int64_t a, int64_t b) {
    return kprod_as_i64((uint64_t)a - (uint64_t)b);
}

/* end - p in bytes (a C helper: Cython's overflowcheck mode mangles pointer
 * differences). */
static inline ptrdiff_t kprod_span(const void *p, const void *end) {
    return (const char *)end - (const char *)p;
}

/* Number of bytes of an unsigned LEB128 varint; clz(0) is undefined, hence the |1. */
static inline int kprod_uvarint32_size(uint32_t v) { return (31 - __builtin_clz(v | 1u)) / 7 + 1; }
static inline int kprod_uvarint64_size(uint64_t v) { return (63 - __builtin_clzll(v | 1u)) / 7 + 1; }

#endif
