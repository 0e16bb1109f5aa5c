"""Transactions against one real broker: the basics (fast; run on every change)."""
from __future__ import annotations

import time
import uuid

import pytest

from kprod.errors import IllegalStateError, KafkaTimeoutError
from kprod.producer import Producer
from kprod._internals.transactions import TransactionAbortedError

from .support import read_committed


def _txn_producer(bootstrap: str, txn_id: str = None, **extra) -> Producer:
    cfg = {"bootstrap.servers": bootstrap, "transactional.id": txn_id or f"t-{uuid.uuid4().hex}",
           "linger.ms": 5, "max.block.ms": 30000}
    cfg.update(extra)
    return Producer(cfg)


def test_commit_is_visible_abort_is_not(kafka, make_topic):
    topic = make_topic(partitions=3)
    bs = kafka.bootstrap_servers
    with _txn_producer(bs) as p:
        p.init_transactions(30)
        p.begin_transaction()
        committed = [p.send(topic, b"c%d" % i, key=b"k%d" % i) for i in range(30)]
        p.commit_transaction(30)
        assert all(f.done() and f.exception() is None for f in committed)
        p.begin_transaction()
        aborted = [p.send(topic, b"a%d" % i, key=b"k%d" % i) for i in range(30)]
        p.flush(30)                       # written to the log, then aborted
        p.abort_transaction(30)
        p.begin_transaction()
        p.send(topic, b"last", key=b"k0")
        p.commit_transaction(30)
    values = [r[4] for r in read_committed(bs, [topic])]
    assert sorted(values) == sorted([b"c%d" % i for i in range(30)] + [b"last"])
    # read_uncommitted sees the aborted records too: they really reached the log
    raw = [r[4] for r in read_committed(bs, [topic], isolation="read_uncommitted")]
    assert b"a0" in raw and all(f.exception() is None for f in aborted)


def test_unsent_records_of_an_aborted_transaction_fail(kafka, make_topic):
    topic = make_topic()
    bs = kafka.bootstrap_servers
    with _txn_producer(bs, **{"linger.ms": 60000, "batch.size": 1 << 20}) as p:
        p.init_transactions(30)
        p.begin_transaction()
        futures = [p.send(topic, b"x%d" % i) for i in range(10)]
        p.abort_transaction(30)
        for f in futures:
            with pytest.raises(TransactionAbortedError):
                f.get(10)
        # the producer stays usable
        p.begin_transaction()
        p.send(topic, b"after")
        p.commit_transaction(30)
    assert [r[4] for r in read_committed(bs, [topic])] == [b"after"]


def test_send_outside_a_transaction_is_a_clear_error(kafka, make_topic):
    topic = make_topic()
    with _txn_producer(kafka.bootstrap_servers) as p:
        with pytest.raises(IllegalStateError, match="init_transactions"):
            p.send(topic, b"x")
        p.init_transactions(30)
        with pytest.raises(IllegalStateError, match="begin_transaction"):
            p.send(topic, b"x")
        p.begin_transaction()
        p.send(topic, b"x")
        p.commit_transaction(30)
        with pytest.raises(IllegalStateError, match="outside a transaction"):
            p.send(topic, b"y")


def test_init_transactions_timeout_is_bounded():
    # Nothing listens on this port: init_transactions must give up after its timeout.
    p = Producer({"bootstrap.servers": "127.0.0.1:1", "transactional.id": "t-unreachable",
                  "max.block.ms": 2000, "reconnect.backoff.max.ms": 200})
    try:
        start = time.monotonic()
        with pytest.raises(KafkaTimeoutError):
            p.init_transactions(1.5)
        assert time.monotonic() - start < 5
        start = time.monotonic()
        with pytest.raises(KafkaTimeoutError):
            p.init_transactions()           # default: max.block.ms
        assert time.monotonic() - start < 6
    finally:
        p.close(0)


def test_many_small_transactions_reuse_the_producer(kafka, make_topic):
    """Epochs/sequences stay valid across transactions (Transactions V2 bumps the epoch
    at every EndTxn on 4.x brokers)."""
    t1, t2 = make_topic(partitions=2), make_topic(partitions=2)
    bs = kafka.bootstrap_servers
    expected = []
    with _txn_producer(bs) as p:
        p.init_transactions(30)
        for n in range(20):
            p.begin_transaction()
            vals = [b"%d-%d" % (n, i) for i in range(5)]
            for i, v in enumerate(vals):
                p.send(t1 if i % 2 else t2, v, key=b"k%d" % i)
            if n % 2:
                p.abort_transaction(30)
            else:
                p.commit_transaction(30)
                expected += vals
    got = [r[4] for r in read_committed(bs, [t1, t2])]
    assert sorted(got) == sorted(expected)
