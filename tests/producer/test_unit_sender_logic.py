"""Accumulator, idempotence and sender logic with a controllable clock (no broker,
no sleeps): readiness, drain, backoff, expiry, sequences, error handling."""
from __future__ import annotations

import pytest

from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.batch import INT32_MAX, increment_sequence
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.metadata import Metadata
from kprod._internals.metrics import ProducerMetrics
from kprod._internals.protocol import types
from kprod._internals.sender import Sender
from kprod._native.bufferpool import BufferPool
from kprod.config import ProducerConfig
from kprod.errors import KafkaTimeoutError, error_for_code

from ..fakes import FakeNetworkClient, ManualClock as Clock, cluster_metadata

T = "topic"
TP0, TP1, TP2 = (T, 0), (T, 1), (T, 2)


def make_acc(clock, *, batch_size=1024, linger_ms=10, delivery_timeout_ms=1000,
             retry_backoff_ms=100, idempotent=False, max_request_size=1 << 20):
    return RecordAccumulator(batch_size=batch_size, linger_ms=linger_ms, compression="none",
                             compression_level=None, pool=BufferPool(1 << 20, batch_size),
                             delivery_timeout_ms=delivery_timeout_ms,
                             retry_backoff_ms=retry_backoff_ms, retry_backoff_max_ms=1000,
                             clock=clock, idempotent=idempotent,
                             max_request_size=max_request_size)


def append(acc, tp, value=b"v" * 50):
    """What send() does after choosing the partition: -> (future, appended, full)."""
    return acc.append(tp, 0, None, value, None, None, 0.0, -1, len(value))


def leaders(mapping):
    return lambda tp: mapping.get(tp)


def fill_batch(acc, tp):
    """Append until the partition's open batch is full (reported full, or the next
    record had to open a new batch: Java's closeForRecordAppends)."""
    q = acc.queue(tp)
    start = len(q.batches)
    while True:
        _, _, full = append(acc, tp)
        if full or len(q.batches) > max(start, 1):
            return


# -- readiness ------------------------------------------------------------------------------

def test_linger_readiness():
    clock = Clock()
    acc = make_acc(clock, linger_ms=10)
    append(acc, TP0)
    ready, next_ms, unknown = acc.ready(leaders({TP0: 1}), 0.0)
    assert ready == set() and next_ms == pytest.approx(10) and unknown == set()
    ready, next_ms, _ = acc.ready(leaders({TP0: 1}), 9.5)
    assert ready == set() and next_ms == pytest.approx(0.5)
    ready, _, _ = acc.ready(leaders({TP0: 1}), 10.0)
    assert ready == {1}


def test_full_batch_is_ready_before_linger():
    clock = Clock()
    # 61-byte v2 header + 10 records of 57 bytes (50-byte value, null key): exactly full
    acc = make_acc(clock, linger_ms=100000, batch_size=61 + 57 * 10)
    flags = [append(acc, TP0)[2] for _ in range(10)]
    assert flags == [False] * 9 + [True]
    assert len(acc.queues[TP0].batches) == 1
    assert acc.ready(leaders({TP0: 1}), 0.0)[0] == {1}
    # a second queued batch behind a non-full head also makes the partition sendable
    acc2 = make_acc(clock, linger_ms=100000)
    fill_batch(acc2, TP1)
    append(acc2, TP1)
    assert len(acc2.queues[TP1].batches) == 2
    assert acc2.ready(leaders({TP1: 2}), 0.0)[0] == {2}


def test_unknown_leader_and_forced_readiness():
    clock = Clock()
    acc = make_acc(clock, linger_ms=100000)
    append(acc, TP0)
    append(acc, (T + "-other", 0))
    ready, _, unknown = acc.ready(leaders({TP0: 1}), 0.0)
    assert ready == set() and unknown == {T + "-other"}
    acc.flushes_in_progress = 1          # flush() makes everything sendable
    assert acc.ready(leaders({TP0: 1}), 0.0)[0] == {1}
    acc.flushes_in_progress = 0
    acc.closed = True                    # so does close()
    assert acc.ready(leaders({TP0: 1}), 0.0)[0] == {1}


