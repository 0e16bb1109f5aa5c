"""MESSAGE_TOO_LARGE: a rejected batch is split and retried (Java Sender.completeBatch ->
RecordAccumulator.splitAndReenqueue -> ProducerBatch.split), single records too large
fail with RecordTooLargeError.

Unit level (no broker): the split itself (records, headers, order, future routing,
callbacks), and the real Sender/accumulator/idempotence driven against a simulated
broker with a size limit and sequence checks. Then against a real broker: a topic
with max.message.bytes=2000, read back with confluent-kafka.
"""
from __future__ import annotations

import random
import uuid
from typing import Dict, List, Optional, Tuple

import pytest

from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.batch import split_batch
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.metadata import Metadata
from kprod._internals.metrics import ProducerMetrics
from kprod._internals.protocol import types
from kprod._internals.protocol.client import produce_partitions
from kprod._internals.sender import Sender
from kprod._native.bufferpool import BufferPool
from kprod._native.batch_reader import read_batches
from kprod.config import ProducerConfig
from kprod.errors import KafkaTimeoutError, RecordTooLargeError, error_for_code

from ..fakes import FakeNetworkClient, ManualClock as Clock, cluster_metadata
from .readback import read_all

T = "topic"
TP = (T, 0)
TS = 1_700_000_000_000


def make_acc(clock, *, compression="none", batch_size=16384, idempotent=False,
             pool=None) -> RecordAccumulator:
    return RecordAccumulator(batch_size=batch_size, linger_ms=0, compression=compression,
                             compression_level=None,
                             pool=pool or BufferPool(1 << 22, batch_size),
                             delivery_timeout_ms=86_400_000, retry_backoff_ms=100,
                             retry_backoff_max_ms=1000, clock=clock, idempotent=idempotent,
                             max_request_size=1 << 20)


def append(acc, ts, key, value, headers=None, callback=None):
    """What send() does once the partition is chosen (the accumulator's append)."""
    ks = -1 if key is None else len(key)
    vs = -1 if value is None else len(value)
    return acc.append(TP, ts, key, value, headers, callback, 0.0, ks, vs)[0]


