"""A minimal, self-contained Kafka wire writer for the ceiling client (bench.clients.ceiling).

Only what a raw client needs to push pre-built data at a broker: a RecordBatch v2
encoder (KIP-98 record format, CRC32C over attributes..end) and Produce v7 requests and
responses (the last non-flexible Produce version; KIP-482 made v9+ flexible). Written
for the benchmark on purpose, independent of kprod's own encoder, which is under test.
"""
from __future__ import annotations

import struct
import time
from typing import Iterable, List, Optional, Sequence, Tuple

import crc32c

PRODUCE_KEY, PRODUCE_VERSION = 0, 7
BATCH_OVERHEAD = 61            # RecordBatch v2 header bytes before the records
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

Header = Tuple[str, Optional[bytes]]


def zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def varint(n: int) -> bytes:
    """Zig-zag varint (protobuf style), as records use for lengths and deltas."""
    v = zigzag(n) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def encode_record(offset_delta: int, key: Optional[bytes], value: Optional[bytes],
                  headers: Optional[Sequence[Header]] = None, timestamp_delta: int = 0) -> bytes:
    body = bytearray(b"\x00")   # attributes
    body += varint(timestamp_delta) + varint(offset_delta)
    for field in (key, value):
        body += varint(-1) if field is None else varint(len(field)) + field
    body += varint(len(headers or ()))
    for name, hvalue in headers or ():
        raw = name.encode()
        body += varint(len(raw)) + raw
        body += varint(-1) if hvalue is None else varint(len(hvalue)) + hvalue
    return varint(len(body)) + bytes(body)


def compress(codec: str, data: bytes) -> bytes:
    if codec == "none":
        return data
    if codec == "lz4":   # Kafka reads independent blocks (KafkaLZ4BlockInputStream)
        import lz4.frame
        return lz4.frame.compress(data, block_linked=False, content_checksum=False)
    if codec == "zstd":
        import zstandard
        return zstandard.ZstdCompressor(level=3).compress(data)
    if codec == "gzip":
        import gzip
        return gzip.compress(data)
    raise ValueError(f"codec {codec!r} not supported by the raw writer")


def encode_batch(records: Sequence[bytes], codec: str = "none",
                 timestamp_ms: Optional[int] = None) -> bytes:
    """A non-idempotent RecordBatch v2 (producer id -1) of already encoded records whose
    offset deltas are 0..len-1; the broker assigns the offsets."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    payload = compress(codec, b"".join(records))
    after_crc = struct.pack(">hiqqqhii", CODECS[codec], len(records) - 1, ts, ts, -1, -1, -1,
                            len(records)) + payload
    crc = crc32c.crc32c(after_crc)
    tail = struct.pack(">ibI", -1, 2, crc) + after_crc   # leader epoch, magic, crc
    return struct.pack(">qi", 0, len(tail)) + tail


def fill_batch(pool: Sequence[Tuple[Optional[bytes], Optional[bytes], Optional[Sequence[Header]]]],
               batch_size: int, codec: str = "none", start: int = 0,
               limit: int = 1_000_000) -> Tuple[bytes, int]:
    """(batch, record count): as many (key, value, headers) records, cycled from ``pool``
    from index ``start`` on, as keep the encoded batch within ``batch_size`` bytes (at
    least one; at most ``limit``)."""
    def build(count: int) -> bytes:
        return encode_batch([encode_record(d, *pool[(start + d) % len(pool)])
                             for d in range(count)], codec)

    high = 1
    while high < limit and len(build(min(high * 2, limit))) <= batch_size:
        high = min(high * 2, limit)
    low, high = high, min(high * 2, limit)
    while low < high:   # the largest count that fits
        mid = (low + high + 1) // 2
        if len(build(mid)) <= batch_size:
            low = mid
        else:
            high = mid - 1
    return build(low), low


def ceiling_batch(pool: Sequence[Tuple[Optional[bytes], Optional[bytes],
                                       Optional[Sequence[Header]]]],
                  batch_size: int, codec: str = "none") -> Tuple[bytes, int]:
    """(batch, record count) the ceiling client sends: as many records as an
    uncompressed batch of ``batch_size`` holds, compressed with ``codec``. (Filling
    batch.size with compressed bytes would put ~1M of the cycled, highly compressible
    values in one batch, which no client does.)"""
    _, count = fill_batch(pool, batch_size, "none")
    return fill_batch(pool, batch_size, codec, limit=count)


def produce_request(correlation_id: int, client_id: str, acks: int, timeout_ms: int,
                    topic: str, partitions: Iterable[Tuple[int, bytes]]) -> bytearray:
    """A size-prefixed Produce v7 request (header v1). The correlation id sits at bytes
    8..12, so one request can be re-sent with :func:`set_correlation`."""
    cid = client_id.encode()
    name = topic.encode()
    parts = list(partitions)
    out = bytearray(struct.pack(">hhih", PRODUCE_KEY, PRODUCE_VERSION, correlation_id, len(cid)))
    out += cid + struct.pack(">hhi", -1, acks, timeout_ms)   # null transactional id
    out += struct.pack(">ih", 1, len(name)) + name + struct.pack(">i", len(parts))
    for index, batch in parts:
        out += struct.pack(">ii", index, len(batch)) + batch
    return bytearray(struct.pack(">i", len(out))) + out


def set_correlation(request: bytearray, correlation_id: int) -> None:
    struct.pack_into(">i", request, 8, correlation_id)


def parse_produce_response(body: bytes) -> Tuple[int, List[Tuple[str, int, int, int]]]:
    """(correlation id, [(topic, partition, error code, base offset)]) of a Produce v7
    response body (the bytes after its size prefix); every read is bounds-checked."""
    pos = 0

    def take(fmt: str):
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(body):
            raise ValueError(f"Produce response truncated at byte {pos} of {len(body)}")
        values = struct.unpack_from(fmt, body, pos)
        pos += size
        return values

    (correlation,) = take(">i")
    out = []
    (topics,) = take(">i")
    for _ in range(max(0, topics)):
        (length,) = take(">h")
        if length < 0 or pos + length > len(body):
            raise ValueError("Produce response: bad topic name length")
        name = body[pos:pos + length].decode()
        pos += length
        (count,) = take(">i")
        for _ in range(max(0, count)):
            index, error, base, _append, _start = take(">ihqqq")
            out.append((name, index, error, base))
    take(">i")   # throttle_time_ms
    return correlation, out