def test_muted_partition_is_not_ready():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0)
    append(acc, TP0)
    acc.mute(TP0)
    assert acc.ready(leaders({TP0: 1}), 5.0)[0] == set()
    assert acc.drain(1, [TP0], 1 << 20, 5.0, lambda b: True) == []


# -- drain --------------------------------------------------------------------------------

def test_drain_size_limit_and_round_robin():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, batch_size=1024)
    parts = [TP0, TP1, TP2]
    for tp in parts:
        fill_batch(acc, tp)              # one full batch + one with a record each
    size = acc.queues[TP0].batches[0].estimated_size()
    # room for one full batch only (a 1-record batch does not fit in 10 more bytes)
    first = acc.drain(1, parts, size + 10, 0.0, lambda b: True)
    assert [b.tp for b in first] == [TP0]
    second = acc.drain(1, parts, size + 10, 0.0, lambda b: True)
    third = acc.drain(1, parts, size + 10, 0.0, lambda b: True)
    # round robin from where the last drain stopped: no partition starves
    assert [b.tp for b in second] == [TP1]
    assert [b.tp for b in third] == [TP2]
    tiny = acc.drain(1, parts, 1, 0.0, lambda b: True)
    assert len(tiny) == 1                # an oversized batch still goes alone
    rest = acc.drain(1, parts, 1 << 20, 0.0, lambda b: True)
    assert sorted(b.tp for b in rest) == sorted(set(parts) - {tiny[0].tp})
    assert all(b.record_count == 1 for b in tiny + rest)
    assert not acc.has_undrained()
    for b in first + second + third + tiny + rest:
        assert b.is_closed and len(b.payload) == b.estimated_size()
        assert b.record_count > 0


def test_drain_respects_gate_and_keeps_batch():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0)
    append(acc, TP0)
    assert acc.drain(1, [TP0], 1 << 20, 0.0, lambda b: False) == []
    assert len(acc.queues[TP0].batches) == 1
    assert len(acc.drain(1, [TP0], 1 << 20, 0.0, lambda b: True)) == 1


def test_retry_backoff():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, retry_backoff_ms=100)
    append(acc, TP0)
    [batch] = acc.drain(1, [TP0], 1 << 20, 0.0, lambda b: True)
    acc.reenqueue(batch, 1000.0)
    assert batch.attempts == 1 and 80 <= batch.backoff_ms <= 120   # KIP-580 jitter
    ready, next_ms, _ = acc.ready(leaders({TP0: 1}), 1050.0)
    assert ready == set() and next_ms == pytest.approx(batch.backoff_ms - 50)
    assert acc.drain(1, [TP0], 1 << 20, 1050.0, lambda b: True) == []
    after = 1000.0 + batch.backoff_ms + 0.01    # (+0.01: float rounding of now - last)
    assert acc.ready(leaders({TP0: 1}), after)[0] == {1}
    assert acc.drain(1, [TP0], 1 << 20, after, lambda b: True) == [batch]
    # exponential: the second retry waits about twice as long
    acc.reenqueue(batch, 2000.0)
    assert 160 <= batch.backoff_ms <= 240


def test_reenqueue_in_sequence_order_with_idempotence():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(7, 0)
    batches = []
    for _ in range(3):
        append(acc, TP0)
        [b] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
        idem.assign(b, transactional=False)
        idem.on_success(b, 0) if not batches else None   # first ack opens the pipeline
        batches.append(b)
    append(acc, TP0)                                        # a fresh batch, no sequence
    b0, b1, b2 = batches
    acc.reenqueue(b2, 1.0)
    acc.reenqueue(b1, 1.0)
    q = list(acc.queues[TP0].batches)
    assert q[0] is b1 and q[1] is b2 and not q[2].has_sequence


