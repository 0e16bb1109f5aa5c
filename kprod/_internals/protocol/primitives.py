"""Primitive wire codecs of the Kafka protocol.

Writers append to a ``bytearray``; readers take ``(data, pos, end, where)`` and
return ``(value, new_pos)``. ``data`` is a byte-format ``memoryview``; every
read checks ``end`` first and raises :class:`~kprod.errors.ProtocolError`
naming ``where`` (message/field) instead of IndexError/struct.error/etc.

Flexible ("compact") encodings are from KIP-482: lengths are unsigned varints
holding ``length + 1`` so that 0 can mean null.
"""
from __future__ import annotations

import struct
import uuid
from typing import Any, Optional, Tuple

from kprod.errors import ProtocolError

# Fixed-width big-endian formats, by Kafka type name.
FIXED_FORMATS = {
    "int8": "b", "int16": "h", "int32": "i", "int64": "q",
    "uint16": "H", "uint32": "I", "float64": "d", "bool": "?", "uuid": "16s",
}
FIXED_SIZES = {name: struct.calcsize(">" + fmt) for name, fmt in FIXED_FORMATS.items()}

INT8 = struct.Struct(">b")
INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")
INT64 = struct.Struct(">q")
UINT16 = struct.Struct(">H")
UINT32 = struct.Struct(">I")
FLOAT64 = struct.Struct(">d")

ZERO_UUID = uuid.UUID(int=0)

_NULL16 = INT16.pack(-1)
_NULL32 = INT32.pack(-1)


def fail(where: str, what: str) -> "ProtocolError":
    return ProtocolError(f"{where}: {what}")


def truncated(where: str, need: int, pos: int, end: int) -> ProtocolError:
    return ProtocolError(f"{where}: truncated input (need {need} bytes at offset {pos}, "
                         f"{max(end - pos, 0)} left)")


# --------------------------------------------------------------------- varints
# Small values dominate (lengths, counts); a table avoids per-call work.
_UVARINT_SMALL = [bytes([n]) for n in range(128)]


def uvarint_bytes(n: int) -> bytes:
    """Unsigned LEB128 varint (``n >= 0``)."""
    if n < 128:
        if n < 0:
            raise ValueError(f"unsigned varint cannot hold {n}")
        return _UVARINT_SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zigzag32(n: int) -> int:
    return ((n << 1) ^ (n >> 31)) & 0xFFFFFFFF


