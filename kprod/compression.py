"""Compression codecs of the Kafka RecordBatch v2 format.

Codec ids are the low three bits of the batch attributes (Kafka's
``CompressionType``): 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. Only the records
region of a batch is compressed; the 61-byte header stays plain.

Framing matches what the Java client writes (and what every broker and client
reads):

* gzip: a gzip stream (RFC 1952, mtime 0), via :mod:`zlib` with ``wbits=31``.
* snappy: snappy-java's (xerial) stream framing: a 16-byte header
  ``0x82 "SNAPPY" 0x00`` + int32 version 1 + int32 compatible version 1, then
  blocks ``[int32 BE compressed length][raw snappy block]`` over 32 KiB input
  chunks; via ``cramjam.snappy`` (the engine under python-snappy >= 0.7).
  Decoding also accepts a raw (unframed) snappy block.
* lz4: the LZ4 frame format with independent 64 KiB blocks, no block or content
  checksum (Kafka's KafkaLZ4BlockOutputStream), via :mod:`lz4.frame`.
* zstd: one zstd frame, via :mod:`zstandard`.

Levels follow KIP-390 (``compression.<codec>.level``): gzip 1..9 (default 6,
zlib's -1), lz4 1..17 (default 9, which like Java uses the fast compressor;
other levels use LZ4 HC, clamped at 16 by the library), zstd -131072..22
(default 3). Snappy has no level.

GIL: zlib, lz4.frame, zstandard and cramjam all release the GIL while they
compress or decompress, so a sender thread compressing a batch does not stall
the threads calling ``send()``.
"""
from __future__ import annotations

import struct
import zlib
from typing import Callable, Dict, Optional, Tuple

from kprod.errors import ConfigError

NONE = 0
GZIP = 1
SNAPPY = 2
LZ4 = 3
ZSTD = 4

CODEC_NAMES: Dict[int, str] = {NONE: "none", GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4",
                               ZSTD: "zstd"}
CODEC_IDS: Dict[str, int] = {name: codec for codec, name in CODEC_NAMES.items()}

# codec -> (min level, max level, default level); KIP-390.
LEVELS: Dict[int, Tuple[int, int, int]] = {
    GZIP: (1, 9, 6),
    LZ4: (1, 17, 9),
    ZSTD: (-131072, 22, 3),
}

_XERIAL_HEADER = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
_XERIAL_MAGIC = _XERIAL_HEADER[:8]
_XERIAL_BLOCK = 32 * 1024
_pack_int = struct.Struct(">i").pack_into
_unpack_int = struct.Struct(">i").unpack_from


def codec_id(codec) -> int:
    """Codec id from an id or a name ("none", "gzip", "snappy", "lz4", "zstd")."""
    if isinstance(codec, str):
        try:
            return CODEC_IDS[codec.lower()]
        except KeyError:
            raise ConfigError(f"unknown compression type {codec!r}") from None
    if isinstance(codec, int) and not isinstance(codec, bool) and codec in CODEC_NAMES:
        return codec
    raise ConfigError(f"unknown compression type {codec!r}")


def check_level(codec: int, level: Optional[int]) -> Optional[int]:
    """Validate a KIP-390 level for ``codec``; None means the codec default."""
    if level is None:
        return None
    if codec not in LEVELS:
        raise ConfigError(f"compression type {CODEC_NAMES.get(codec, codec)} takes no level")
    if isinstance(level, bool) or not isinstance(level, int):
        raise ConfigError(f"compression level must be an int, got {level!r}")
    lo, hi, _ = LEVELS[codec]
    if not lo <= level <= hi:
        raise ConfigError(f"{CODEC_NAMES[codec]} compression level {level} not in [{lo}, {hi}]")
    return level


# ---------------------------------------------------------------- compress

def _gzip_compress(data, level: Optional[int]):
    return zlib.compress(data, -1 if level is None else level, 31)