def sample_records(n, seed=7, compressible=False):
    """(timestamp, key, value, headers): keys, null keys/values, headers, varying times."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        if compressible:
            value = (b"record %06d " % i) + b" ".join(
                rnd.choice([b"alpha", b"beta", b"gamma", b"delta", b"kafka"])
                for _ in range(rnd.randint(15, 45)))
        else:
            value = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(100, 300)))
        if i % 13 == 5:
            value = None
        key = None if i % 11 == 3 else b"key-%d" % i
        headers = None
        if i % 3 == 0:
            headers = [("h", b"%d" % i), ("null", None)] if i % 2 else [("trace", b"t" * (i % 40))]
        out.append((TS + i * 7 + rnd.randint(0, 5), key, value, headers))
    return out


# -- the split function ------------------------------------------------------------------

@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_split_keeps_records_and_routes_every_future(compression):
    clock = Clock()
    acc = make_acc(clock, compression=compression)
    records = sample_records(60, compressible=compression != "none")
    calls: List[Tuple[int, Optional[int], Optional[BaseException]]] = []
    futures = []
    for i, (ts, key, value, headers) in enumerate(records):
        def cb(md, exc, i=i):
            calls.append((i, None if md is None else md.offset, exc))
        futures.append(append(acc, ts, key, value, headers, cb))
    (batch,) = acc.queues[TP].batches
    batch.close()
    before = list(batch.result._callbacks)

    pieces = split_batch(batch, 1500, 30, acc.codec, None)

    assert len(pieces) > 2 and sum(p.record_count for p in pieces) == 60
    assert all(p.record_count <= 30 for p in pieces)
    got = []
    for p in pieces:
        assert p.is_closed and not p.has_sequence and p.created_ms == batch.created_ms
        assert p.record_count == 1 or p.builder.uncompressed_size_in_bytes <= 1500
        (rb,) = read_batches(p.payload)
        assert rb.compression == acc.codec and rb.records_count == p.record_count
        got += [(r.timestamp, r.key, r.value, r.headers or None) for r in rb]
    assert got == [(ts, k, v, [tuple(x) for x in h] if h else None) for ts, k, v, h in records]
    # every callback moved to exactly one piece, in record order
    moved = [e for p in pieces for e in p.result._callbacks]
    assert moved == before
    # the record futures now resolve through their piece
    assert not any(f.done() for f in futures) and not batch.result.done
    with pytest.raises(KafkaTimeoutError):
        futures[0].get(0)
    late: List[int] = []
    futures[-1].add_done_callback(lambda f: late.append(f.get(0).offset))
    base = 1000
    bases = []
    for p in pieces:
        bases.append(base)
        assert not batch.result.done            # flush() waits for the last piece
        p.complete(base, -1)
        base += p.record_count
    assert batch.result.done and batch.result.wait(0)
    assert [f.get(0).offset for f in futures] == list(range(1000, 1060))
    assert [f.metadata().timestamp for f in futures] == [r[0] for r in records]
    assert calls == [(i, 1000 + i, None) for i in range(60)]
    assert late == [1059]
    # done callbacks on finished records run at once
    now: List[int] = []
    futures[3].add_done_callback(lambda f: now.append(f.get(0).offset))
    assert now == [1003]


def test_pieces_split_again_and_fail_separately():
    clock = Clock()
    acc = make_acc(clock)
    records = sample_records(10)
    futures = [append(acc, *r) for r in records]
    (batch,) = acc.queues[TP].batches
    batch.close()
    a, b = split_batch(batch, 1 << 20, 5, acc.codec, None)
    assert (a.record_count, b.record_count) == (5, 5)
    a1, a2, a3 = split_batch(a, 1 << 20, 2, acc.codec, None)       # a piece split again
    a.retire_split()
    assert [p.record_count for p in (a1, a2, a3)] == [2, 2, 1]
    err = RecordTooLargeError("too big")
    b.complete(50, 77)                  # LogAppendTime
    a3.complete(-1, -1, err)
    a1.complete(10, -1)
    assert not batch.result.done and not futures[2].done()
    a2.complete(20, -1)
    assert batch.result.done
    assert [f.get(0).offset for f in futures[:4]] == [10, 11, 20, 21]
    assert futures[4].exception(0) is err
    with pytest.raises(RecordTooLargeError):
        futures[4].get(0)
    assert [f.get(0).offset for f in futures[5:]] == [50, 51, 52, 53, 54]
    assert all(f.get(0).timestamp == 77 for f in futures[5:])
    assert repr(futures[4]).startswith("<RecordFuture failed ") and \
        "RecordTooLargeError(" in repr(futures[4])
    assert repr(futures[2]).startswith("<RecordFuture done ") and \
        repr(futures[2]).endswith("@20>")   # routed to the piece that holds it


def test_split_needs_two_records():
    clock = Clock()
    acc = make_acc(clock)
    append(acc, TS, b"k", b"v")
    (batch,) = acc.queues[TP].batches
    batch.close()
    with pytest.raises(ValueError):
        split_batch(batch, 100, 1, acc.codec, None)


# -- the sender against a simulated broker -------------------------------------------------

class SizeLimitedBroker:
    """A fake connection + broker for one partition: rejects batches larger than
    ``limit`` bytes (MESSAGE_TOO_LARGE, no message, as Kafka 4.x answers), checks
    idempotent sequences like a broker (OUT_OF_ORDER_SEQUENCE_NUMBER on a gap), and
    keeps the log. Answers the Produce requests the Sender sent through the fake
    network client."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.log: List = []
        self.pending: List = []
        self.rejected_sizes: List[int] = []
        self.expected: Dict[Tuple[int, int], int] = {}      # (pid, epoch) -> next sequence

    def respond(self, request):
        assert request.api == "Produce"
        body = request.body
        by_topic: Dict[str, List] = {}
        for name, index, records in produce_partitions(body):
            by_topic.setdefault(name, []).append((index, records))
        responses = []
        for name, partitions in by_topic.items():
            parts = []
            for index, records in partitions:
                data = bytes(records)
                (rb,) = read_batches(data)
                part = types.PartitionProduceResponse(index=index, error_code=0,
                                                      base_offset=-1, log_append_time_ms=-1)
                key = (rb.producer_id, rb.producer_epoch)
                if len(data) > self.limit:
                    part.error_code = 10
                    self.rejected_sizes.append(len(data))
                elif rb.producer_id >= 0 and key in self.expected and \
                        rb.base_sequence != self.expected[key]:
                    part.error_code = 45
                else:
                    if rb.producer_id >= 0:
                        self.expected[key] = rb.base_sequence + rb.records_count
                    part.base_offset = len(self.log)
                    self.log += list(rb)
                parts.append(part)
            responses.append(types.TopicProduceResponse(name=name,
                                                        partition_responses=parts))
        return types.ProduceResponse(responses=responses)


