"""Idempotent producer against a 3-node cluster (RF=3, min.insync.replicas=2) while
brokers crash (SIGKILL), hang (SIGSTOP) or a majority is down.

The oracle is confluent-kafka reading the topic back: every acknowledged record
exactly once, failed records at most once, per-key sequence numbers strictly
increasing, no future left incomplete."""
from __future__ import annotations

import time

import pytest

from kprod.errors import KafkaTimeoutError, NotEnoughReplicasError
from kprod.producer import Producer

from .support import KeyedWorkload, check_exactly_once, leader_of, restore

pytestmark = pytest.mark.slow

PARTITIONS = 6


def _producer(cluster, **extra) -> Producer:
    cfg = {"bootstrap.servers": cluster.bootstrap_servers, "acks": "all",
           "enable.idempotence": True, "linger.ms": 5, "batch.size": 16384,
           "request.timeout.ms": 5000, "delivery.timeout.ms": 120000,
           "max.block.ms": 120000, "socket.connection.setup.timeout.ms": 2000,
           "reconnect.backoff.max.ms": 500}
    cfg.update(extra)
    return Producer(cfg)


def test_leader_sigkill_and_restart_twice(three_brokers, make_topic):
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = _producer(three_brokers)
    try:
        producer.partitions_for(topic)
        work = KeyedWorkload(producer, topic, total=200_000, rate=6000).start()
        killed = []
        for i, at in enumerate((0.15, 0.5)):
            work.wait_progress(at)
            victim = leader_of(three_brokers, topic, i)      # a partition in full use
            three_brokers.kill_broker(victim)
            killed.append(victim)
            time.sleep(2.0)
            three_brokers.start_broker(victim)
            three_brokers.wait_for_topic(topic, in_sync=True, timeout=120)
        work.join()
        producer.flush(180)
        stats = check_exactly_once(three_brokers.bootstrap_servers, topic, work.futures)
        print(f"killed {killed}: {stats}; retries {producer.metrics()['record-retry-total']}")
        assert stats["acked"] >= 0.99 * stats["sent"], stats
    finally:
        producer.close(10)
        restore(three_brokers, topic)


def test_leader_paused_longer_than_request_timeout(three_brokers, make_topic):
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = _producer(three_brokers, **{"request.timeout.ms": 3000})
    try:
        producer.partitions_for(topic)
        work = KeyedWorkload(producer, topic, total=100_000, rate=6000).start()
        work.wait_progress(0.25)
        victim = leader_of(three_brokers, topic, 0)
        three_brokers.pause_broker(victim)
        try:
            time.sleep(8.0)      # > request.timeout.ms, > broker.session.timeout.ms (3 s)
        finally:
            three_brokers.resume_broker(victim)
        work.join()
        producer.flush(180)
        stats = check_exactly_once(three_brokers.bootstrap_servers, topic, work.futures)
        print(f"paused {victim}: {stats}; retries {producer.metrics()['record-retry-total']}")
        assert producer.metrics()["record-retry-total"] > 0      # the pause really hit us
        assert stats["acked"] >= 0.99 * stats["sent"], stats
    finally:
        producer.close(10)
        restore(three_brokers, topic)


def test_majority_down_sends_time_out_then_recover(three_brokers, make_topic):
    """Two of three nodes down (no controller quorum, no ISR of 2): sends retry until
    delivery.timeout.ms, then fail with KafkaTimeoutError; once the nodes are back,
    new sends succeed and nothing acknowledged is lost."""
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = _producer(three_brokers, **{"delivery.timeout.ms": 8000,
                                           "request.timeout.ms": 3000, "linger.ms": 5})
    futures = []
    seq = [0] * 50

    def send_some(n):
        out = []
        for i in range(n):
            k = i % 50
            out.append((k, seq[k], producer.send(topic, b"%d:%d" % (k, seq[k]),
                                                  key=b"k%d" % k)))
            seq[k] += 1
        futures.extend(out)
        return out

    try:
        before = send_some(2000)
        producer.flush(60)
        assert all(f.exception(0) is None for _, _, f in before)
        survivor = leader_of(three_brokers, topic, 0)
        down = [b for b in three_brokers.broker_ids if b != survivor]
        try:
            for b in down:
                three_brokers.kill_broker(b)
            start = time.monotonic()
            during = send_some(2000)
            for _, _, f in during:
                f.exception(60)                   # completes, within the timeout bound
            elapsed = time.monotonic() - start
            errors = [f.exception(0) for _, _, f in during]
            failed = [e for e in errors if e is not None]
            assert failed, "records acknowledged with acks=all and 2 of 3 nodes down"
            assert all(isinstance(e, (KafkaTimeoutError, NotEnoughReplicasError))
                       for e in failed), {type(e).__name__: str(e) for e in failed}
            assert "delivery.timeout.ms" in str(failed[0]) or \
                isinstance(failed[0], NotEnoughReplicasError)
            assert elapsed < 8 + 3 + 15, elapsed       # bounded by delivery.timeout.ms
        finally:
            for b in down:
                three_brokers.start_broker(b)
        three_brokers.wait_for_topic(topic, in_sync=True, timeout=120)
        after = send_some(2000)
        producer.flush(120)
        after_errors = [f.exception(0) for _, _, f in after]
        assert all(e is None for e in after_errors), \
            next(e for e in after_errors if e is not None)
        stats = check_exactly_once(three_brokers.bootstrap_servers, topic, futures)
        print(f"majority down {down}: {stats}")
    finally:
        producer.close(10)
        restore(three_brokers, topic)
