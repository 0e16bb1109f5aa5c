"""Test-only helpers for the native RecordBatch builder and reader (pure Python).

The native varint code (kprod/_native/varint.pxd, inline C) has no Python entry
of its own: these probes run it through the public builder and reader, and the
references here (zig-zag varints, CRC-32C, the v2 batch header) are written out
independently of it, straight from Kafka's ``ByteUtils``, ``DefaultRecord`` and
``DefaultRecordBatch``.
"""
from __future__ import annotations

import struct
from typing import Sequence, Tuple

from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches
from kprod._native.bufferpool import standalone_buffer

HEADER_SIZE = 61


def zigzag_encode(value: int, bits: int) -> bytes:
    """Zig-zag then unsigned LEB128 (protobuf; Kafka ``ByteUtils.writeVarint/Varlong``)."""
    u = ((value << 1) ^ (value >> (bits - 1))) & ((1 << bits) - 1)
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def _crc32c_table() -> Tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1     # Castagnoli, reflected
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (RFC 3720), table-driven, for small inputs."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def batch(records: bytes, count: int, *, base_offset: int = 0, base_timestamp: int = 0) -> bytes:
    """A v2 batch header (DefaultRecordBatch, no compression, no producer id) around
    ``records``, the raw bytes of ``count`` records; CRC included."""
    after_crc = struct.pack(">hiqqqhii", 0, count - 1, base_timestamp, base_timestamp,
                            -1, -1, -1, count) + records
    crc = crc32c(after_crc)
    return struct.pack(">qiibI", base_offset, 9 + len(after_crc), -1, 2, crc) + after_crc


def record(body: bytes) -> bytes:
    """A record from its body (attributes onwards): the length varint in front."""
    return zigzag_encode(len(body), 32) + body


def native_varlong(value: int) -> bytes:
    """How the native builder writes the varlong ``value``: the timestamp delta of a
    batch's second record (the first one's timestamp is 0)."""
    builder = RecordBatchBuilder(standalone_buffer(256))
    builder.append(0, None, None)
    builder.append(value, None, None)
    data = bytes(builder.close())
    second = data[HEADER_SIZE + 7:]           # the first record: 7 bytes
    length = second[0] >> 1                   # (zig-zag) its body is at most 15 bytes
    # body: attributes, timestamp delta, offset delta (1), null key, null value, 0 headers
    return second[2:1 + length - 4]


def native_read_varlong(encoded: bytes) -> int:
    """How the native reader decodes ``encoded`` as a varlong: a record's timestamp
    delta over a base timestamp of 0."""
    body = b"\x00" + encoded + b"\x00\x01\x01\x00"
    (parsed,) = read_batches(batch(record(body), 1))
    return parsed.records[0].timestamp


def native_read_varint(encoded: bytes) -> int:
    """How the native reader decodes ``encoded`` as a varint: a record's offset delta
    over a base offset of 0."""
    body = b"\x00\x00" + encoded + b"\x01\x01\x00"
    (parsed,) = read_batches(batch(record(body), 1))
    return parsed.records[0].offset


def native_sizes(key_lengths: Sequence[int]) -> Tuple[bytes, ...]:
    """The native writer's length varints of keys of these lengths (-1: null), each as
    written in a batch of one record."""
    out = []
    for n in key_lengths:
        builder = RecordBatchBuilder(standalone_buffer(n + 200))
        builder.append(0, None if n < 0 else b"k" * n, None)
        data = bytes(builder.close())
        body_start = HEADER_SIZE + len(zigzag_encode(len(data) - HEADER_SIZE - 1, 32))
        # body: attributes, timestamp delta 0, offset delta 0, then the key length
        key_field = data[body_start + 3:]
        out.append(key_field[:len(key_field) - max(n, 0) - 2])
    return tuple(out)


def second_record_garbage(tail: bytes) -> bytes:
    """A batch whose second record starts with ``tail`` (then the batch ends): the
    first record is valid, with a value long enough for the count to be plausible."""
    first = record(b"\x00\x00\x00\x01" + zigzag_encode(20, 32) + b"v" * 20 + b"\x00")
    return batch(first + tail, 2)