def make_sender(clock, acc, idem, **cfg):
    cfg.setdefault("delivery_timeout_ms", acc.delivery_timeout_ms)
    config = ProducerConfig({"bootstrap.servers": "127.0.0.1:1", **cfg})
    metadata = Metadata(300000, 100, 300000)
    cluster_metadata(metadata, {TP: 1})
    return Sender(config, metadata, acc, idem, ProducerMetrics(), clock,
                  network=FakeNetworkClient(metadata, clock))


def run_until_done(sender, acc, broker, clock, max_rounds=10000):
    """The sender's loop against the simulated broker: send, answer, advance time."""
    network = sender.network
    for rounds in range(max_rounds):
        if not acc.incomplete:
            return rounds
        sender.run_once()
        network.respond_all(broker.respond)
        for response in network.poll(0, clock.now):
            response.complete()
        clock.now += 1000.0
    raise AssertionError("the split never terminated")


@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_sender_splits_down_to_the_limit_keeps_order_and_fails_only_oversized(idempotent,
                                                                              compression):
    clock = Clock()
    pool = BufferPool(1 << 22, 16384)
    acc = make_acc(clock, compression=compression, idempotent=idempotent, pool=pool)
    idem = IdempotenceState() if idempotent else None
    if idem is not None:
        idem.set_producer_id(77, 0)
    cfg = {} if idempotent else {"enable_idempotence": False, "acks": 1,
                                 "max_in_flight_requests_per_connection": 1}
    sender = make_sender(clock, acc, idem, compression_type=compression, **cfg)
    broker = SizeLimitedBroker(limit=2000)
    records = sample_records(1500, compressible=compression != "none")
    oversized = {100, 901}
    for i in oversized:                   # alone above the limit, even compressed
        ts, key, _, headers = records[i]
        records[i] = (ts, key, random.Random(i).randbytes(2500), headers)
    futures = [append(acc, *r) for r in records]
    rounds = run_until_done(sender, acc, broker, clock)

    for i, f in enumerate(futures):
        if i in oversized:
            err = f.exception(0)
            assert isinstance(err, RecordTooLargeError), (i, err)
            assert "topic-0" in str(err) and "bytes as a one-record batch" in str(err)
    ok = [i for i in range(len(records)) if i not in oversized]
    offsets = [futures[i].get(0).offset for i in ok]
    assert offsets == list(range(len(ok)))               # in order, exactly once
    log = [(r.timestamp, r.key, r.value, r.headers or None) for r in broker.log]
    assert log == [(ts, k, v, [tuple(x) for x in h] if h else None)
                   for ts, k, v, h in (records[i] for i in ok)]
    assert sender.batch_split_total > 0 and rounds < 3000
    # learned limit: after the first batches, rejected batches go straight to pieces
    # that fit, so far fewer rejections than records
    assert len(broker.rejected_sizes) < 200
    assert not acc.incomplete and not acc.has_undrained()
    assert pool.available_memory == pool.total_memory     # every buffer back, once


def _in_flight(acc, idem, n_batches, per_batch):
    """n batches of small records sent (sequences assigned); the first one acknowledged."""
    out = []
    for b in range(n_batches):
        for i in range(per_batch):
            append(acc, TS + i, b"k%d" % i, b"v" * 50)
        [batch] = acc.drain(1, [TP], 1 << 20, 0.0, idem.may_drain)
        idem.assign(batch, transactional=False)
        if b == 0:
            idem.on_success(batch, 0)
            acc.batch_done(batch)
            batch.complete(0, -1)
        out.append(batch)
    return out