def test_ready_groups_the_ready_nodes_partitions():
    """by_leader: every queue of a ready node (empty ones too: the drain walks them
    round-robin), in queue order; nothing for nodes that are not ready."""
    clock = Clock()
    acc = make_acc(clock, linger_ms=10)
    tp3 = (T, 3)
    for tp in (TP0, TP1, TP2, tp3):
        acc.queue(tp)
    append(acc, TP1)
    append(acc, TP2)
    by_leader: dict = {}
    owners = leaders({TP0: 1, TP1: 1, TP2: 2, tp3: 1})
    ready, next_ms, unknown = acc.ready(owners, 0.0, by_leader)
    assert ready == set() and by_leader == {} and next_ms == pytest.approx(10)
    fill_batch(acc, TP1)
    ready, next_ms, unknown = acc.ready(owners, 5.0, by_leader)
    assert ready == {1} and unknown == set() and next_ms == pytest.approx(5)
    assert by_leader == {1: [TP0, TP1, tp3]}


def test_ready_reads_the_metadata_snapshot_as_leader_for_does():
    """ready(topics=snapshot.topics) looks leaders up natively: the same answers as
    Metadata.leader_for, unknown topics and leaderless (-1) partitions included."""
    clock = Clock()
    md = Metadata(300000, 100, 300000)
    cluster_metadata(md, {TP0: 1, TP1: 2, TP2: -1})
    other = ("other", 0)                   # not in the metadata
    for linger_ms, now in ((10, 0.0), (10, 20.0), (0, 0.0)):
        acc = make_acc(clock, linger_ms=linger_ms)
        for tp in (TP0, TP1, TP2, other):
            append(acc, tp)
        expected_groups: dict = {}
        expected = acc.ready(md.leader_for, now, expected_groups)
        groups: dict = {}
        assert acc.ready(md.leader_for, now, groups, md.snapshot.topics) == expected
        assert groups == expected_groups
        assert expected[2] == {T, "other"}     # TP2 has no leader, "other" no metadata


# -- expiry --------------------------------------------------------------------------------

def test_expire():
    clock = Clock()
    acc = make_acc(clock, linger_ms=100000, delivery_timeout_ms=1000)
    append(acc, TP0)
    clock.now = 500.0
    append(acc, TP1)
    assert acc.expire(999.0) == []
    assert acc.next_expiry_ms(999.0) == pytest.approx(1)
    [(expired, fate_unknown)] = acc.expire(1000.0)
    assert expired.tp == TP0 and not fate_unknown and not acc.queues[TP0].batches
    assert acc.next_expiry_ms(1000.0) == pytest.approx(500)
    assert [(b.tp, unknown) for b, unknown in acc.expire(1500.0)] == [(TP1, False)]


def test_expiry_bound_is_cached_but_never_late():
    """next_expiry_ms keeps a lower bound until it is reached; a batch queued at the
    front (a retry, older than the heads) drops it."""
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, delivery_timeout_ms=1000)
    assert acc.next_expiry_ms(0.0) == pytest.approx(1000)    # nothing queued yet
    clock.now = 100.0
    append(acc, TP0)
    # The bound from t=0 still holds (the batch made at t=100 expires later).
    assert acc.next_expiry_ms(400.0) == pytest.approx(600)
    [batch] = acc.drain(1, [TP0], 1 << 20, 400.0, lambda b: True)
    clock.now = 700.0
    append(acc, TP1)                                          # expires at 1700
    acc.reenqueue(batch, 800.0)                               # created at 100
    assert acc.next_expiry_ms(800.0) == pytest.approx(300)
    assert [b for b, _ in acc.expire(1100.0)] == [batch]
    assert acc.next_expiry_ms(1100.0) == pytest.approx(600)


def test_expired_retry_of_a_sent_batch_has_unknown_fate():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, delivery_timeout_ms=1000, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(1, 0)
    append(acc, TP0)
    [b] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
    idem.assign(b, transactional=False)
    acc.reenqueue(b, 10.0)
    fresh = _one_batch(acc, TP0)                 # never sent: no sequence, behind b
    assert acc.expire(999.0) == []
    # queue order; the retry's sequence may have been written (the sender decides)
    assert acc.expire(5000.0) == [(b, True), (fresh, False)]
    assert not acc.has_undrained()


