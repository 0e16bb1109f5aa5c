"""Producer API end to end: send styles, flush/close, errors, partitioners, sticky
partitioning, fork safety, metrics, partitions_for. Read back with confluent-kafka."""
from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter

import pytest

from kprod.errors import (
    BufferExhaustedError, KafkaError, KafkaTimeoutError, ProducerClosedError,
    RecordTooLargeError, SerializationError,
)
from kprod.partitioner import RoundRobinPartitioner, partition_for_key
from kprod.producer import Producer
from kprod.record import RecordMetadata

from .readback import by_partition, read_all

GET_TIMEOUT = 60


# -- send styles ------------------------------------------------------------------------

def test_fire_and_forget_then_flush(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=2)
    producer = make_producer()
    for i in range(500):
        producer.send(topic, b"ff-%d" % i)
    producer.flush()
    values = sorted(m.value for m in read_all(bootstrap, topic, expected=500))
    assert values == sorted(b"ff-%d" % i for i in range(500))


def test_synchronous_get(make_topic, make_producer, bootstrap):
    topic = make_topic()
    producer = make_producer({"linger.ms": 0})
    mds = [producer.send(topic, b"sync-%d" % i).get(GET_TIMEOUT) for i in range(20)]
    assert [md.offset for md in mds] == list(range(20))
    assert all(md.partition == 0 and md.topic == topic for md in mds)
    msgs = read_all(bootstrap, topic, expected=20)
    assert [m.value for m in msgs] == [b"sync-%d" % i for i in range(20)]
    assert [m.timestamp for m in msgs] == [md.timestamp for md in mds]


