"""Reader robustness: random and mutated input raises CorruptRecordError (or
parses, when a mutation happens to keep the batch valid), never anything else,
never crashes, never hangs."""
from __future__ import annotations

import os
import struct
import time

import crc32c
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches
from kprod._native.bufferpool import standalone_buffer
from kprod.errors import CorruptRecordError

# KPROD_FUZZ_EXAMPLES=5000 for a longer run.
FUZZ = settings(max_examples=int(os.environ.get("KPROD_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TIME_BOUND_S = 2.0


def make_batch(codec, n=12, pid=-1):
    b = RecordBatchBuilder(standalone_buffer(1 << 16), compression=codec)
    for i in range(n):
        b.append(1000 + 7 * i, b"key%d" % i if i % 2 else None, b"value-%d" % i * (i % 5),
                 [("h%d" % j, b"x" * j if j else None) for j in range(i % 3)])
    if pid >= 0:
        b.restamp(pid, 1, 0, False)
    return bytes(b.close())


VALID = {codec: make_batch(codec) for codec in range(5)}


def fix_crc(data: bytearray) -> bytearray:
    if len(data) >= 61:
        struct.pack_into(">I", data, 17, crc32c.crc32c(bytes(data[21:])))
    return data


def parse(data, **kw):
    """read_batches, allowed to fail only with CorruptRecordError, in bounded time."""
    t0 = time.perf_counter()
    try:
        out = read_batches(data, **kw)
    except CorruptRecordError as e:
        assert str(e)       # says what was wrong
        out = None
    assert time.perf_counter() - t0 < TIME_BOUND_S
    return out


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data):
    parse(data)
    parse(data, verify_crc=False)
    parse(data, allow_partial=True)


@FUZZ
@given(st.binary(min_size=0, max_size=300), st.integers(0, 0x7fffffff))
def test_random_records_region_behind_valid_header(body, count):
    """A well-formed header (CRC fixed up) over random record bytes."""
    hdr = bytearray(VALID[0][:61])
    data = hdr + body
    struct.pack_into(">i", data, 8, len(data) - 12)
    struct.pack_into(">i", data, 57, count)
    parse(fix_crc(data))


@pytest.mark.parametrize("codec", range(5))
@FUZZ
@given(data=st.data())
def test_mutated_batches(codec, data):
    valid = VALID[codec]
    buf = bytearray(valid)
    kind = data.draw(st.sampled_from(["flip", "truncate", "length", "count", "byte", "splice"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        del buf[data.draw(st.integers(0, len(buf) - 1)):]
    elif kind == "length":
        struct.pack_into(">i", buf, 8, data.draw(st.integers(-(2**31), 2**31 - 1)))
    elif kind == "count":
        struct.pack_into(">i", buf, 57, data.draw(st.integers(-(2**31), 2**31 - 1)))
    elif kind == "byte":
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    else:
        i = data.draw(st.integers(61, len(buf)))
        buf[i:i] = data.draw(st.binary(max_size=20))
    parse(bytes(buf))
    parse(bytes(buf), allow_partial=True)
    # with the CRC recomputed the damage reaches the record / codec parsers
    if len(buf) >= 61:
        fixed = fix_crc(bytearray(buf))
        if kind != "length":
            struct.pack_into(">i", fixed, 8, len(fixed) - 12)
            fixed = fix_crc(fixed)
        parse(bytes(fixed))
    parse(bytes(buf), verify_crc=False)


def test_crc_mismatch_message():
    buf = bytearray(VALID[0])
    buf[-1] ^= 0xFF
    with pytest.raises(CorruptRecordError, match="CRC"):
        read_batches(buf)


@pytest.mark.parametrize("cut", [1, 11, 12, 30, 60, 61, 62])
def test_truncated_batch_raises_or_is_dropped_when_partial_allowed(cut):
    two = VALID[0] + VALID[1]
    data = two[: len(VALID[0]) + cut]
    with pytest.raises(CorruptRecordError, match="truncated"):
        read_batches(data)
    (only,) = read_batches(data, allow_partial=True)
    assert only.records_count == 12


@pytest.mark.parametrize("mutate,msg", [
    (lambda b: struct.pack_into(">i", b, 8, 10), "invalid record batch length"),
    (lambda b: struct.pack_into(">b", b, 16, 1), "magic"),
    (lambda b: struct.pack_into(">i", b, 57, -1), "negative records count"),
    (lambda b: struct.pack_into(">i", b, 57, 10**6), "cannot fit"),
    (lambda b: struct.pack_into(">i", b, 57, 11), "bytes left after"),
    (lambda b: struct.pack_into(">h", b, 21, 5), "unknown compression codec"),
    (lambda b: struct.pack_into(">h", b, 21, 1), "cannot decompress gzip"),
])
def test_specific_corruptions_say_what_is_wrong(mutate, msg):
    buf = bytearray(VALID[0])
    mutate(buf)
    if msg != "invalid record batch length":
        fix_crc(buf)
    with pytest.raises(CorruptRecordError, match=msg):
        read_batches(bytes(buf))


def test_record_level_corruptions():
    # one record: key None, value b"v", no headers; then damage fields
    b = RecordBatchBuilder(standalone_buffer(200))
    b.append(0, None, b"v")
    good = bytearray(b.close())
    rec = good[61:]
    # length 7, attrs, ts delta 0, offset delta 0, key -1, value len 1, "v", 0 headers
    assert bytes(rec) == bytes.fromhex("0e" "00" "00" "00" "01" "02" "76" "00")
    cases = {
        "record length": bytes([0x7E]) + rec[1:],                   # length 63 > bytes left
        "invalid key length": rec[:4] + b"\x03" + rec[5:],          # key length -2
        "header count": rec[:-1] + b"\x09",                         # 4 headers in 0 bytes
        "overflow": b"\x20" + rec[1:2] + b"\xff" * 10 + rec[3:],   # ts varlong > 10 bytes
    }
    for msg, body in cases.items():
        data = bytearray(good[:61]) + body
        struct.pack_into(">i", data, 8, len(data) - 12)
        with pytest.raises(CorruptRecordError, match=msg):
            read_batches(bytes(fix_crc(data)))


def test_invalid_utf8_header_key():
    b = RecordBatchBuilder(standalone_buffer(200))
    b.append(0, None, b"v", [(b"\xff\xfe", b"x")])     # bytes keys are written as given
    data = bytearray(b.close())
    with pytest.raises(CorruptRecordError, match="UTF-8"):
        read_batches(bytes(data))


def test_producer_fields_survive_read():
    (batch,) = read_batches(make_batch(4, pid=42))
    assert batch.producer_id == 42 and batch.compression == 4