def test_abort_undrained_keeps_sent_retries():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(1, 0)
    sent_future, _, _ = append(acc, TP0)
    [sent] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
    idem.assign(sent, transactional=False)
    acc.reenqueue(sent, 1.0)
    unsent_future, _, _ = append(acc, TP0)
    other_future, _, _ = append(acc, TP1)
    error = KafkaTimeoutError("aborted")
    aborted = acc.abort_undrained(error)
    assert sorted(b.tp for b in aborted) == [TP0, TP1]
    assert all(b.record_count == 1 and b not in acc.incomplete for b in aborted)
    assert unsent_future.exception(0) is error and other_future.exception(0) is error
    assert list(acc.queues[TP0].batches) == [sent] and not sent_future.done()
    assert acc.abort_undrained(error) == []


def test_unmute_makes_the_partition_drainable_again():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0)
    append(acc, TP0)
    acc.mute(TP0)
    assert acc.drain(1, [TP0], 1 << 20, 5.0, lambda b: True) == []
    acc.unmute(TP0)
    assert acc.ready(leaders({TP0: 1}), 5.0)[0] == {1}
    assert len(acc.drain(1, [TP0], 1 << 20, 5.0, lambda b: True)) == 1


# -- sequences -----------------------------------------------------------------------------

def test_increment_sequence_wraps_to_zero():
    assert increment_sequence(0, 5) == 5
    assert increment_sequence(INT32_MAX - 5, 5) == INT32_MAX
    assert increment_sequence(INT32_MAX, 1) == 0
    assert increment_sequence(INT32_MAX - 1, 5) == 3
    assert increment_sequence(INT32_MAX - 4, 10) == 5


def test_sequence_assignment_and_wrap():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    idem = IdempotenceState()
    assert not idem.may_drain(_one_batch(acc, TP0))       # no producer id yet
    idem.set_producer_id(42, 3)
    [b0] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
    idem.assign(b0, transactional=False)
    assert (b0.producer_id, b0.producer_epoch, b0.base_sequence) == (42, 3, 0)
    n0 = b0.record_count
    # until the first ack only one batch may be in flight per partition
    b1 = _one_batch(acc, TP0, records=3)
    assert not idem.may_drain(b1)
    idem.on_success(b0, 0)
    assert idem.partition(TP0).last_acked_sequence == n0 - 1
    [b1] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
    idem.assign(b1, transactional=False)
    assert b1.base_sequence == n0 and b1.record_count == 3
    # pipelining allowed now
    b2 = _one_batch(acc, TP0, records=4)
    assert idem.may_drain(b2)
    # wrap: a batch straddling INT32_MAX continues at 0
    state = idem.partition(TP1)
    idem.may_drain(_one_batch(acc, TP1, records=5))
    state.next_sequence = INT32_MAX - 1
    [w] = acc.drain(1, [TP1], 1 << 20, 0.0, idem.may_drain)
    idem.assign(w, transactional=False)
    assert w.base_sequence == INT32_MAX - 1
    assert w.last_sequence == increment_sequence(INT32_MAX - 1, w.record_count - 1)
    assert state.next_sequence == w.record_count - 2
    # the stamp is in the bytes: base sequence at offset 53 of the v2 header
    assert int.from_bytes(bytes(w.payload[53:57]), "big") == INT32_MAX - 1


def _one_batch(acc, tp, records=1):
    for _ in range(records):
        append(acc, tp)
    return acc.queues[tp].batches[-1]


def test_retry_drains_only_as_lowest_in_flight_and_epoch_bump_restamps():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(5, 0)
    sent = []
    for i in range(3):
        _one_batch(acc, TP0, records=2)
        [b] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
        idem.assign(b, transactional=False)
        if i == 0:
            idem.on_success(b, 0)
        sent.append(b)
    _, b1, b2 = sent
    assert [b.base_sequence for b in sent] == [0, 2, 4]
    acc.reenqueue(b2, 0.0)
    assert not idem.may_drain(b2)           # b1 (lower sequence) is still in flight
    acc.reenqueue(b1, 0.0)
    assert idem.may_drain(b1)
    # epoch bump: queued retries restart at sequence 0 under the new epoch, in order
    idem.request_epoch_bump(TP0)
    assert not idem.may_drain(b1)
    assert idem.bump_epoch_locally() and idem.epoch == 1
    idem.restamp_for_new_epoch(TP0, [b1, b2])
    assert [(b.producer_epoch, b.base_sequence) for b in (b1, b2)] == [(1, 0), (1, 2)]
    assert idem.partition(TP0).next_sequence == 4