def test_split_takes_over_sequences_and_later_batches_retry_behind_the_pieces():
    clock = Clock()
    pool = BufferPool(1 << 22, 16384)
    acc = make_acc(clock, idempotent=True, pool=pool)
    idem = IdempotenceState()
    idem.set_producer_id(5, 2)
    sender = make_sender(clock, acc, idem)
    b0, big, after = _in_flight(acc, idem, 3, 12)
    assert (big.base_sequence, after.base_sequence) == (12, 24)
    used = pool.total_memory - pool.available_memory
    response = types.ProduceResponse(responses=[types.TopicProduceResponse(
        name=T, partition_responses=[types.PartitionProduceResponse(
            index=0, error_code=10, base_offset=-1, log_append_time_ms=-1)])])
    sender.responses.handle(1, [big], response, None, 0.0, 0.0)
    pieces = list(acc.queues[TP].batches)
    assert sender.batch_split_total == 1 and big.final_state == "split"
    counts = [p.record_count for p in pieces]
    assert len(pieces) >= 2 and sum(counts) == 12 and max(counts) <= 6
    starts = [12 + sum(counts[:i]) for i in range(len(pieces))]
    assert [(p.producer_id, p.producer_epoch, p.base_sequence) for p in pieces] == \
        [(5, 2, s) for s in starts]
    assert [read_batches(p.payload)[0].base_sequence for p in pieces] == starts
    assert all(read_batches(p.payload)[0].producer_id == 5 for p in pieces)
    assert idem.partition(TP).in_flight == pieces + [after]
    assert big not in acc.incomplete and all(p in acc.incomplete for p in pieces)
    # the big batch's buffer went back to the pool (pieces use standalone buffers)
    assert pool.total_memory - pool.available_memory < used
    assert big.buffer is None and big.builder is None
    # the later batch the broker refuses (gap) is retried behind the pieces
    sender.responses.handle_error(after, error_for_code(45, "gap"), 0.0)
    assert list(acc.queues[TP].batches) == pieces + [after] and not idem.bump_requested
    assert idem.may_drain(pieces[0]) and not idem.may_drain(pieces[1])
    assert not idem.may_drain(after)


