"""RecordBatch v2 builder and reader (kprod._native.batch_builder, batch_reader): wire bytes,
sizing/fullness rules, restamp, buffer ownership, compression framing."""
from __future__ import annotations

import struct

import crc32c
import pytest

from kprod import compression as codecs
from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches
from kprod._native.bufferpool import BufferPool, standalone_buffer
from kprod._native.record_encoding import (
    MAX_RECORD_OVERHEAD, RECORD_BATCH_OVERHEAD, record_size_upper_bound,
)
from kprod.errors import ConfigError, IllegalStateError, StaleBufferError

from .records_helpers import crc32c as reference_crc32c

TS = 1_700_000_000_000

# Two records, no compression, not idempotent, as Java's DefaultRecordBatch lays them out
# (kafka-python's builder writes the same bytes but PartitionLeaderEpoch 0, not -1).
GOLDEN_83 = bytes.fromhex(
    "0000000000000000" "00000047" "ffffffff" "02" "97cfdb6d" "0000" "00000001"
    "0000018bcfe56800" "0000018bcfe56805" "ffffffffffffffff" "ffff" "ffffffff" "00000002"
    "10" "00" "00" "00" "02" "6b" "02" "76" "00"
    "18" "00" "0a" "02" "01" "04" "7676" "02" "02" "68" "02" "78"
)


def builder(capacity=1 << 16, **kw):
    return RecordBatchBuilder(standalone_buffer(capacity), **kw)


def build(records, capacity=1 << 16, **kw):
    b = builder(capacity, **kw)
    for ts, key, value, headers in records:
        assert b.append(ts, key, value, headers) >= 0
    return bytes(b.close())


# ---------------------------------------------------------------- vectors

@pytest.mark.parametrize("data,crc", [
    (b"", 0x00000000), (b"a", 0xC1D04330), (b"123456789", 0xE3069283),
    (b"Some String", 608512271),
])
def test_crc32c_reference_vectors(data, crc):
    assert reference_crc32c(data) == crc


