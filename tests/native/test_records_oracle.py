"""Oracle tests: kprod's batches decoded by kafka-python (and aiokafka), and
kafka-python's batches decoded by kprod, for every codec."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches
from kprod._native.bufferpool import standalone_buffer
from kprod._native.record_encoding import record_size_upper_bound

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

CODECS = [0, 1, 2, 3, 4]
BASE_TS = 1_700_000_000_000

blobs = st.one_of(st.none(), st.binary(max_size=300), st.just(b""))
header_keys = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
headers = st.lists(st.tuples(header_keys, st.one_of(st.none(), st.binary(max_size=40))), max_size=4)
records = st.lists(
    # (ts delta, key, value, headers)
    st.tuples(st.integers(-(2**40), 2**40), blobs, blobs, headers),
    min_size=1, max_size=40,
)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def kprod_build(recs, codec, write_limit=None, capacity=None):
    """Build with kprod; return (bytes, number of records that fit)."""
    if capacity is None:
        capacity = max(sum(record_size_upper_bound(k, v, h) for _, k, v, h in recs),
                       write_limit or 0)
    b = RecordBatchBuilder(standalone_buffer(capacity), compression=codec,
                             write_limit=write_limit)
    n = 0
    for delta, k, v, h in recs:
        got = b.append(BASE_TS + delta, k, v, h)
        if got == -1:
            break
        assert got == n
        n += 1
    return bytes(b.close()), n


def expected(recs, n):
    return [(i, BASE_TS + d, k, v, list(h)) for i, (d, k, v, h) in enumerate(recs[:n])]


@pytest.mark.parametrize("codec", CODECS)
@SETTINGS
@given(recs=records)
def test_kafka_python_reads_kprod(codec, recs):
    data, n = kprod_build(recs, codec)
    assert n == len(recs)
    batch = DefaultRecordBatch(data)
    assert batch.validate_crc()
    assert batch.compression_type == codec
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (-1, -1, -1)
    assert batch.last_offset_delta == n - 1
    assert batch.first_timestamp == BASE_TS + recs[0][0]
    assert batch.max_timestamp == max(BASE_TS + d for d, *_ in recs)
    got = [(x.offset, x.timestamp, x.key, x.value, list(x.headers)) for x in batch]
    assert got == expected(recs, n)
    # and kprod's own reader agrees
    (mine,) = read_batches(data)
    assert [(x.offset, x.timestamp, x.key, x.value, x.headers) for x in mine] == got


@pytest.mark.parametrize("codec", CODECS)
@SETTINGS
@given(recs=records)
def test_kprod_reads_kafka_python(codec, recs):
    kb = DefaultRecordBatchBuilder(2, codec, False, -1, -1, -1, 10**7)
    for i, (d, k, v, h) in enumerate(recs):
        assert kb.append(i, BASE_TS + d, k, v, h) is not None
    data = bytes(kb.build())
    (batch,) = read_batches(data)
    assert batch.records_count == len(recs)
    assert batch.compression in (codec, 0)      # kafka-python falls back when not smaller
    got = [(x.offset, x.timestamp, x.key, x.value, x.headers) for x in batch]
    assert got == expected(recs, len(recs))


@SETTINGS
@given(recs=records)
def test_uncompressed_bytes_identical_to_kafka_python(recs):
    """Same encoder rules: only PartitionLeaderEpoch differs (kafka-python 0, Java -1);
    the CRC does not cover it."""
    data, n = kprod_build(recs, 0)
    kb = DefaultRecordBatchBuilder(2, 0, False, -1, -1, -1, 10**7)
    for i, (d, k, v, h) in enumerate(recs):
        kb.append(i, BASE_TS + d, k, v, h)
    theirs = bytes(kb.build())
    assert data[:12] + data[16:] == theirs[:12] + theirs[16:]


@pytest.mark.parametrize("codec", CODECS)
@SETTINGS
@given(recs=records, limit=st.integers(0, 3000))
def test_write_limit_and_large_records(codec, recs, limit):
    """The first record is always admitted; later ones only while the batch is not full."""
    data, n = kprod_build(recs, codec, write_limit=limit)
    assert n >= 1
    batch = DefaultRecordBatch(data)
    assert batch.validate_crc()
    got = [(x.offset, x.timestamp, x.key, x.value, list(x.headers)) for x in batch]
    assert got == expected(recs, n)
    if codec == 0 and n > 1:
        assert len(data) <= max(limit, 61)


@pytest.mark.parametrize("codec", CODECS)
def test_aiokafka_reads_kprod(codec):
    from aiokafka.record.default_records import DefaultRecordBatch as AioBatch
    recs = [(i * -3, b"k%d" % i if i % 3 else None, b"v" * i, [("hé", b"x"), ("n", None)])
            for i in range(50)]
    data, n = kprod_build(recs, codec)
    batch = AioBatch(data)
    assert batch.validate_crc()
    got = [(x.offset, x.timestamp, x.key, x.value, list(x.headers)) for x in batch]
    assert got == expected(recs, n)


@pytest.mark.parametrize("codec", CODECS)
@SETTINGS
@given(recs=records, pid=st.integers(0, 2**63 - 1), epoch=st.integers(0, 2**15 - 1),
       seq=st.integers(0, 2**31 - 1), txn=st.booleans())
def test_restamp_oracle(codec, recs, pid, epoch, seq, txn):
    capacity = sum(record_size_upper_bound(k, v, h) for _, k, v, h in recs)
    b = RecordBatchBuilder(standalone_buffer(capacity), compression=codec)
    for d, k, v, h in recs:
        b.append(BASE_TS + d, k, v, h)
    view = b.close()
    before = bytes(view)
    b.restamp(pid, epoch, seq, txn)
    after = bytes(view)
    assert after[61:] == before[61:]
    batch = DefaultRecordBatch(after)
    assert batch.validate_crc()
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence,
            batch.is_transactional) == (pid, epoch, seq, txn)
    got = [(x.offset, x.timestamp, x.key, x.value, list(x.headers)) for x in batch]
    assert got == expected(recs, len(recs))


def test_concatenated_batches_mixed_codecs():
    parts, want = [], []
    for codec in CODECS:
        recs = [(i, b"c%d" % codec, b"v%d" % i, []) for i in range(5)]
        data, _ = kprod_build(recs, codec)
        parts.append(data)
        want.append([x[2] for x in recs])
    batches = read_batches(b"".join(parts))
    assert [b.compression for b in batches] == CODECS
    assert [[x.value for x in b] for b in batches] == want