def test_failed_batch_with_unknown_fate_requests_epoch_bump():
    idem = IdempotenceState()
    idem.set_producer_id(1, 0)
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    b = _one_batch(acc, TP0)
    [b] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
    idem.assign(b, transactional=False)
    idem.on_failed(b, unknown_fate=True)
    assert idem.bump_requested and idem.partition(TP0).epoch_bump_needed


# -- sender error handling (no network) ------------------------------------------------------

def make_sender(clock, acc, idem, **cfg):
    config = ProducerConfig({"bootstrap.servers": "127.0.0.1:1", **cfg})
    md = Metadata(300000, 100, 300000)
    cluster_metadata(md, {TP0: 1, TP1: 1, TP2: 1})
    return Sender(config, md, acc, idem, ProducerMetrics(), clock,
                  network=FakeNetworkClient(md, clock))


def _in_flight_batches(acc, idem, n):
    out = []
    for i in range(n):
        _one_batch(acc, TP0, records=2)
        [b] = acc.drain(1, [TP0], 1 << 20, 0.0, idem.may_drain)
        idem.assign(b, transactional=False)
        if i == 0:
            idem.on_success(b, 0)
        out.append(b)
    return out


def test_out_of_order_behind_earlier_failure_retries_without_epoch_bump():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(9, 0)
    sender = make_sender(clock, acc, idem)
    _, b1, b2 = _in_flight_batches(acc, idem, 3)
    # b1 bounced (retriable), then b2 is rejected because the broker misses b1
    sender.responses.handle_error(b1, error_for_code(6, "moved"), 1.0)
    sender.responses.handle_error(b2, error_for_code(45, "gap"), 1.0)
    assert not idem.bump_requested
    assert list(acc.queues[TP0].batches) == [b1, b2]
    assert (b1.base_sequence, b2.base_sequence) == (2, 4)
    # the batch the broker should have had next is rejected: the epoch must be bumped
    acc.abort_all()
    sender.responses.handle_error(b1, error_for_code(45, "lost"), 2.0)
    assert idem.bump_requested


def test_unknown_producer_id_bumps_epoch_and_retries():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, idempotent=True)
    idem = IdempotenceState()
    idem.set_producer_id(9, 0)
    sender = make_sender(clock, acc, idem)
    _, b1 = _in_flight_batches(acc, idem, 2)
    sender.responses.handle_error(b1, error_for_code(59, "state gone"), 1.0)
    assert idem.bump_requested and list(acc.queues[TP0].batches) == [b1]


def test_retriable_error_past_delivery_timeout_fails_with_timeout():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0, delivery_timeout_ms=1000)
    sender = make_sender(clock, acc, None, enable_idempotence=False, acks=1)
    future, _, _ = append(acc, TP0)
    [b] = acc.drain(1, [TP0], 1 << 20, 0.0, lambda x: True)
    sender.responses.fail_or_retry(b, error_for_code(7, "slow"), 10.0, unknown_fate=True)
    assert list(acc.queues[TP0].batches) == [b]          # retried
    acc.abort_all()
    sender.responses.fail_or_retry(b, error_for_code(7, "slow"), 1000.0, unknown_fate=True)
    with pytest.raises(KafkaTimeoutError, match="delivery.timeout.ms"):
        future.get(0)


def test_acks0_request_completes_once_written():
    clock = Clock()
    acc = make_acc(clock, linger_ms=0)
    sender = make_sender(clock, acc, None, enable_idempotence=False, acks=0)
    futures = [append(acc, TP0)[0] for _ in range(3)]
    sender.run_once()
    assert [(r.api, r.expect_response) for r in sender.network.sent] == [("Produce", False)]
    assert [f.get(0).offset for f in futures] == [-1, -1, -1]
    m = sender.metrics.snapshot(0, 0)
    assert m["record-send-total"] == 3 and m["request-total"] == 1
    assert m["batch-size-avg"] > 0


