"""send_many(): the bulk API delivers exactly what the same send() calls would.

Every test reads the topic back with confluent-kafka (readback.py), never kprod."""
from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod import Producer
from kprod._native.partition import PartitionChooser
from kprod.bulk import BulkFuture, BulkMetadata
from kprod.errors import BulkInputError, KafkaError, RecordTooLargeError
from kprod.partitioner import RoundRobinPartitioner, partition_for_key

from .readback import by_partition, read_all

T0 = 1_700_000_000_000


def seeded(producer: Producer, seed: int) -> Producer:
    """The producer's partition chooser with a seeded random source (both paths share
    it), so unkeyed (sticky) records go to the same partitions in two producers."""
    cfg = producer.config
    chooser = PartitionChooser(cfg["batch.size"], producer._partitioner.custom,
                               cfg["partitioner.ignore.keys"], random.Random(seed))
    producer._partitioner = chooser
    producer._accumulator.partitioner = chooser
    producer._send_path.partitioner = chooser
    return producer


def check_matches(metadata: BulkMetadata, got, values, keys=None, timestamps=None,
                  headers=None):
    """The broker holds exactly the call's records, where the metadata says."""
    assert metadata.errors == []
    assert len(got) == len(values)
    at = {(m.partition, m.offset): m for m in got}
    for i, value in enumerate(values):
        m = at[(int(metadata.partitions[i]), int(metadata.offsets[i]))]
        assert m.value == value, i
        assert m.key == (None if keys is None else keys[i]), i
        if timestamps is not None:
            assert m.timestamp == timestamps[i] == metadata.timestamps[i]
        if headers is not None:
            assert (m.headers or None) == (headers[i] or None), i


# -- sequences and numpy ----------------------------------------------------------------

def test_keyed_and_unkeyed_sequences(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=4)
    producer = make_producer({"linger.ms": 20})
    keys = [b"key-%d" % (i % 13) for i in range(3000)]
    values = [b"value-%06d" % i for i in range(3000)]
    keyed = producer.send_many(topic, values, keys=keys, timestamps=T0)
    unkeyed = producer.send_many(topic, [b"u-%06d" % i for i in range(2000)])
    assert isinstance(keyed, BulkFuture)
    md = keyed.get(60)
    assert unkeyed.get(60).errors == []
    assert list(md.partitions) == [partition_for_key(k, 4) for k in keys]
    assert (md.timestamps == T0).all()
    got = read_all(bootstrap, topic, expected=5000)
    check_matches(md, [m for m in got if m.value.startswith(b"value-")], values, keys,
                  [T0] * 3000)
    for messages in by_partition(got).values():
        ours = [m.value for m in messages if m.value.startswith(b"value-")]
        assert ours == sorted(ours)                 # send order kept per partition


def test_record_size_metric_counts_bulk_records(make_topic, make_producer, bootstrap):
    """record-size-max sees the records the bulk loop appends without the GIL (into
    batches not yet queued) as it sees send()'s."""
    topic = make_topic()
    producer = make_producer()
    values = [b"x" * (10 + i) for i in range(50)]
    md = producer.send_many(topic, values, timestamps=T0).get(60)
    check_matches(md, read_all(bootstrap, topic, expected=50), values, timestamps=[T0] * 50)
    # The largest (DefaultRecord): a body of attributes 1 + timestamp delta 1 + offset
    # delta 1 + null key 1 + value (1 + 59) + header count 1 = 65, after its length
    # (zig-zag 130: 2 bytes).
    assert producer.metrics()["record-size-max"] == 67