def test_async_callbacks_run_on_io_thread(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer()
    seen = []
    lock = threading.Lock()

    def callback(metadata, exc):
        with lock:
            seen.append((threading.current_thread().name, metadata, exc))

    futures = [producer.send(topic, b"cb-%d" % i, key=b"k%d" % i, callback=callback)
               for i in range(200)]
    producer.flush()
    assert len(seen) == 200
    assert {name for name, _, _ in seen} == {"kprod-sender"}
    assert all(exc is None and isinstance(md, RecordMetadata) for _, md, exc in seen)
    by_offset = {(md.partition, md.offset) for _, md, _ in seen}
    assert by_offset == {(f.get(1).partition, f.get(1).offset) for f in futures}
    msgs = read_all(bootstrap, topic, expected=200)
    assert {(m.partition, m.offset) for m in msgs} == by_offset


def test_add_done_callback(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer({"linger.ms": 50})
    calls = []
    future = producer.send(topic, b"done-cb")
    future.add_done_callback(lambda f: calls.append((threading.current_thread().name, f)))
    md = future.get(GET_TIMEOUT)
    assert future.done()
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:   # callbacks run after waiters wake
        time.sleep(0.01)
    assert calls == [("kprod-sender", future)]
    # on an already-completed future the callback runs at once, on the caller's thread
    late = []
    future.add_done_callback(lambda f: late.append((threading.current_thread().name,
                                                    f.get(0))))
    assert late == [(threading.current_thread().name, md)]
    assert future.exception(0) is None


def test_callback_exception_does_not_kill_sender(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()

    def bad(md, exc):
        raise RuntimeError("user bug")

    producer.send(topic, b"a", callback=bad)
    producer.flush()
    assert producer.send(topic, b"b").get(GET_TIMEOUT).offset == 1


# -- flush / close ------------------------------------------------------------------------

def test_flush_timeout_raises_when_broker_hangs(kafka, make_topic, make_producer):
    topic = make_topic()
    producer = make_producer({"delivery.timeout.ms": 120000})
    producer.send(topic, b"warm").get(GET_TIMEOUT)
    kafka.pause_broker(1)
    try:
        future = producer.send(topic, b"stuck")
        with pytest.raises(KafkaTimeoutError, match="flush"):
            producer.flush(0.5)
        assert not future.done()
    finally:
        kafka.resume_broker(1)
    producer.flush(GET_TIMEOUT)
    assert future.get(0).offset == 1


def test_close_zero_completes_every_future(kafka, make_topic, make_producer):
    topic = make_topic()
    producer = make_producer({"linger.ms": 0})
    producer.send(topic, b"warm").get(GET_TIMEOUT)
    kafka.pause_broker(1)
    try:
        futures = [producer.send(topic, b"pending-%d" % i) for i in range(100)]
        producer.close(0)
        assert all(f.done() for f in futures)
        for f in futures:
            exc = f.exception(0)
            assert exc is None or isinstance(exc, ProducerClosedError), exc
        assert any(isinstance(f.exception(0), ProducerClosedError) for f in futures)
    finally:
        kafka.resume_broker(1)


def test_send_after_close_and_close_idempotent(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    future = producer.send(topic, b"x")
    producer.close()
    assert future.get(0).offset == 0        # close() delivered what was queued
    assert producer.closed
    with pytest.raises(ProducerClosedError):
        producer.send(topic, b"y")
    producer.close()
    producer.close(0)
    with pytest.raises(ProducerClosedError):
        producer.partitions_for(topic)


def test_context_manager(make_topic, bootstrap):
    topic = make_topic()
    with Producer({"bootstrap.servers": bootstrap}) as producer:
        futures = [producer.send(topic, b"cm-%d" % i) for i in range(50)]
    assert producer.closed
    assert [f.get(0).offset for f in futures] == list(range(50))
    assert len(read_all(bootstrap, topic, expected=50)) == 50


# -- limits and input errors ---------------------------------------------------------------

def test_buffer_exhaustion_blocks_then_raises(kafka, make_topic, make_producer):
    topic = make_topic()
    max_block_ms = 1500
    producer = make_producer({"buffer.memory": 65536, "batch.size": 16384, "linger.ms": 0,
                              "max.block.ms": max_block_ms, "delivery.timeout.ms": 120000})
    producer.partitions_for(topic)
    kafka.pause_broker(1)
    try:
        started = None
        with pytest.raises(BufferExhaustedError):
            for _ in range(10000):
                started = time.monotonic()
                producer.send(topic, b"x" * 1000)
        # the failing send() waited for memory (lower bound only: never flaky)
        assert time.monotonic() - started >= max_block_ms / 1000 * 0.5
    finally:
        kafka.resume_broker(1)
    producer.flush(GET_TIMEOUT)


def test_buffer_exhaustion_non_blocking_raises_at_once(kafka, make_topic, make_producer):
    topic = make_topic()
    producer = make_producer({"buffer.memory": 65536, "batch.size": 16384, "linger.ms": 0,
                              "max.block.ms": 600000, "delivery.timeout.ms": 120000})
    producer.partitions_for(topic)
    outcome = []

    def fill():
        try:
            for _ in range(10000):
                producer.send(topic, b"x" * 1000, block=False)
            outcome.append("never exhausted")
        except BaseException as exc:   # noqa: B902 - reported to the main thread
            outcome.append(exc)

    kafka.pause_broker(1)
    try:
        t = threading.Thread(target=fill)
        t.start()
        t.join(60)   # with max.block.ms=600 s a blocking send would still be waiting
        assert not t.is_alive(), "send(block=False) blocked"
        assert len(outcome) == 1 and isinstance(outcome[0], BufferExhaustedError), outcome
    finally:
        kafka.resume_broker(1)
    producer.flush(GET_TIMEOUT)


def test_unknown_topic_times_out_naming_it(make_producer):
    producer = make_producer({"max.block.ms": 1500})
    name = f"no-such-topic-{os.getpid()}-{time.monotonic_ns()}"
    with pytest.raises(KafkaTimeoutError, match=name):
        producer.send(name, b"x")
    with pytest.raises(KafkaTimeoutError, match=name):
        producer.send(name, b"x", block=False)


def test_record_too_large(make_topic, make_producer, bootstrap):
    topic = make_topic()
    producer = make_producer({"max.request.size": 10000, "batch.size": 1024})
    with pytest.raises(RecordTooLargeError) as info:
        producer.send(topic, b"v" * 20000)
    text = str(info.value)
    assert "max.request.size" in text and "10000" in text
    size = int(text.split(" is ")[1].split()[0])
    assert 20000 < size < 20100
    # larger than batch.size but within max.request.size: its own batch, delivered
    big = bytes(range(256)) * 30
    md = producer.send(topic, big, key=b"big").get(GET_TIMEOUT)
    small = producer.send(topic, b"small").get(GET_TIMEOUT)
    assert (md.offset, small.offset) == (0, 1)
    msgs = read_all(bootstrap, topic, expected=2)
    assert [(m.key, m.value) for m in msgs] == [(b"big", big), (None, b"small")]


def test_serialization_errors(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    with pytest.raises(SerializationError):
        producer.send(topic, "a str without a serializer")
    with pytest.raises(SerializationError):
        producer.send(topic, b"v", key={"not": "bytes"})

    class Boom(Exception):
        pass

    def failing(topic_name, data):
        raise Boom("cannot")

    bad = make_producer({"value.serializer": failing})
    with pytest.raises(SerializationError) as info:
        bad.send(topic, {"x": 1})
    chain = info.value.__cause__ or info.value.__context__
    assert isinstance(chain, Boom)
    with pytest.raises(SerializationError):
        producer.send(topic, b"v", headers=[(b"bytes-name", b"v")])
    producer.flush()   # nothing was queued by the failures
    assert producer.send(topic, b"ok").get(GET_TIMEOUT).offset == 0


def test_string_and_json_serializers_round_trip(make_topic, make_producer, bootstrap):
    topic = make_topic()
    producer = make_producer({"key.serializer": "string", "value.serializer": "json"})
    docs = [{"id": i, "name": "ünïcode ✓", "tags": ["a", None, 1.5]} for i in range(5)]
    mds = [producer.send(topic, doc, key=f"schlüssel-{i}").get(GET_TIMEOUT)
           for i, doc in enumerate(docs)]
    msgs = read_all(bootstrap, topic, expected=5)
    assert [m.key.decode("utf-8") for m in msgs] == [f"schlüssel-{i}" for i in range(5)]
    assert [json.loads(m.value) for m in msgs] == docs
    assert [md.serialized_value_size for md in mds] == [len(m.value) for m in msgs]
    strings = make_producer({"value.serializer": "string"})
    strings.send(topic, "plain ✓").get(GET_TIMEOUT)
    assert read_all(bootstrap, topic, expected=6)[-1].value == "plain ✓".encode("utf-8")


# -- partitioning ------------------------------------------------------------------------

def test_explicit_partition_out_of_range(make_topic, make_producer):
    topic = make_topic(partitions=3)
    producer = make_producer()
    for bad in (3, 7, -1):
        with pytest.raises(KafkaError, match=rf"Invalid partition {bad}.*3 partition"):
            producer.send(topic, b"x", partition=bad)
    assert producer.send(topic, b"x", partition=2).get(GET_TIMEOUT).partition == 2


class SkewPartitioner:
    """Key 'Banana' always to the last partition; other keys hashed over the rest."""

    def partition(self, topic, key, key_bytes, value, value_bytes, cluster):
        n = len(cluster.partitions_for_topic(topic))
        if key == "Banana":
            return n - 1
        return partition_for_key(key_bytes, n - 1)


def test_custom_partitioner(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=4)
    producer = make_producer({"partitioner.class": SkewPartitioner(),
                              "key.serializer": "string"})
    keys = ["Banana" if i % 3 == 0 else f"fruit-{i}" for i in range(60)]
    mds = [producer.send(topic, b"%d" % i, key=k) for i, k in enumerate(keys)]
    producer.flush()
    for k, f in zip(keys, mds):
        expected = 3 if k == "Banana" else partition_for_key(k.encode(), 3)
        assert f.get(0).partition == expected
    got = by_partition(read_all(bootstrap, topic, expected=60))
    assert [m.key for m in got[3]] == [b"Banana"] * 20
    assert sum(len(v) for p, v in got.items() if p != 3) == 40


def test_round_robin_partitioner(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=3)
    producer = make_producer({"partitioner.class": RoundRobinPartitioner})
    mds = [producer.send(topic, b"rr-%d" % i, key=b"same-key") for i in range(30)]
    producer.flush()
    parts = [f.get(0).partition for f in mds]
    assert Counter(parts) == {0: 10, 1: 10, 2: 10}
    assert all(parts[i] != parts[i + 1] for i in range(29))
    by_name = make_producer({"partitioner.class": "RoundRobinPartitioner"})
    parts2 = [by_name.send(topic, b"x").get(GET_TIMEOUT).partition for _ in range(3)]
    assert sorted(parts2) == [0, 1, 2]
    assert Counter(m.partition for m in read_all(bootstrap, topic, expected=33)) == \
        {0: 11, 1: 11, 2: 11}


def test_unkeyed_sticky_partitioning(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=6)
    batch_size = 16384
    # Uniform switching (adaptive weights would steer away from deep queues, and with
    # linger 0 every queue is deep, and one fresh-clone run left a partition out): 80+
    # switches over 6 partitions, so a partition left out by chance is < 1e-5 likely.
    producer = make_producer({"linger.ms": 0, "batch.size": batch_size,
                              "partitioner.adaptive.partitioning.enable": False})
    value = b"s" * 200
    n = 12000
    futures = [producer.send(topic, value) for _ in range(n)]
    producer.flush()
    parts = [f.get(0).partition for f in futures]
    assert set(parts) == set(range(6)), Counter(parts)
    runs = []
    for p in parts:
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    # Each stint lasts until ~batch.size bytes went to the partition (KIP-794): never a
    # record-by-record spray. A record here is ~210 bytes on the wire.
    min_run = batch_size // 220
    assert all(length >= min_run for _, length in runs[:-1]), runs
    counts = Counter(m.partition for m in read_all(bootstrap, topic, expected=n))
    assert counts == Counter(parts)


# -- fork, metrics, metadata ---------------------------------------------------------------

def test_fork_child_gets_clear_error(make_topic, make_producer):
    topic = make_topic()
    producer = make_producer()
    producer.send(topic, b"parent").get(GET_TIMEOUT)
    pid = os.fork()
    if pid == 0:   # child: report through the exit code only
        code = 3
        try:
            producer.send(topic, b"child")
            code = 1
        except KafkaError as exc:
            code = 0 if "fork" in str(exc) else 2
        except BaseException:
            code = 4
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert producer.send(topic, b"parent-again").get(GET_TIMEOUT).offset == 1


def test_metrics_after_sends(make_topic, make_producer):
    topic = make_topic(partitions=2)
    producer = make_producer({"compression.type": "gzip", "linger.ms": 5})
    n = 1000
    futures = [producer.send(topic, b"metric-value " * 8) for _ in range(n)]
    producer.flush()
    assert all(f.exception(0) is None for f in futures)
    m = producer.metrics()
    for key in ("record-send-rate", "record-error-rate", "batch-size-avg",
                "records-per-request-avg", "request-latency-avg", "request-latency-max",
                "buffer-available-bytes", "compression-rate-avg", "record-queue-time-avg"):
        assert key in m, key
    assert m["record-send-total"] == n
    assert m["record-send-rate"] > 0
    assert m["record-error-rate"] == 0 and m["record-error-total"] == 0
    assert 0 < m["batch-size-avg"] <= 16384
    assert 1 <= m["records-per-request-avg"] <= n
    assert 0 < m["request-latency-avg"] <= m["request-latency-max"]
    assert 0 < m["buffer-available-bytes"] <= 33554432
    assert 0 < m["compression-rate-avg"] < 0.5       # highly repetitive values, gzip
    assert m["record-queue-time-avg"] > 0


def test_partitions_for(make_topic, make_producer, kafka):
    topic = make_topic(partitions=5)
    producer = make_producer()
    infos = producer.partitions_for(topic)
    assert [p.partition for p in infos] == [0, 1, 2, 3, 4]
    assert {p.leader for p in infos} == set(kafka.broker_ids)
    assert all(p.replicas == (p.leader,) for p in infos)