def test_metadata_keeps_used_topics_and_forgets_idle_ones(monkeypatch):
    """metadata.max.idle.ms: a topic in use stays in every refresh; an idle one is
    dropped from the request and from the snapshot (no stale leaders kept)."""
    import kprod._internals.metadata as metadata_module

    now = [1000.0]
    monkeypatch.setattr(metadata_module.time, "monotonic", lambda: now[0])
    md = Metadata(300000, 100, 5000)
    md.request_topic("busy")
    md.request_topic("idle")
    md.update(_metadata_response({"busy": [1], "idle": [1]}), 0)
    for _ in range(3):
        now[0] += 3.0                       # 9 s in all, idle limit 5 s
        fetched = md.topics_to_fetch(active={"busy"})
    assert fetched == ["busy"]
    assert md.topic("busy") is not None and md.topic("idle") is None


def _metadata_response(leaders_by_topic):
    """One broker (1); per topic its partitions' leaders (-1: none)."""
    return types.MetadataResponse(
        brokers=[types.MetadataResponseBroker(node_id=1, host="h", port=1, rack=None)],
        cluster_id="c", controller_id=1, topics=[
            types.MetadataResponseTopic(error_code=0, name=name, partitions=[
                types.MetadataResponsePartition(partition_index=i, leader_id=leader,
                                                leader_epoch=0, replica_nodes=[1],
                                                isr_nodes=[1])
                for i, leader in enumerate(leaders)])
            for name, leaders in leaders_by_topic.items()])


def test_metadata_asks_again_while_a_partition_has_no_leader():
    md = Metadata(300000, 100, 300000)

    def answer(leaders):
        return _metadata_response({"t": leaders})

    md.update(answer([1, -1, 1]), 1000.0)
    assert md.need_update                                  # election in progress
    assert md.time_to_next_update(1050.0) == 50.0          # after retry.backoff.ms
    md.update(answer([1, 1, 1]), 1200.0)
    assert not md.need_update
    assert md.time_to_next_update(1200.0) == 300000.0      # then metadata.max.age.ms


def test_load_stats_are_recomputed_only_when_something_changed(monkeypatch):
    """update_partition_load_stats runs every sender loop: it must redo the adaptive
    weights when a queue length, the metadata or the unavailable nodes change, and
    only then."""
    from kprod._native.partition import PartitionChooser
    clock = Clock()
    acc = make_acc(clock, batch_size=64)
    md = Metadata(300000, 100, 300000)
    cluster_metadata(md, {("t", 0): 1, ("t", 1): 1, ("t", 2): 2})
    acc.partitioner.state("t")
    calls = []

    class Recording:
        @staticmethod
        def update_load_stats(state, parts, sizes, n):
            calls.append(list(sizes))
            PartitionChooser.update_load_stats(state, parts, sizes, n)

    monkeypatch.setattr("kprod._internals.accumulator.PartitionChooser", Recording)
    topics = md.snapshot.topics
    acc.update_partition_load_stats(topics, set())
    assert calls == [[0, 0, 0]]
    acc.update_partition_load_stats(topics, set())          # nothing changed
    assert calls == [[0, 0, 0]]
    append(acc, ("t", 1), b"x" * 80)                          # a batch opened
    append(acc, ("t", 1), b"x" * 80)                          # and a second one
    acc.update_partition_load_stats(topics, set())
    assert calls[-1] == [0, 2, 0]
    acc.update_partition_load_stats(topics, {2})              # broker 2 unavailable
    assert calls[-1] == [0, 2]
    n = len(calls)
    acc.update_partition_load_stats(topics, {2})
    assert len(calls) == n
    acc.drain(1, [("t", 1)], 1 << 20, clock(), lambda batch: True)   # one drained
    acc.update_partition_load_stats(topics, {2})
    assert calls[-1] == [0, 1]
    cluster_metadata(md, {("t", 0): 1, ("t", 1): 1, ("t", 2): 1})   # new metadata
    acc.update_partition_load_stats(md.snapshot.topics, set())
    assert calls[-1] == [0, 1, 0]