def zigzag64(n: int) -> int:
    return ((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF


def unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def varint_bytes(n: int) -> bytes:
    """Signed (zigzag) varint, 32-bit range."""
    if not -0x80000000 <= n <= 0x7FFFFFFF:
        raise ValueError(f"varint out of range: {n}")
    return uvarint_bytes(zigzag32(n))


def varlong_bytes(n: int) -> bytes:
    """Signed (zigzag) varlong, 64-bit range."""
    if not -0x8000000000000000 <= n <= 0x7FFFFFFFFFFFFFFF:
        raise ValueError(f"varlong out of range: {n}")
    return uvarint_bytes(zigzag64(n))


def _read_uleb(d: memoryview, p: int, e: int, where: str, max_bytes: int) -> Tuple[int, int]:
    result = 0
    shift = 0
    for _ in range(max_bytes):
        if p >= e:
            raise truncated(where, 1, p, e)
        b = d[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
    raise fail(where, f"varint longer than {max_bytes} bytes")


def read_uvarint(d: memoryview, p: int, e: int, where: str) -> Tuple[int, int]:
    """Unsigned varint of at most 5 bytes (32-bit), as Kafka's readUnsignedVarint."""
    if p < e:
        b = d[p]
        if b < 0x80:  # fast path: one byte
            return b, p + 1
    v, p = _read_uleb(d, p, e, where, 5)
    if v > 0xFFFFFFFF:
        raise fail(where, "unsigned varint exceeds 32 bits")
    return v, p


def read_uvarlong(d: memoryview, p: int, e: int, where: str) -> Tuple[int, int]:
    v, p = _read_uleb(d, p, e, where, 10)
    if v > 0xFFFFFFFFFFFFFFFF:
        raise fail(where, "unsigned varlong exceeds 64 bits")
    return v, p


def read_varint(d: memoryview, p: int, e: int, where: str) -> Tuple[int, int]:
    v, p = read_uvarint(d, p, e, where)
    return unzigzag(v), p


def read_varlong(d: memoryview, p: int, e: int, where: str) -> Tuple[int, int]:
    v, p = read_uvarlong(d, p, e, where)
    return unzigzag(v), p


# -------------------------------------------------------------------- writers
def write_string(buf: bytearray, s: str) -> None:
    b = s.encode("utf-8")
    if len(b) > 0x7FFF:
        raise ValueError(f"string of {len(b)} bytes exceeds int16 length")
    buf += INT16.pack(len(b))
    buf += b


def write_nullable_string(buf: bytearray, s: Optional[str]) -> None:
    if s is None:
        buf += _NULL16
    else:
        write_string(buf, s)


def write_compact_string(buf: bytearray, s: str) -> None:
    b = s.encode("utf-8")
    n = len(b) + 1
    if n < 128:
        buf.append(n)
    else:
        buf += uvarint_bytes(n)
    buf += b


def write_compact_nullable_string(buf: bytearray, s: Optional[str]) -> None:
    if s is None:
        buf.append(0)
    else:
        write_compact_string(buf, s)


def write_bytes(buf: bytearray, b: Any) -> None:
    buf += INT32.pack(len(b))
    buf += b


def write_nullable_bytes(buf: bytearray, b: Any) -> None:
    if b is None:
        buf += _NULL32
    else:
        write_bytes(buf, b)


def write_compact_bytes(buf: bytearray, b: Any) -> None:
    buf += uvarint_bytes(len(b) + 1)
    buf += b


def write_compact_nullable_bytes(buf: bytearray, b: Any) -> None:
    if b is None:
        buf.append(0)
    else:
        write_compact_bytes(buf, b)


def write_uuid(buf: bytearray, u: uuid.UUID) -> None:
    buf += u.bytes


def write_array_len(buf: bytearray, n: int, compact: bool) -> None:
    if compact:
        buf += uvarint_bytes(n + 1)
    else:
        buf += INT32.pack(n)


def write_null_array(buf: bytearray, compact: bool) -> None:
    if compact:
        buf.append(0)
    else:
        buf += _NULL32


def nbytes(chunk: Any) -> int:
    """Byte length of a bytes-like chunk (memoryviews may have wide formats)."""
    return chunk.nbytes if type(chunk) is memoryview else len(chunk)


def write_records(buf: bytearray, chunks: list, records: Any, compact: bool) -> bytearray:
    """Write a ``records`` field without copying the batch bytes.

    ``records`` is None, one bytes-like object or a list/tuple of them (several
    RecordBatches back to back). The length prefix goes into ``buf``; the
    batches themselves are appended to ``chunks`` unchanged and a fresh
    ``bytearray`` is started (and returned) for what follows.
    """
    if records is None:
        if compact:
            buf.append(0)
        else:
            buf += _NULL32
        return buf
    parts = records if type(records) in (list, tuple) else (records,)
    total = 0
    for part in parts:
        total += part.nbytes if type(part) is memoryview else len(part)
    if compact:
        buf += uvarint_bytes(total + 1)
    else:
        buf += INT32.pack(total)
    if total == 0:
        return buf
    chunks.extend(parts)
    buf = bytearray()
    chunks.append(buf)
    return buf


# -------------------------------------------------------------------- readers
def _utf8(d: memoryview, p: int, n: int, where: str) -> str:
    try:
        return str(d[p:p + n], "utf-8")
    except UnicodeDecodeError as exc:
        raise fail(where, f"invalid UTF-8 ({exc.reason})") from None


def read_string(d: memoryview, p: int, e: int, where: str,
                nullable: bool) -> Tuple[Optional[str], int]:
    if p + 2 > e:
        raise truncated(where, 2, p, e)
    n = (d[p] << 8) | d[p + 1]
    p += 2
    if n >= 0x8000:
        if n == 0xFFFF and nullable:
            return None, p
        raise fail(where, f"invalid string length {n - 0x10000}")
    if p + n > e:
        raise truncated(where, n, p, e)
    return _utf8(d, p, n, where), p + n


def read_compact_string(d: memoryview, p: int, e: int, where: str,
                        nullable: bool) -> Tuple[Optional[str], int]:
    n, p = read_uvarint(d, p, e, where)
    if n == 0:
        if nullable:
            return None, p
        raise fail(where, "null in a non-nullable compact string")
    n -= 1
    if n > 0x7FFF:
        raise fail(where, f"string length {n} exceeds the maximum 32767")
    if p + n > e:
        raise truncated(where, n, p, e)
    return _utf8(d, p, n, where), p + n


def read_bytes(d: memoryview, p: int, e: int, where: str, nullable: bool, compact: bool,
               as_view: bool = False) -> Tuple[Any, int]:
    """bytes/compact bytes (``as_view`` returns a zero-copy memoryview slice)."""
    if compact:
        n, p = read_uvarint(d, p, e, where)
        n -= 1
    else:
        if p + 4 > e:
            raise truncated(where, 4, p, e)
        n = INT32.unpack_from(d, p)[0]
        p += 4
    if n < 0:
        if n == -1 and nullable:
            return None, p
        raise fail(where, f"invalid bytes length {n}")
    if p + n > e:
        raise truncated(where, n, p, e)
    v = d[p:p + n]
    return (v if as_view else bytes(v)), p + n


def read_array_len(d: memoryview, p: int, e: int, where: str, nullable: bool, compact: bool,
                   min_elem: int) -> Tuple[int, int]:
    """Array element count, or -1 for null. Rejects counts that could not fit
    in the remaining bytes (``min_elem`` = smallest encoded element), so a bogus
    length never drives a huge allocation or loop."""
    if compact:
        n, p = read_uvarint(d, p, e, where)
        n -= 1
    else:
        if p + 4 > e:
            raise truncated(where, 4, p, e)
        n = INT32.unpack_from(d, p)[0]
        p += 4
    if n < 0:
        if n == -1 and nullable:
            return -1, p
        raise fail(where, f"invalid array length {n}")
    if n * min_elem > e - p:
        raise fail(where, f"array of {n} elements cannot fit in the {e - p} bytes left")
    return n, p


def read_uuid(d: memoryview, p: int, e: int, where: str) -> Tuple[uuid.UUID, int]:
    if p + 16 > e:
        raise truncated(where, 16, p, e)
    return uuid.UUID(bytes=bytes(d[p:p + 16])), p + 16


def skip_tagged_fields(d: memoryview, p: int, e: int, where: str) -> int:
    """Skip a tagged-field section (KIP-482) whose tags are all unknown."""
    n, p = read_uvarint(d, p, e, where)
    if n * 2 > e - p:
        raise fail(where, f"{n} tagged fields cannot fit in the {e - p} bytes left")
    for _ in range(n):
        _, p = read_uvarint(d, p, e, where)
        size, p = read_uvarint(d, p, e, where)
        if p + size > e:
            raise truncated(where, size, p, e)
        p += size
    return p


def as_byte_view(data: Any) -> memoryview:
    """A flat unsigned-byte memoryview over ``data`` (no copy)."""
    mv = data if type(data) is memoryview else memoryview(data)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def write_tagged_fields(buf: bytearray, tags: list) -> None:
    """A tagged-field section (KIP-482) from ``[(tag, encoded bytes)]``, tags ascending."""
    buf += uvarint_bytes(len(tags))
    for tag, data in tags:
        buf += uvarint_bytes(tag)
        buf += uvarint_bytes(len(data))
        buf += data


def fixed_truncated(where: str, names: Tuple[str, ...], sizes: Tuple[int, ...],
                    p: int, e: int) -> ProtocolError:
    """Name the first field of a fixed-width run that does not fit."""
    off = p
    for name, size in zip(names, sizes):
        if off + size > e:
            return truncated(f"{where}{name}", size, off, e)
        off += size
    return truncated(where.rstrip("."), sum(sizes), p, e)  # pragma: no cover