@pytest.mark.parametrize("value_size", [0, 100, 40000, 1 << 20])
def test_batch_crc_is_crc32c_of_attributes_to_end(value_size):
    # 32 KiB and more: the crc32c package releases the GIL for such buffers
    b = builder(value_size + 200)
    b.append(TS, b"k", bytes(range(256)) * (value_size // 256) + b"x" * (value_size % 256))
    out = bytes(b.close())
    stored = struct.unpack_from(">I", out, 17)[0]
    assert stored == crc32c.crc32c(out[21:])
    if value_size <= 40000:
        assert stored == reference_crc32c(out[21:])


def test_golden_83_byte_batch():
    b = builder(1000)
    assert b.append(TS, b"k", b"v") == 0
    assert b.append(TS + 5, None, b"vv", [("h", b"x")]) == 1
    out = b.close()
    assert isinstance(out, memoryview)
    assert bytes(out) == GOLDEN_83
    assert b.size_in_bytes == 83 == len(out)


def test_golden_batch_reads_back():
    (batch,) = read_batches(GOLDEN_83)
    assert (batch.base_offset, batch.length, batch.partition_leader_epoch,
            batch.magic) == (0, 71, -1, 2)
    assert batch.crc == 0x97CFDB6D
    assert (batch.attributes, batch.compression, batch.is_transactional,
            batch.is_control) == (0, 0, False, False)
    assert (batch.last_offset_delta, batch.base_timestamp, batch.max_timestamp) == (1, TS, TS + 5)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence,
            batch.records_count) == (-1, -1, -1, 2)
    assert batch.size_in_bytes == 83 and batch.next_offset == 2 and len(batch) == 2
    r0, r1 = batch.records
    assert (r0.offset, r0.timestamp, r0.key, r0.value, r0.headers) == (0, TS, b"k", b"v", [])
    assert (r1.offset, r1.timestamp, r1.key, r1.value,
            r1.headers) == (1, TS + 5, None, b"vv", [("h", b"x")])


def test_header_fields_written_like_java():
    b = builder(producer_id=77, producer_epoch=3, base_sequence=2**31 - 1, transactional=True,
                compression=0)
    b.append(TS, None, b"x")
    b.append(TS - 10, None, b"y")     # negative delta; max stays TS
    data = bytes(b.close())
    (batch,) = read_batches(data)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (77, 3, 2**31 - 1)
    assert batch.is_transactional and batch.attributes == 0x10
    assert (batch.base_timestamp, batch.max_timestamp) == (TS, TS)
    assert [rec.timestamp for rec in batch] == [TS, TS - 10]
    assert struct.unpack_from(">i", data, 12)[0] == -1      # NO_PARTITION_LEADER_EPOCH


def test_record_size_upper_bound_java_formula():
    # 61 + 21 + (1+1) + (1+1) + 1
    assert record_size_upper_bound(b"k", b"v") == 87
    assert record_size_upper_bound(None, None) == 61 + 21 + 3
    assert record_size_upper_bound(None, b"x" * 200, [("é", None), ("ab", b"cd")]) == (
        61 + 21 + 1 + (2 + 200) + 1 + (1 + 2 + 1) + (1 + 2 + 1 + 2))
    assert RECORD_BATCH_OVERHEAD == 61 and MAX_RECORD_OVERHEAD == 21


# ---------------------------------------------------------------- inputs

def test_any_bytes_like_key_value_and_headers():
    b = builder()
    b.append(TS, bytearray(b"ka"), memoryview(b"va"),
             ((b"bk", bytearray(b"hv")), ["lk", memoryview(b"x")]))
    b.append(TS, b"", b"", [])
    b.append(TS, None, None, iter([("gen", None)]))
    (batch,) = read_batches(b.close())
    recs = batch.records
    assert (recs[0].key, recs[0].value,
            recs[0].headers) == (b"ka", b"va", [("bk", b"hv"), ("lk", b"x")])
    assert (recs[1].key, recs[1].value, recs[1].headers) == (b"", b"", [])
    assert (recs[2].key, recs[2].value, recs[2].headers) == (None, None, [("gen", None)])


@pytest.mark.parametrize("bad", [
    dict(key="str"), dict(value=1), dict(headers=[(None, b"x")]), dict(headers=[(1, b"x")]),
    dict(headers=[("k", "str-value")]), dict(headers=[("k",)]), dict(headers=5),
])
def test_bad_types_raise_typeerror_and_leave_batch_unchanged(bad):
    b = builder()
    b.append(TS, b"a", b"b")
    args = dict(key=None, value=b"v", headers=None)
    args.update(bad)
    with pytest.raises((TypeError, ValueError)):
        b.append(TS, args["key"], args["value"], args["headers"])
    assert b.num_records == 1
    (batch,) = read_batches(b.close())
    assert batch.records_count == 1


def test_timestamp_must_be_int64():
    b = builder()
    with pytest.raises(OverflowError):
        b.append(2**63, None, b"v")
    with pytest.raises(TypeError):
        b.append("1", None, b"v")


# ---------------------------------------------------------------- sizing / fullness

def test_first_record_always_admitted_even_above_write_limit():
    big = b"x" * 5000
    cap = record_size_upper_bound(None, big)
    b = builder(cap, write_limit=100)
    assert b.append(TS, None, big) == 0
    assert b.is_full
    assert b.append(TS, None, b"") == -1
    (batch,) = read_batches(b.close())
    assert batch.records[0].value == big


def test_first_record_larger_than_buffer_raises():
    b = builder(100)
    with pytest.raises(ValueError, match="does not fit"):
        b.append(TS, None, b"x" * 100)
    assert b.num_records == 0


def test_exactly_full_batch():
    # each record: length, attrs, ts delta, offset delta, null key, 1+3 value, header count
    b = builder(1000, write_limit=61 + 3 * 10)
    for i in range(3):
        assert not b.is_full
        assert b.append(TS, None, b"abc") == i
    assert b.size_in_bytes == 61 + 30
    assert b.is_full
    assert b.append(TS, None, b"") == -1
    assert not b.has_room_for(-1, 0)


def test_append_returns_minus_one_at_write_limit_not_exception():
    b = builder(1 << 16, write_limit=1000)
    n = 0
    while b.append(TS + n, b"key", b"value" * 10) != -1:
        n += 1
    assert b.num_records == n and n > 5
    assert b.size_in_bytes <= 1000
    assert b.is_full or not b.has_room_for(3, 50, timestamp_ms=TS + n)
    (batch,) = read_batches(b.close())
    assert batch.records_count == n


def test_has_room_for_agrees_with_append():
    b = builder(500, write_limit=400)
    i = 0
    while True:
        room = b.has_room_for(3, 20, [("h", b"v")], timestamp_ms=TS + i)
        got = b.append(TS + i, b"abc", b"x" * 20, [("h", b"v")])
        assert room == (got != -1)
        if got == -1:
            break
        i += 1


def test_never_writes_past_capacity_exact_buffer():
    value = b"v" * 37
    one = record_size_upper_bound(None, value)
    # an exactly sized buffer: header + the real record size
    rec_size = 1 + 1 + 1 + 1 + 1 + (1 + 37) + 1   # len, attrs, ts, off, key, value, hcount
    buf = standalone_buffer(61 + rec_size)
    b = RecordBatchBuilder(buf)
    assert b.append(TS, None, value) == 0
    assert b.size_in_bytes == buf.capacity
    assert b.append(TS, None, b"") == -1
    assert one >= buf.capacity
    assert read_batches(b.close())[0].records[0].value == value


def test_never_writes_past_capacity_sentinel():
    cap = 4000
    buf = standalone_buffer(cap)
    with memoryview(buf) as m:
        m[:] = b"\xab" * cap
    b = RecordBatchBuilder(buf, write_limit=10**9)
    i = 0
    while b.append(TS + i, b"k%d" % i, b"x" * (i % 50), [("h", b"y" * (i % 7))] * (i % 3)) != -1:
        i += 1
    end = b.size_in_bytes
    assert end <= cap
    with memoryview(buf) as m:
        assert bytes(m[end:]) == b"\xab" * (cap - end)
    assert read_batches(b.close())[0].records_count == i


def test_compression_estimate_uses_ratio():
    b = builder(1 << 16, compression=codecs.GZIP, write_limit=2000,
                estimated_compression_ratio=0.5)
    n = 0
    while b.append(TS, None, b"a" * 100) != -1:
        n += 1
    # (61 + n*104*0.5*1.05) reaches 2000 at about n = 35 (vs ~18 uncompressed)
    assert 30 <= n <= 36
    assert b.estimated_size_in_bytes >= 61
    out = b.close()
    assert len(out) == b.size_in_bytes == b.estimated_size_in_bytes
    assert b.compression_ratio < 0.5


# ---------------------------------------------------------------- close / state

def test_close_is_idempotent_and_blocks_appends():
    b = builder()
    b.append(TS, None, b"v")
    a = bytes(b.close())
    assert bytes(b.close()) == a
    assert b.is_closed and b.is_full
    with pytest.raises(IllegalStateError):
        b.append(TS, None, b"v")


def test_empty_batch_builds_to_nothing():
    b = builder()
    assert len(b.close()) == 0
    assert b.size_in_bytes == 0
    assert read_batches(b"") == []


def test_producer_state_validation():
    with pytest.raises(ValueError):
        builder(transactional=True)
    b = builder(producer_id=5, producer_epoch=-1)
    b.append(TS, None, b"v")
    with pytest.raises(ValueError, match="epoch"):
        b.close()
    with pytest.raises(ValueError, match="sequence"):
        b.restamp(5, 0, -1, False)
    b.restamp(5, 0, 0, False)
    assert read_batches(b.close())[0].producer_id == 5


def test_level_validation():
    for codec, level in [(1, 0), (1, 10), (3, 18), (4, 23), (4, -131073), (2, 1), (0, 1)]:
        with pytest.raises(ConfigError):
            builder(compression=codec, compression_level=level)
    with pytest.raises(ValueError):
        builder(compression=5)
    for codec, level in [(1, 1), (1, 9), (3, 1), (3, 17), (4, -5), (4, 22)]:
        b = builder(compression=codec, compression_level=level)
        b.append(TS, None, b"hello" * 100)
        assert read_batches(b.close())[0].records[0].value == b"hello" * 100


def test_buffer_held_until_builder_dies():
    pool = BufferPool(10_000, 1000)
    buf = pool.allocate(1000, 0)
    b = RecordBatchBuilder(buf)
    b.append(TS, None, b"v")
    buf.release()                       # owner releases early: the builder's view keeps it
    assert pool.available_memory < 10_000
    with pytest.raises(StaleBufferError, match="was released"):
        b.close()                       # no new views of a released buffer
    del b
    assert pool.available_memory == 10_000


def test_release_buffer_keeps_closed_view_alive():
    pool = BufferPool(10_000, 1000)
    b = RecordBatchBuilder(pool.allocate(1000, 0))
    b.append(TS, b"k", b"v")
    view = b.close()
    data = bytes(view)
    b.release_buffer()
    assert bytes(view) == data          # memory stays until the view goes
    assert pool.available_memory < 10_000
    with pytest.raises(IllegalStateError):
        b.restamp(1, 1, 1, False)
    view.release()
    assert pool.available_memory == 10_000


# ---------------------------------------------------------------- restamp

@pytest.mark.parametrize("codec", [0, 1, 2, 3, 4])
def test_restamp_rewrites_header_and_crc_only(codec):
    b = builder(compression=codec)
    for i in range(20):
        b.append(TS + i, b"key%d" % i, b"value" * i, [("h", b"%d" % i)])
    view = b.close()
    before = bytes(view)
    b.restamp(1234, 7, 99, True)
    after = bytes(view)
    assert after[61:] == before[61:]            # records untouched (not recompressed)
    assert after[:17] == before[:17]
    (batch,) = read_batches(after)            # CRC verified by the reader
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (1234, 7, 99)
    assert batch.is_transactional and batch.compression == codec
    assert (b.producer_id, b.producer_epoch, b.base_sequence,
            b.is_transactional) == (1234, 7, 99, True)
    from kafka.record.default_records import DefaultRecordBatch
    k = DefaultRecordBatch(after)
    assert k.validate_crc()
    assert (k.producer_id, k.producer_epoch, k.base_sequence,
            k.is_transactional) == (1234, 7, 99, True)
    assert [x.value for x in k] == [b"value" * i for i in range(20)]
    b.restamp(-1, -1, -1, False)
    assert bytes(view)[21:23] == bytes([0, codec])
    assert read_batches(view)[0].producer_id == -1


@pytest.mark.parametrize("codec", [0, 3])
def test_restamp_crc_matches_a_full_pass_at_every_size(codec):
    """restamp() combines the header's CRC with the records' CRC kept from close()
    (crc32c_combine.pxd) instead of reading the batch again: the stored CRC equals a
    full CRC-32C of attributes..end for batches of 1 to 3,000 records (records regions
    of a few bytes to ~300 KB, lengths with every low bit pattern), after close and
    after each of several restamps (a retry's new epoch, a sequence wrap)."""
    import random
    rng = random.Random(codec)
    for count in [1, 2, 3, 7, 64, 255, 1000, 3000]:
        b = builder(1 << 20, compression=codec)
        for i in range(count):
            value = rng.randbytes(rng.randrange(0, 200))
            assert b.append(TS + i, None, value) == i
        view = b.close()
        states = [(1234, 0, 0, False), (1234, 1, 2**31 - 5, True), (-1, -1, -1, False),
                  (2**63 - 1, 32767, 17, False)]
        for state in states:
            b.restamp(*state)
            data = bytes(view)
            (stored,) = struct.unpack_from(">I", data, 17)
            assert stored == crc32c.crc32c(data[21:])
            if len(data) < 20_000:                 # the pure-Python reference is slow
                assert stored == reference_crc32c(data[21:])
            (batch,) = read_batches(data)          # the reader checks it too
            assert (batch.producer_id, batch.producer_epoch, batch.base_sequence,
                    batch.is_transactional) == state
            assert len(batch.records) == count


def test_restamp_before_close_sets_state():
    b = builder()
    b.append(TS, None, b"v")
    b.restamp(3, 4, 5, False)
    assert read_batches(b.close())[0].base_sequence == 5


# ---------------------------------------------------------------- compression

XERIAL = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01"


def test_snappy_xerial_framing_32k_blocks():
    b = builder(1 << 20, compression=codecs.SNAPPY)
    for i in range(1000):
        b.append(TS, None, bytes([i % 251]) * 100)
    data = bytes(b.close())
    region = data[61:]
    assert region[:16] == XERIAL
    # walk the blocks: each [int32 BE len][raw snappy of <= 32 KiB input]
    import cramjam
    pos, total = 16, 0
    while pos < len(region):
        (n,) = struct.unpack_from(">i", region, pos)
        chunk = bytes(cramjam.snappy.decompress_raw(region[pos + 4:pos + 4 + n]))
        assert len(chunk) <= 32768
        total += len(chunk)
        pos += 4 + n
    assert pos == len(region) and total == b.uncompressed_size_in_bytes - 61
    assert total > 3 * 32768


def test_raw_snappy_is_accepted_by_reader():
    import cramjam
    b = builder(compression=0)
    b.append(TS, b"k", b"v" * 50)
    plain = bytearray(b.close())
    raw = bytes(cramjam.snappy.compress_raw(bytes(plain[61:])))
    data = plain[:61] + raw
    struct.pack_into(">i", data, 8, len(data) - 12)
    struct.pack_into(">h", data, 21, 2)
    struct.pack_into(">I", data, 17, crc32c.crc32c(bytes(data[21:])))
    assert read_batches(data)[0].records[0].value == b"v" * 50


def test_lz4_frame_and_gzip_and_zstd_magic():
    payload = [(TS, None, b"abc" * 100, None)]
    assert build(payload, compression=1)[61:63] == b"\x1f\x8b"
    assert build(payload, compression=3)[61:65] == bytes.fromhex("04224d18")
    assert build(payload, compression=4)[61:65] == bytes.fromhex("28b52ffd")


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_compressed_larger_than_buffer_goes_to_owned_bytearray(codec):
    import os
    value = os.urandom(3000)                    # incompressible: output > input
    cap = record_size_upper_bound(None, value)
    buf = standalone_buffer(cap)
    b = RecordBatchBuilder(buf, compression=codec)
    b.append(TS, None, value)
    view = b.close()                            # Java always sends the configured codec
    (batch,) = read_batches(view)
    assert batch.compression == codec and batch.records[0].value == value
    b.restamp(1, 2, 3, False)
    assert read_batches(view)[0].base_sequence == 3
    if len(view) > cap:
        assert view.obj is not buf


def test_compression_module_roundtrip_and_names():
    data = b"0123456789" * 10_000
    for codec in (1, 2, 3, 4):
        assert codecs.decompress(codec, codecs.compress(codec, data)) == data
    assert codecs.codec_id("ZSTD") == 4 and codecs.codec_id(2) == 2
    with pytest.raises(ConfigError):
        codecs.codec_id("brotli")
