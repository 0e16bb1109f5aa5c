"""Transaction scenarios on one real broker: zombie fencing, crash recovery of a killed
producer process, offsets committed atomically with the records (KIP-98, KIP-447).

Checked with an independent client (confluent-kafka, read_committed)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from kprod.errors import IllegalStateError, ProducerFencedError
from kprod.producer import Producer

from .support import committed_offsets, read_committed

pytestmark = pytest.mark.slow


def _txn_producer(bootstrap: str, txn_id: str, **extra) -> Producer:
    cfg = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5,
           "max.block.ms": 30000}
    cfg.update(extra)
    return Producer(cfg)


def _is_fenced(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, ProducerFencedError) or "fenced" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@pytest.mark.parametrize("next_op", ["send", "commit"])
def test_zombie_is_fenced_and_its_transaction_never_visible(kafka, make_topic, next_op):
    topic = make_topic(partitions=2)
    bs = kafka.bootstrap_servers
    txn_id = f"zombie-{uuid.uuid4().hex}"
    a = _txn_producer(bs, txn_id)
    b = _txn_producer(bs, txn_id)
    try:
        a.init_transactions(30)
        a.begin_transaction()
        zombie = [a.send(topic, b"zombie-%d" % i, key=b"k%d" % i) for i in range(20)]
        a.flush(30)                                     # A's records are in the log
        assert all(f.exception() is None for f in zombie)
        b.init_transactions(30)                         # fences A, aborts its transaction
        with pytest.raises((ProducerFencedError, IllegalStateError)) as info:
            if next_op == "send":
                # The send itself may be accepted locally; its delivery fails fenced and
                # the commit after it then fails too.
                f = a.send(topic, b"zombie-late", key=b"k0")
                a.flush(30)
                assert f.exception() is not None and _is_fenced(f.exception()), f.exception()
            a.commit_transaction(30)
        assert _is_fenced(info.value), repr(info.value)
        # every later operation keeps failing clearly
        with pytest.raises((ProducerFencedError, IllegalStateError)):
            a.begin_transaction()
            a.send(topic, b"zombie-more")
        b.begin_transaction()
        good = [b.send(topic, b"b-%d" % i, key=b"k%d" % i) for i in range(20)]
        b.commit_transaction(30)
        assert all(f.exception() is None for f in good)
    finally:
        a.close(5)
        b.close(10)
    values = [r[4] for r in read_committed(bs, [topic])]
    assert sorted(values) == sorted(b"b-%d" % i for i in range(20))


_CRASHING_PRODUCER = textwrap.dedent("""
    import sys, time
    from kprod.producer import Producer
    bootstrap, topic, txn_id = sys.argv[1:4]
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "linger.ms": 5, "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    p.begin_transaction()
    fs = [p.send(topic, b"doomed-%d" % i, key=b"k%d" % i) for i in range(500)]
    p.flush(30)
    assert all(f.exception() is None for f in fs)
    print("SENT", flush=True)
    time.sleep(600)        # killed here, mid-transaction
""")


def test_killed_producer_process_transaction_is_aborted_by_successor(kafka, make_topic):
    topic = make_topic(partitions=3)
    bs = kafka.bootstrap_servers
    txn_id = f"crash-{uuid.uuid4().hex}"
    proc = subprocess.Popen([sys.executable, "-c", _CRASHING_PRODUCER, bs, topic, txn_id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        line = proc.stdout.readline()
        assert line.strip() == "SENT", (line, proc.stderr.read() if proc.poll() else "")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    # the doomed records are in the log (read_uncommitted) but not committed
    with _txn_producer(bs, txn_id) as p:
        # transaction.timeout.ms (60 s) has not passed: the coordinator aborts the old
        # transaction because of this InitProducerId, not by timeout.
        p.init_transactions(30)
        p.begin_transaction()
        for i in range(100):
            p.send(topic, b"new-%d" % i, key=b"k%d" % i)
        p.commit_transaction(30)
    values = [r[4] for r in read_committed(bs, [topic])]
    assert sorted(values) == sorted(b"new-%d" % i for i in range(100))
    raw = [r[4] for r in read_committed(bs, [topic], isolation="read_uncommitted")]
    assert sum(v.startswith(b"doomed-") for v in raw) == 500


def test_send_offsets_commits_group_offsets_atomically(kafka, make_topic):
    source, sink = make_topic(partitions=2), make_topic(partitions=2)
    bs = kafka.bootstrap_servers
    group = f"eos-group-{uuid.uuid4().hex[:8]}"
    tps = [(source, 0), (source, 1)]
    assert all(v < 0 for v in committed_offsets(bs, group, tps).values())
    with _txn_producer(bs, f"offsets-{uuid.uuid4().hex}") as p:
        p.init_transactions(30)
        # 1. committed: records and offsets together
        p.begin_transaction()
        for i in range(10):
            p.send(sink, b"c%d" % i, key=b"k%d" % i)
        p.send_offsets_to_transaction({(source, 0): 10, (source, 1): 7}, group, timeout=30)
        p.commit_transaction(30)
        assert committed_offsets(bs, group, tps) == {(source, 0): 10, (source, 1): 7}
        # 2. aborted: neither the records nor the offsets
        p.begin_transaction()
        for i in range(10):
            p.send(sink, b"a%d" % i, key=b"k%d" % i)
        p.send_offsets_to_transaction({(source, 0): 20, (source, 1): 17}, group, timeout=30)
        p.flush(30)
        p.abort_transaction(30)
        assert committed_offsets(bs, group, tps) == {(source, 0): 10, (source, 1): 7}
        # 3. offsets only (no records), with a confluent-kafka-style metadata object
        from confluent_kafka import TopicPartition

        class Meta:
            group_id = group
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(source, 0, 12)], Meta(), timeout=30)
        p.commit_transaction(30)
        assert committed_offsets(bs, group, tps) == {(source, 0): 12, (source, 1): 7}
    values = [r[4] for r in read_committed(bs, [sink])]
    assert sorted(values) == sorted(b"c%d" % i for i in range(10))
