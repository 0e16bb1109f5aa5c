"""Round trips against the real broker, read back with confluent-kafka.

Every codec x (acks, idempotence): keys, values, headers (None values, unicode
names), explicit and default timestamps, null keys/values; murmur2 partition of
keyed records; per-partition order; RecordMetadata equal to what a consumer sees.
"""
from __future__ import annotations

import time

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME

from kprod.partitioner import partition_for_key
from kprod.record import ProducerRecord, RecordMetadata

from .readback import by_partition, read_all, wait_writable, without_probes

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
DELIVERY = [pytest.param(0, False, id="acks0"), pytest.param(1, False, id="acks1"),
            pytest.param("all", False, id="acksall"),
            pytest.param("all", True, id="acksall-idempotent")]
PARTITIONS = 3
EXPLICIT_TS = 1_600_000_000_123


def sample_records():
    """(key, value, headers, timestamp) tuples covering the edge cases."""
    records = []
    for i in range(60):
        key = f"key-{i % 17}".encode() if i % 5 else None
        value = (f"value-{i:04d}-".encode() + bytes(range(256)) * (i % 4)) if i % 11 else None
        if i % 7 == 0:
            headers = [("trace", f"t{i}".encode()), ("empty", b""), ("none", None),
                       ("ключ-ü-✓", "wert-ö".encode())]
        elif i % 7 == 1:
            headers = [("dup", b"1"), ("dup", b"2")]
        else:
            headers = None
        timestamp = EXPLICIT_TS + i if i % 3 == 0 else None
        records.append((key, value, headers, timestamp))
    # the all-null record and an empty value / empty key
    records.append((None, None, None, None))
    records.append((b"", b"", [("x", None)], EXPLICIT_TS))
    return records


def _check_round_trip(bootstrap, topic, sent, metadatas, acks, idempotent, before_ms, after_ms):
    probes = PARTITIONS if not idempotent else 0
    messages = without_probes(read_all(bootstrap, topic, expected=len(sent) + probes))
    assert len(messages) == len(sent)
    got = by_partition(messages)
    expected_by_partition = {}
    for rec, md in zip(sent, metadatas):
        expected_by_partition.setdefault(md.partition, []).append((rec, md))
    assert sorted(got) == sorted(expected_by_partition)
    for partition, pairs in expected_by_partition.items():
        consumed = got[partition]
        assert len(consumed) == len(pairs), partition
        index = {}
        for i, rec in enumerate(sent):
            index.setdefault((rec[0], rec[1]), []).append(i)
        sent_order = [sent.index(rec) for rec, _ in pairs]
        got_order = [index.get((m.key, m.value), ["?"])[0] for m in consumed]
        assert [(r[0], r[1]) for r, _ in pairs] == [(m.key, m.value) for m in consumed], (
            f"partition {partition}: sent {sent_order} consumed {got_order} "
            f"offsets {[md.offset for _, md in pairs]}")
        # send order == offset order within the partition
        for (rec, md), msg in zip(pairs, consumed):
            key, value, headers, ts = rec
            assert msg.key == key
            assert msg.value == value
            if headers:
                assert msg.headers == [(k, v) for k, v in headers]
            else:
                assert not msg.headers
            assert msg.timestamp_type == TIMESTAMP_CREATE_TIME
            if ts is not None:
                assert msg.timestamp == ts
            else:
                assert before_ms <= msg.timestamp <= after_ms
            assert md.timestamp == msg.timestamp
            assert md.topic == topic
            assert md.serialized_key_size == (-1 if key is None else len(key))
            assert md.serialized_value_size == (-1 if value is None else len(value))
            if acks == 0:
                assert md.offset == -1
            else:
                assert md.offset == msg.offset
            if key is not None:
                assert partition == partition_for_key(key, PARTITIONS)


@pytest.mark.parametrize("acks,idempotent", DELIVERY)
@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(make_topic, make_producer, bootstrap, codec, acks, idempotent):
    topic = make_topic(partitions=PARTITIONS)
    if not idempotent:
        # Right after creation the broker may bounce the first writes
        # (NOT_LEADER_OR_FOLLOWER). acks=0 can't see that, and plain retries with 5
        # requests in flight may reorder (as in Java), so make the topic writable first.
        # The idempotent runs go straight in: they must keep the order regardless.
        wait_writable(bootstrap, topic, PARTITIONS)
    producer = make_producer({"compression.type": codec, "acks": acks,
                              "enable.idempotence": idempotent, "linger.ms": 20,
                              "batch.size": 4096})
    sent = sample_records()
    before = int(time.time() * 1000)
    futures = [producer.send(topic, value=v, key=k, headers=h, timestamp=ts)
               for k, v, h, ts in sent]
    producer.flush(60)
    after = int(time.time() * 1000)
    metadatas = [f.get(30) for f in futures]
    assert all(isinstance(md, RecordMetadata) for md in metadatas)
    _check_round_trip(bootstrap, topic, sent, metadatas, acks, idempotent, before, after)
    if idempotent:
        # offsets are dense per partition and start at 0
        for p, offs in _offsets_by_partition(metadatas).items():
            assert offs == list(range(len(offs))), p


def _offsets_by_partition(metadatas):
    result = {}
    for md in metadatas:
        result.setdefault(md.partition, []).append(md.offset)
    return result


def test_log_append_time_topic(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=1, configs={"message.timestamp.type": "LogAppendTime"})
    producer = make_producer({"linger.ms": 0})
    before = int(time.time() * 1000)
    mds = [producer.send(topic, b"v%d" % i, timestamp=EXPLICIT_TS).get(30) for i in range(3)]
    mds += [f.get(30) for f in [producer.send(topic, b"w%d" % i) for i in range(20)]]
    messages = read_all(bootstrap, topic, expected=len(mds))
    assert len(messages) == len(mds)
    for md, msg in zip(mds, messages):
        assert msg.timestamp_type == TIMESTAMP_LOG_APPEND_TIME
        assert md.offset == msg.offset
        assert md.timestamp == msg.timestamp, "RecordMetadata must carry the broker's time"
        assert md.timestamp != EXPLICIT_TS
        assert md.timestamp >= before - 1000   # broker clock, same host


def test_producer_record_form(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=PARTITIONS)
    producer = make_producer()
    recs = [ProducerRecord(topic, value=b"pr-%d" % i, key=b"k%d" % i,
                           headers=[("h", b"%d" % i)], timestamp=EXPLICIT_TS + i)
            for i in range(10)]
    recs.append(ProducerRecord(topic, value=b"explicit", partition=2))
    mds = [producer.send(r).get(30) for r in recs]
    for r, md in zip(recs[:-1], mds):
        assert md.partition == partition_for_key(r.key, PARTITIONS)
    assert mds[-1].partition == 2
    messages = {(m.partition, m.offset): m for m in read_all(bootstrap, topic, expected=11)}
    for r, md in zip(recs, mds):
        msg = messages[(md.partition, md.offset)]
        assert (msg.key, msg.value) == (r.key, r.value)
        if r.timestamp is not None:
            assert msg.timestamp == r.timestamp