def _snappy_compress(data, level: Optional[int]):
    import cramjam

    compress_into = cramjam.snappy.compress_raw_into
    view = memoryview(data).cast("B")
    n = len(view)
    nblocks = (n + _XERIAL_BLOCK - 1) // _XERIAL_BLOCK
    block_max = cramjam.snappy.compress_raw_max_len(view[:_XERIAL_BLOCK]) if n else 0
    out = bytearray(16 + nblocks * (4 + block_max))
    out[:16] = _XERIAL_HEADER
    pos = 16
    with memoryview(out) as dst:
        for start in range(0, n, _XERIAL_BLOCK):
            written = compress_into(view[start:start + _XERIAL_BLOCK], dst[pos + 4:])
            _pack_int(out, pos, written)
            pos += 4 + written
    del out[pos:]
    return out


def _lz4_compress(data, level: Optional[int]):
    import lz4.frame  # type: ignore[import-untyped]

    # Java: the default level 9 uses the fast compressor, any other level HC.
    lib_level = 0 if level is None or level == 9 else min(level, 16)
    return lz4.frame.compress(
        data,
        compression_level=lib_level,
        block_size=lz4.frame.BLOCKSIZE_MAX64KB,
        block_linked=False,
        content_checksum=False,
        block_checksum=False,
        store_size=False,
    )


def _zstd_compress(data, level: Optional[int]):
    import zstandard

    lvl = 3 if level is None else level
    # ZstdCompressor objects are not thread-safe for concurrent use; create
    # one per call (cheap next to compressing a batch).
    return zstandard.ZstdCompressor(level=lvl).compress(data)


# ---------------------------------------------------------------- decompress

def _gzip_decompress(data):
    out = []
    buf = bytes(data)
    while True:
        d = zlib.decompressobj(47)  # gzip or zlib header, auto-detected
        out.append(d.decompress(buf))
        if not d.eof:
            raise ValueError("truncated gzip stream")
        buf = d.unused_data
        if not buf:
            break
    return b"".join(out) if len(out) != 1 else out[0]


def _snappy_decompress(data):
    import cramjam

    view = memoryview(data).cast("B")
    if len(view) >= 16 and view[:8] == _XERIAL_MAGIC:
        parts = []
        pos = 16
        n = len(view)
        while pos < n:
            if pos + 4 > n:
                raise ValueError("truncated xerial snappy block length")
            (block,) = _unpack_int(view, pos)
            pos += 4
            if block < 0 or pos + block > n:
                raise ValueError(f"bad xerial snappy block length {block}")
            parts.append(bytes(cramjam.snappy.decompress_raw(view[pos:pos + block])))
            pos += block
        return b"".join(parts)
    return bytes(cramjam.snappy.decompress_raw(view))


def _lz4_decompress(data):
    import lz4.frame

    return lz4.frame.decompress(data)


def _zstd_decompress(data):
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    out = []
    buf = data
    while True:
        d = dctx.decompressobj()
        out.append(d.decompress(buf))
        if not d.eof:
            raise ValueError("truncated zstd frame")
        buf = d.unused_data
        if not buf:
            break
    return b"".join(out) if len(out) != 1 else out[0]


COMPRESSORS: Dict[int, Callable] = {
    GZIP: _gzip_compress,
    SNAPPY: _snappy_compress,
    LZ4: _lz4_compress,
    ZSTD: _zstd_compress,
}
DECOMPRESSORS: Dict[int, Callable] = {
    GZIP: _gzip_decompress,
    SNAPPY: _snappy_decompress,
    LZ4: _lz4_decompress,
    ZSTD: _zstd_decompress,
}


def compress(codec: int, data, level: Optional[int] = None):
    """Compress ``data`` (any bytes-like) with Kafka's framing for ``codec``.

    Returns a bytes-like object (bytes or bytearray). ``codec`` 0 returns data.
    """
    if codec == NONE:
        return data
    try:
        fn = COMPRESSORS[codec]
    except KeyError:
        raise ConfigError(f"unknown compression type {codec!r}") from None
    return fn(data, level)


def decompress(codec: int, data):
    """Inverse of :func:`compress`. Library errors propagate as they are."""
    if codec == NONE:
        return data
    try:
        fn = DECOMPRESSORS[codec]
    except KeyError:
        raise ValueError(f"unknown compression codec {codec}") from None
    return fn(data)