def test_epoch_bump_restamps_in_flight_retries_once():
    """A failed piece leaves a sequence gap: the epoch bump restamps the later pieces
    from 0, and each stays in the partition's in-flight list once (they used to be
    appended a second time, blocking the partition once the first copy was acked)."""
    clock = Clock()
    acc = make_acc(clock, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(5, 0)
    sender = make_sender(clock, acc, idem)
    _, b1, b2 = _in_flight(acc, idem, 3, 4)
    acc.reenqueue(b1, 0.0)
    acc.reenqueue(b2, 0.0)
    idem.request_epoch_bump(TP)
    sender.run_once()                     # nothing in flight: bump; both still back off
    assert sender.network.sent == []
    assert idem.epoch == 1
    assert idem.partition(TP).in_flight == [b1, b2]
    assert [(b.producer_epoch, b.base_sequence) for b in (b1, b2)] == [(1, 0), (1, 4)]
    idem.on_success(b1, 10)
    assert idem.may_drain(b2)


def test_single_record_too_large_fails_with_topic_partition_size_and_learned_limit():
    clock = Clock()
    acc = make_acc(clock, idempotent=False)
    sender = make_sender(clock, acc, None, enable_idempotence=False, acks=1)
    broker = SizeLimitedBroker(limit=700)
    small = [append(acc, TS, b"k%d" % i, b"x" * 100) for i in range(4)]
    big = append(acc, TS, b"big", b"y" * 900)
    run_until_done(sender, acc, broker, clock)
    assert [f.get(0).offset for f in small] == [0, 1, 2, 3]
    err = big.exception(0)
    assert isinstance(err, RecordTooLargeError) and err.code == 10
    text = str(err)
    assert "topic-0" in text and "is 9" in text and "bytes as a one-record batch" in text
    assert "accepted for this topic" in text           # learned bounds are reported


def test_split_past_delivery_timeout_fails_instead():
    clock = Clock()
    acc = make_acc(clock)
    acc.delivery_timeout_ms = 1000
    sender = make_sender(clock, acc, None, enable_idempotence=False, acks=1,
                         delivery_timeout_ms=1000, linger_ms=0, request_timeout_ms=500)
    futures = [append(acc, TS, None, b"v" * 50) for _ in range(3)]
    [batch] = acc.drain(1, [TP], 1 << 20, 0.0, lambda b: True)
    clock.now = 2000.0
    sender.responses.handle_error(batch, error_for_code(10), 2000.0)
    assert sender.batch_split_total == 0
    with pytest.raises(KafkaTimeoutError, match="MESSAGE_TOO_LARGE"):
        futures[0].get(0)


# -- real broker -------------------------------------------------------------------------

N = 2000


def _produce_and_check(producer, bootstrap, topic, records):
    futures = [producer.send(topic, v, key=k, headers=h, timestamp=ts, partition=0)
               for ts, k, v, h in records]
    producer.flush(60)
    offsets = [f.get(0).offset for f in futures]
    messages = read_all(bootstrap, topic, expected=len(records))
    assert len(messages) == len(records)
    by_offset = {m.offset: m for m in messages}
    assert len(by_offset) == len(records)
    for (ts, k, v, h), off in zip(records, offsets):     # each record once, at its offset
        m = by_offset[off]
        assert (m.key, m.value, m.timestamp) == (k, v, ts)
        assert (m.headers or None) == ([tuple(x) for x in h] if h else None)
    return offsets


@pytest.mark.parametrize("settings", [
    pytest.param({}, id="idempotent"),
    pytest.param({"enable.idempotence": False, "acks": 1,
                  "max.in.flight.requests.per.connection": 1}, id="no-idempotence"),
    pytest.param({"compression.type": "gzip"}, id="gzip"),
    pytest.param({"compression.type": "lz4"}, id="lz4"),
])
def test_batches_above_topic_limit_are_split_and_all_delivered(kafka, make_topic,
                                                               make_producer, settings):
    topic = make_topic(configs={"max.message.bytes": 2000})
    producer = make_producer({"batch.size": 16384, "linger.ms": 50, **settings})
    records = sample_records(N, compressible="compression.type" in settings)
    offsets = _produce_and_check(producer, kafka.bootstrap_servers, topic, records)
    assert offsets == list(range(N))                  # in send order, no gap, no duplicate
    assert producer._sender.batch_split_total > 0
    assert producer._pool.available_memory == producer._pool.total_memory


def test_split_without_idempotence_and_five_in_flight_maps_every_offset(kafka, make_topic,
                                                                       make_producer):
    """Without idempotence a later batch may land before the pieces (as in Java); every
    future still names the offset its record was written at, once."""
    topic = make_topic(configs={"max.message.bytes": 2000})
    producer = make_producer({"batch.size": 16384, "linger.ms": 50, "acks": 1,
                              "enable.idempotence": False})
    offsets = _produce_and_check(producer, kafka.bootstrap_servers, topic, sample_records(N))
    assert sorted(offsets) == list(range(N))
    assert producer._sender.batch_split_total > 0


def test_single_record_above_topic_limit_fails_others_succeed(kafka, make_topic,
                                                              make_producer):
    topic = make_topic(configs={"max.message.bytes": 2000})
    producer = make_producer({"batch.size": 16384, "linger.ms": 50})
    records = sample_records(41)
    records[20] = (TS, b"big", b"B" * 3000, [("h", b"1")])
    futures = [producer.send(topic, v, key=k, headers=h, timestamp=ts, partition=0)
               for ts, k, v, h in records]
    producer.flush(60)
    err = futures[20].exception(0)
    assert isinstance(err, RecordTooLargeError)
    assert f"{topic}-0" in str(err) and "bytes as a one-record batch" in str(err)
    ok = [f.get(0).offset for i, f in enumerate(futures) if i != 20]
    assert ok == list(range(40))
    messages = read_all(kafka.bootstrap_servers, topic, expected=40)
    assert [m.key for m in messages] == [r[1] for i, r in enumerate(records) if i != 20]
    # the producer goes on (epoch bumped for the sequence gap) and stays in order
    more = [producer.send(topic, b"after-%d" % i, partition=0) for i in range(5)]
    assert [f.get(30).offset for f in more] == list(range(40, 45))


def test_split_inside_a_committed_transaction_is_read_committed_once(kafka, make_topic,
                                                                    make_producer):
    from tests.transactions.support import read_committed

    topic = make_topic(partitions=2, configs={"max.message.bytes": 2000})
    producer = make_producer({"batch.size": 16384, "linger.ms": 50,
                              "transactional.id": f"split-{uuid.uuid4().hex}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    values = [b"v%05d-" % i + b"x" * (100 + i % 200) for i in range(N)]
    futures = [producer.send(topic, v, key=b"k%d" % (i % 5)) for i, v in enumerate(values)]
    producer.commit_transaction(60)
    assert all(f.exception(0) is None for f in futures)
    assert producer._sender.batch_split_total > 0
    seen = read_committed(kafka.bootstrap_servers, [topic])
    assert sorted(r[4] for r in seen) == sorted(values)
    by_key: Dict[bytes, List[bytes]] = {}
    for r in seen:
        by_key.setdefault(r[3], []).append(r[4])
    for key, got in by_key.items():                    # per-key (partition) send order
        assert got == [v for i, v in enumerate(values) if b"k%d" % (i % 5) == key]