def test_numpy_columns(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer()
    n = 500
    # 'S': numpy's meaning (trailing NULs are not part of the item; inner ones are).
    s_values = np.array([b"s\x00%d" % i + b"\x00" * (i % 3) for i in range(n)], dtype="S12")
    # 'V' and structured: exactly itemsize bytes, NULs included.
    v_values = np.frombuffer(bytes(range(256)) * 20, dtype="V10")[:n]
    structured = np.zeros(n, dtype=[("a", "<u4"), ("b", "S3")])
    structured["a"] = np.arange(n)
    structured["b"] = b"ab"
    rows = np.arange(n * 7, dtype=np.uint64).astype(np.uint8).reshape(n, 7)
    objects = np.array([None if i % 5 == 0 else b"o%d" % i for i in range(n)], dtype=object)
    strided = np.array([b"t%04d" % i for i in range(2 * n)], dtype="S5")[::2]
    assert not strided.flags.c_contiguous          # copied, not refused
    keys = np.array([b"k%d" % (i % 17) for i in range(n)], dtype="S4")
    cases = [
        (s_values, [bytes(x) for x in s_values]),
        (v_values, [x.tobytes() for x in v_values]),
        (structured, [x.tobytes() for x in structured]),
        (rows, [bytes(r) for r in rows]),
        (objects, list(objects)),
        (strided, [bytes(x) for x in strided]),
    ]
    futures = [producer.send_many(topic, column, keys=keys) for column, _ in cases]
    expected_keys = [bytes(k) for k in keys]
    assert s_values[1].endswith(b"1") and len(cases[0][1][1]) == 3   # b"s\0" + b"1"
    got = read_all(bootstrap, topic, expected=n * len(cases))
    at = {(m.partition, m.offset): m for m in got}
    for future, (_, expected) in zip(futures, cases):
        md = future.get(30)
        assert md.errors == []
        for i in range(n):
            m = at[(int(md.partitions[i]), int(md.offsets[i]))]
            assert (m.key, m.value) == (expected_keys[i], expected[i])
            assert md.partitions[i] == partition_for_key(expected_keys[i], 3)


def test_explicit_partitions_timestamps_and_headers(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer()
    n = 300
    values = [b"v%d" % i for i in range(n)]
    parts = np.arange(n) % 3
    stamps = (np.datetime64(T0, "ms") + np.arange(n).astype("timedelta64[ms]"))
    headers = [[("i", b"%d" % i)] if i % 2 else None for i in range(n)]
    md = producer.send_many(topic, values, partitions=parts, timestamps=stamps,
                            headers=headers).get(30)
    assert list(md.partitions) == list(parts)
    md_one = producer.send_many(topic, values[:10], partitions=2, timestamps=T0,
                                headers=[("all", b"x"), ("none", None)]).get(30)
    assert set(md_one.partitions) == {2}
    got = read_all(bootstrap, topic, expected=n + 10)
    check_matches(md, [m for m in got if m.headers != [("all", b"x"), ("none", None)]],
                  values, None, [T0 + i for i in range(n)], headers)
    shared = [m for m in got if m.headers == [("all", b"x"), ("none", None)]]
    assert sorted(m.value for m in shared) == sorted(values[:10])
    assert all(m.partition == 2 and m.timestamp == T0 for m in shared)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(st.tuples(
    st.one_of(st.none(), st.binary(max_size=20)),                     # key
    st.one_of(st.none(), st.binary(max_size=300)),                    # value
    st.one_of(st.none(), st.integers(0, 2)),                          # partition
    st.integers(0, T0),            # timestamp (the broker refuses the far future)
    st.one_of(st.none(), st.lists(st.tuples(st.text(max_size=4),
                                            st.one_of(st.none(), st.binary(max_size=8))),
                                  max_size=2))),                      # headers
    min_size=1, max_size=400), seed=st.integers(0, 2**32))
def test_property_same_as_send_per_record(kafka, make_topic, records, seed):
    """Same partitions (sticky ones too, with the same random source and batches that
    never linger) and the same bytes on the broker as send() once per record."""
    bootstrap = kafka.bootstrap_servers
    config = {"bootstrap.servers": bootstrap, "linger.ms": 60_000, "batch.size": 2048,
              "partitioner.adaptive.partitioning.enable": False}
    use_partitions = any(r[2] is not None for r in records)
    use_headers = any(r[4] for r in records)
    keys = [r[0] for r in records]
    values = [r[1] for r in records]
    stamps = np.array([r[3] for r in records], dtype=np.int64)
    topics = [make_topic(partitions=3), make_topic(partitions=3)]
    outcomes = []
    for mode, topic in zip(("each", "bulk"), topics):
        with seeded(Producer(config), seed) as producer:
            producer.partitions_for(topic)
            if mode == "each":
                futures = [producer.send(topic, v, k, p if use_partitions else None, int(t),
                                         h or None) for k, v, p, t, h in records]
                producer.flush(30)
                outcomes.append([f.get(0).partition for f in futures])
            else:
                if use_partitions:
                    # explicit partitions for all records: None ones get their send() choice
                    explicit = [p if p is not None else outcomes[0][i]
                                for i, (_, _, p, _, _) in enumerate(records)]
                else:
                    explicit = None
                future = producer.send_many(topic, values, keys=keys, partitions=explicit,
                                            timestamps=stamps,
                                            headers=[r[4] or None for r in records]
                                            if use_headers else None)
                producer.flush(30)
                md = future.get(0)
                assert md.errors == []
                outcomes.append(list(md.partitions))
    assert outcomes[0] == outcomes[1]
    read = [read_all(bootstrap, topic, expected=len(records)) for topic in topics]
    strip = [[(m.partition, m.offset, m.key, m.value, m.headers or None, m.timestamp)
              for m in messages] for messages in read]
    assert strip[0] == strip[1]


def test_custom_partitioner_and_ignore_keys(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=4)
    producer = make_producer({"partitioner.class": RoundRobinPartitioner})
    md = producer.send_many(topic, [b"r%d" % i for i in range(20)],
                            keys=[b"k"] * 20).get(30)
    # RoundRobinPartitioner: one partition after the other, in input order
    assert list(md.partitions) == [(md.partitions[0] + i) % 4 for i in range(20)]
    ignore = make_producer({"partitioner.ignore.keys": True, "linger.ms": 60_000})
    md2 = ignore.send_many(topic, [b"i%d" % i for i in range(20)], keys=[b"k%d" % i
                                                                      for i in range(20)])
    ignore.flush(30)
    assert len(set(md2.get(0).partitions)) == 1          # sticky, keys ignored
    assert len(read_all(bootstrap, topic, expected=40)) == 40


def test_sticky_switches_like_send(make_topic, make_producer, bootstrap):
    """Unkeyed records (KIP-794 sticky) from a numpy column go to the partitions the
    same send() calls choose, given the same random source; switches happen."""
    topics = [make_topic(partitions=5), make_topic(partitions=5)]
    config = {"batch.size": 4096, "linger.ms": 60_000,
              "partitioner.adaptive.partitioning.enable": False}
    values = np.frombuffer(bytes(range(100)) * 2000, dtype="V100")
    each = seeded(make_producer(config), 11)
    each.partitions_for(topics[0])
    futures = [each.send(topics[0], v.tobytes()) for v in values]
    each.flush(60)
    bulk = seeded(make_producer(config), 11)
    bulk.partitions_for(topics[1])
    future = bulk.send_many(topics[1], values)
    bulk.flush(60)
    partitions = [f.get(0).partition for f in futures]
    assert list(future.get(0).partitions) == partitions
    assert len(set(partitions)) > 1
    got = [read_all(bootstrap, t, expected=2000) for t in topics]
    assert [(m.partition, m.offset, m.value) for m in got[0]] == \
        [(m.partition, m.offset, m.value) for m in got[1]]


def test_unkeyed_calls_keep_one_run_per_batch_and_keyed_calls_per_record_placement(
        make_topic, make_producer, bootstrap):
    """All-sticky calls keep no array per record while they queue: one run per batch
    (a segment: its first record and delta), the per-record partitions and offsets
    built from them when read, right for every record (read back). A keyed call keeps
    per-record placement."""
    from kprod.bulk_future import PerRecordPlacement, RunPlacement
    topic = make_topic(partitions=3)
    producer = make_producer({"batch.size": 4096, "linger.ms": 20})
    producer.send(topic, b"before", partition=1).get(30)   # the deque's open batch
    values = np.frombuffer(bytes(range(100)) * 3000, dtype="V100")
    future = producer.send_many(topic, values)
    md = future.get(60)
    placement = future._placement
    assert isinstance(placement, RunPlacement)
    first, segment, _ = placement._first, placement._segment, placement._delta
    assert first[0] == 0 and (np.diff(first) > 0).all()
    # a run per batch, and one more each time the sticky partition comes back to a
    # batch still open: far fewer than records
    assert set(segment) == set(range(len(future._results))) and len(future._results) > 10
    assert len(first) < 3000 // 10
    assert not md.errors and len(md) == 3000
    got = read_all(bootstrap, topic, expected=3001)
    at = {(m.partition, m.offset): m.value for m in got}
    assert [at[(int(p), int(o))] for p, o in zip(md.partitions, md.offsets)] == \
        [v.tobytes() for v in values]
    keyed = producer.send_many(topic, values[:300], keys=[b"k%d" % i for i in range(300)])
    assert isinstance(keyed._placement, PerRecordPlacement)
    assert list(keyed.get(60).partitions) == \
        [partition_for_key(b"k%d" % i, 3) for i in range(300)]


def test_partitions_built_later_are_built_once_and_need_the_count():
    calls = []

    def partitions():
        calls.append(1)
        return np.full(4, 2, dtype=np.int32)

    md = BulkMetadata("t", partitions, np.arange(4), np.arange(4), [], count=4)
    assert len(md) == 4 and calls == []
    assert list(md.partitions) == [2] * 4 and md.partitions is md.partitions
    assert calls == [1]
    with pytest.raises(ValueError, match="count"):
        BulkMetadata("t", partitions, np.arange(4), np.arange(4), [])


# -- back-pressure, splits, transactions ------------------------------------------------

def test_buffer_memory_back_pressure(make_topic, make_producer, bootstrap):
    """A call larger than buffer.memory waits for memory as send() would, and delivers
    every record once, in order."""
    topic = make_topic(partitions=2)
    producer = make_producer({"buffer.memory": 64 * 1024, "batch.size": 16384,
                              "linger.ms": 0, "max.block.ms": 60_000})
    n = 20_000
    values = np.array([b"bp-%08d" % i for i in range(n)], dtype="S11")
    keys = np.array([b"%d" % (i % 2) for i in range(n)], dtype="S1")
    md = producer.send_many(topic, values, keys=keys).get(120)
    got = read_all(bootstrap, topic, expected=n)
    check_matches(md, got, [bytes(v) for v in values], [bytes(k) for k in keys])
    for messages in by_partition(got).values():
        assert [m.value for m in messages] == sorted(m.value for m in messages)


def test_split_after_message_too_large_and_failed_records(make_topic, make_producer,
                                                          bootstrap):
    """The broker refuses batches above the topic's max.message.bytes: the batches are
    split (offsets still right); a record too large on its own fails, in ``errors``."""
    topic = make_topic(partitions=1, configs={"max.message.bytes": "3000"})
    producer = make_producer({"batch.size": 64 * 1024, "linger.ms": 50})
    values = [b"%04d" % i + b"x" * 996 for i in range(40)]
    values[25] = b"too large" * 400
    seen = []
    done = threading.Event()

    def callback(metadata, exception):
        assert future.get(0) is metadata       # done before the callback runs
        seen.append((metadata, exception))
        done.set()

    future = producer.send_many(topic, values, callback=callback)
    md = future.get(60)
    assert done.wait(10) and len(seen) == 1 and seen[0][0] is md
    assert [i for i, _ in md.errors] == [25]
    assert isinstance(md.errors[0][1], RecordTooLargeError)
    assert seen[0][1] is md.errors[0][1]
    assert md.offsets[25] == -1
    ok = [i for i in range(40) if i != 25]
    got = read_all(bootstrap, topic, expected=39)
    assert [m.value for m in got] == [values[i] for i in ok]
    assert [m.offset for m in got] == [int(md.offsets[i]) for i in ok]


def test_transactions(make_topic, make_producer, bootstrap):
    from confluent_kafka import Consumer, TopicPartition
    topic = make_topic(partitions=2)
    producer = make_producer({"transactional.id": f"bulk-{topic}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.send_many(topic, [b"aborted-%d" % i for i in range(100)])
    producer.abort_transaction(30)
    producer.begin_transaction()
    committed = producer.send_many(topic, [b"committed-%d" % i for i in range(100)],
                                   keys=[b"%d" % i for i in range(100)])
    producer.commit_transaction(30)
    assert committed.get(0).errors == []
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}",
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
        values = []
        for _ in range(60):
            for msg in consumer.consume(1000, timeout=0.5):
                assert not msg.error()
                values.append(msg.value())
            if len(values) >= 100:
                break
        assert sorted(values) == sorted(b"committed-%d" % i for i in range(100))
    finally:
        consumer.close()


def test_send_many_outside_a_transaction_is_refused(make_topic, make_producer):
    from kprod.errors import IllegalStateError
    topic = make_topic()
    producer = make_producer({"transactional.id": f"bulk-out-{topic}"})
    producer.init_transactions(30)
    with pytest.raises(IllegalStateError):
        producer.send_many(topic, [b"x"])


# -- bad input: typed errors before anything is queued ----------------------------------

def _nothing_queued(producer, topic):
    return all(not q.batches for tp, q in producer._accumulator.queues.items()
               if tp[0] == topic)


@pytest.mark.parametrize("kwargs, argument, index, match", [
    (dict(values=[b"a", b"b"], keys=[b"k"]), "keys", None, "1 keys for 2 values"),
    (dict(values=[b"ok", "not bytes"]), "values", 1, r"values\[1\].*str"),
    (dict(values=[b"ok", b"ok"], keys=[b"k", 7]), "keys", 1, r"keys\[1\].*int"),
    (dict(values=np.zeros(3, dtype=np.float64)), "values", None, "dtype float64"),
    (dict(values=np.array(["text"])), "values", None, "dtype <U4"),
    (dict(values=np.zeros((2, 2, 2), dtype=np.uint8)), "values", None, "3 dimension"),
    (dict(values=b"one bytes"), "values", None, "not one bytes"),
    (dict(values=[b"a", b"b", b"c"], partitions=[0, 5, 0]), "partitions", 1,
     r"partitions\[1\] = 5 is invalid"),
    (dict(values=[b"a", b"b"], partitions=[0.0, 1.0]), "partitions", None, "integer"),
    (dict(values=[b"a", b"b"], partitions=-1), "partitions", 0, r"partitions\[0\] = -1"),
    (dict(values=[b"a", b"b"], timestamps=[5, -1]), "timestamps", 1,
     r"timestamps\[1\] = -1 is negative"),
    (dict(values=[b"a", b"b"], timestamps=-3), "timestamps", None, "negative"),
    (dict(values=[b"a", b"b"], timestamps=np.array(["2024-01-01", "NaT"],
                                                   dtype="datetime64[ms]")),
     "timestamps", 1, "NaT"),
    (dict(values=[b"a", b"b"], timestamps=[1]), "timestamps", None, "1 timestamps"),
    (dict(values=[b"a", b"b"], headers=[[("k", b"v")], [(None, b"v")]]), "headers", 1,
     r"headers\[1\]"),
    (dict(values=[b"a", b"b"], headers=[[("k", b"v")]]), "headers", None,
     "1 header lists for 2 values"),
])
def test_bad_input_is_a_typed_error_naming_argument_and_index(make_topic, make_producer,
                                                              kwargs, argument, index, match):
    topic = make_topic(partitions=2)
    producer = make_producer()
    producer.partitions_for(topic)
    values = kwargs.pop("values")
    with pytest.raises(BulkInputError, match=match) as info:
        producer.send_many(topic, values, **kwargs)
    assert (info.value.argument, info.value.index) == (argument, index)
    assert _nothing_queued(producer, topic)


def test_record_too_large_names_the_record(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer({"max.request.size": 10_000})
    values = [b"small"] * 5 + [b"x" * 20_000] + [b"small"]
    with pytest.raises(RecordTooLargeError, match="record 5 .* max.request.size") as info:
        producer.send_many(topic, values)
    assert info.value.index == 5
    assert _nothing_queued(producer, topic)


def test_custom_partitioner_out_of_range(make_topic, make_producer):
    class Bad:
        def partition(self, topic, key, key_bytes, value, value_bytes, cluster):
            return 0 if value != b"bad" else 9

    topic = make_topic(partitions=2)
    producer = make_producer({"partitioner.class": Bad()})
    with pytest.raises(KafkaError, match="invalid partition 9.*record 2"):
        producer.send_many(topic, [b"a", b"b", b"bad"])
    assert _nothing_queued(producer, topic)


def test_empty_call_and_closed_producer(make_topic, make_producer):
    from kprod.errors import ProducerClosedError
    topic = make_topic()
    producer = make_producer()
    future = producer.send_many(topic, [])
    assert future.done() and len(future.get(0)) == 0
    producer.close()
    with pytest.raises(ProducerClosedError):
        producer.send_many(topic, [b"x"])


# -- serializers and interceptors: send()'s per-record steps --------------------------

def test_serializers_run_per_record(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=2)
    producer = make_producer({"key.serializer": "string", "value.serializer": "json"})
    values = [{"i": i} for i in range(50)]
    keys = ["k%d" % (i % 5) for i in range(50)]
    md = producer.send_many(topic, values, keys=keys).get(30)
    assert list(md.partitions) == [partition_for_key(k.encode(), 2) for k in keys]
    got = read_all(bootstrap, topic, expected=50)
    at = {(m.partition, m.offset): m for m in got}
    import json
    for i in range(50):
        m = at[(int(md.partitions[i]), int(md.offsets[i]))]
        assert (m.key, json.loads(m.value)) == (keys[i].encode(), values[i])
    with pytest.raises(BulkInputError, match=r"values\[1\]") as info:
        producer.send_many(topic, [{"ok": 1}, object()])
    assert info.value.index == 1


def test_interceptors_see_every_record(make_topic, make_producer, bootstrap):
    seen, acked = [], []

    class Tag:
        def on_send(self, record):
            seen.append(record.value)
            from kprod import ProducerRecord
            return ProducerRecord(record.topic, value=record.value + b"!",
                                  timestamp=record.timestamp)

        def on_acknowledgement(self, metadata, exception):
            acked.append(exception)

    topic = make_topic()
    producer = make_producer({"interceptor.classes": [Tag()]})
    values = np.array([b"a%d" % i for i in range(30)], dtype="S3")
    md = producer.send_many(topic, values).get(30)
    producer.flush(30)
    assert md.errors == [] and list(md.offsets) == list(range(30))
    assert seen == [bytes(v) for v in values] and acked == [None] * 30
    assert [m.value for m in read_all(bootstrap, topic, expected=30)] == \
        [bytes(v) + b"!" for v in values]


def test_async_producer_send_many(make_topic, bootstrap):
    import asyncio

    from kprod.aio import AsyncProducer
    topic = make_topic(partitions=2)

    async def main():
        async with AsyncProducer(bootstrap_servers=bootstrap) as producer:
            future = await producer.send_many(topic, np.array([b"x%d" % i for i in range(99)]),
                                              keys=[b"%d" % i for i in range(99)])
            return await future

    md = asyncio.run(main())
    assert isinstance(md, BulkMetadata) and md.errors == []
    assert list(md.partitions) == [partition_for_key(b"%d" % i, 2) for i in range(99)]
    assert len(read_all(bootstrap, topic, expected=99)) == 99


def test_memory_not_freed_within_max_block_ms(kafka, make_topic, make_producer):
    """The broker stops answering (paused), so memory for the rest of the call never
    comes back: the records queued so far stay queued, every later one fails with
    BufferExhaustedError, and every record gets an outcome."""
    from kprod.errors import BufferExhaustedError, ProducerClosedError
    topic = make_topic()
    producer = make_producer({"buffer.memory": 64 * 1024, "batch.size": 16384,
                              "max.block.ms": 500, "linger.ms": 0,
                              "delivery.timeout.ms": 120_000, "request.timeout.ms": 60_000})
    producer.send(topic, b"warm-up").get(30)
    n = 5000
    values = np.array([b"%099d" % i for i in range(n)], dtype="S99")
    broker = kafka.broker_ids[0]
    kafka.pause_broker(broker)
    try:
        future = producer.send_many(topic, values)
        assert not future.done()
        producer.close(0)
    finally:
        kafka.resume_broker(broker)
    md = future.get(10)
    assert [i for i, _ in md.errors] == list(range(n))
    kinds = [type(e) for _, e in md.errors]
    queued = kinds.count(ProducerClosedError)
    assert 0 < queued < n
    assert kinds == [ProducerClosedError] * queued + [BufferExhaustedError] * (n - queued)
    assert (md.partitions[:queued] == 0).all() and (md.partitions[queued:] == -1).all()
    assert (md.offsets == -1).all()


def test_mixed_with_send_keeps_order(make_topic, make_producer, bootstrap):
    """send(), then send_many() (topping up the batch send() opened), then send() again:
    one partition's offsets follow the calls' order."""
    topic = make_topic(partitions=2)
    producer = make_producer({"linger.ms": 200})
    first = [producer.send(topic, b"a%d" % i, partition=1) for i in range(5)]
    bulk = producer.send_many(topic, np.array([b"b%04d" % i for i in range(3000)]),
                              partitions=1)
    last = [producer.send(topic, b"c%d" % i, partition=1) for i in range(5)]
    producer.flush(30)
    offsets = [f.get(0).offset for f in first] + list(bulk.get(0).offsets) + \
        [f.get(0).offset for f in last]
    assert offsets == list(range(3010))
    got = read_all(bootstrap, topic, expected=3010)
    assert [m.value for m in got] == [b"a%d" % i for i in range(5)] + \
        [b"b%04d" % i for i in range(3000)] + [b"c%d" % i for i in range(5)]


def test_concurrent_calls_deliver_everything_once_in_each_callers_order(
        make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer({"batch.size": 4096, "buffer.memory": 256 * 1024,
                              "linger.ms": 1})
    futures, errors = {}, []

    def bulk(name):
        try:
            values = np.array([b"%s-%05d" % (name, i) for i in range(4000)])
            keys = np.array([b"%d" % (i % 9) for i in range(4000)])
            futures[name] = [producer.send_many(topic, values[j:j + 1000],
                                                keys=keys[j:j + 1000])
                             for j in range(0, 4000, 1000)]
        except Exception as exc:      # reported below
            errors.append(exc)

    def single():
        try:
            futures[b"s"] = [producer.send(topic, b"s-%05d" % i, key=b"%d" % (i % 9))
                             for i in range(2000)]
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bulk, args=(name,)) for name in (b"x", b"y")]
    threads.append(threading.Thread(target=single))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    producer.flush(60)
    assert errors == []
    assert all(f.get(0).errors == [] for name in (b"x", b"y") for f in futures[name])
    got = read_all(bootstrap, topic, expected=10_000)
    values = [m.value for m in got]
    assert len(values) == len(set(values)) == 10_000
    for messages in by_partition(got).values():
        for name in (b"x", b"y", b"s"):
            mine = [m.value for m in messages if m.value.startswith(name + b"-")]
            assert mine == sorted(mine)       # each caller's order, per partition


def test_metadata_arrays_are_built_once_on_first_use():
    """A successful call's offsets/timestamps are built when first read, once, even
    with readers racing; the metadata unpacks as (topic, partitions, offsets,
    timestamps, errors)."""
    calls = []
    gate = threading.Event()

    def resolve():
        calls.append(1)
        gate.wait(5)
        return np.arange(3, dtype=np.int64), np.full(3, T0, dtype=np.int64)

    md = BulkMetadata("t", np.zeros(3, dtype=np.int32), errors=[], resolve=resolve)
    assert calls == [] and len(md) == 3 and md.errors == []
    seen = []
    readers = [threading.Thread(target=lambda: seen.append(md.offsets)) for _ in range(4)]
    for reader in readers:
        reader.start()
    gate.set()
    for reader in readers:
        reader.join(5)
    assert calls == [1] and len(seen) == 4
    assert all(offsets is seen[0] for offsets in seen)
    topic, partitions, offsets, timestamps, errors = md
    assert topic == "t" and list(offsets) == [0, 1, 2] and list(timestamps) == [T0] * 3
    assert errors == [] and partitions is md.partitions
    with pytest.raises(ValueError):
        BulkMetadata("t", np.zeros(1, dtype=np.int32), errors=[])
