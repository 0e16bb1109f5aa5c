"""Network faults between kprod and a 3-node cluster (RF=3, min.insync.replicas=2):
Toxiproxy in front of every broker (kprod bootstraps on the proxies; the oracle,
confluent-kafka, reads the brokers directly), issue 16.

(a) a leader partitioned away from the producer (black hole, then a disabled proxy)
    for longer than request.timeout.ms, plus 3 leader SIGKILL+restart cycles: keyed
    idempotent records, 0 acknowledged lost, 0 duplicates, per-partition order kept.
(b) transactions, the coordinator's broker partitioned away mid-commit: read_committed
    sees exactly the committed records.
(c) 200 ms +- 100 ms latency and a 5 MB/s cap per broker link: nothing lost (p99
    latency printed, never asserted).
(d) reset_peer mid-request with idempotence off: at-least-once (duplicates printed).
(e) everywhere: flush(timeout) and close(timeout) return within timeout + 1 s.
(f) responses sliced into a few bytes, connections cut after N bytes: exactly once.
(g) answers later than request.timeout.ms (the broker wrote, the producer retries):
    exactly once.

The CI forms run by default (marked slow); the long forms (1M records, 200
transactions) are marked soak: `make faults-long`."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from kprod.errors import KafkaTimeoutError, ProducerClosedError
from kprod.producer import Producer
from tests.transactions.support import read_committed

from .support import (
    KeyedWorkload,
    bounded,
    busiest_leader,
    check_at_least_once,
    check_exactly_once,
    leader_of,
    restore,
)

pytestmark = pytest.mark.slow

PARTITIONS = 6
REQUEST_TIMEOUT_MS = 3000


def proxied_producer(cluster, **extra) -> Producer:
    """A producer that reaches every broker only through its proxy."""
    cfg = {"bootstrap.servers": cluster.bootstrap_for("PROXIED"), "acks": "all",
           "enable.idempotence": True, "linger.ms": 5, "batch.size": 16384,
           "request.timeout.ms": REQUEST_TIMEOUT_MS, "delivery.timeout.ms": 120000,
           "max.block.ms": 120000, "socket.connection.setup.timeout.ms": 2000,
           "reconnect.backoff.max.ms": 500}
    cfg.update(extra)
    return Producer(cfg)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- (a) partition + leader kills ------------------------------------------------------------

def test_leader_partitioned_away_then_killed_three_times(three_brokers, proxies, make_topic):
    partition_and_kills(three_brokers, proxies, make_topic, total=100_000, rate=1500)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_leader_partitioned_away_then_killed_three_times_1m(three_brokers, proxies,
                                                            make_topic):
    partition_and_kills(three_brokers, proxies, make_topic, total=1_000_000, rate=6000)


def partition_and_kills(cluster, proxies, make_topic, total: int, rate: float) -> None:
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=cluster)
    producer = proxied_producer(cluster)
    faults = []
    try:
        producer.partitions_for(topic)
        work = KeyedWorkload(producer, topic, total=total, rate=rate).start()
        work.wait_progress(0.1)
        victim = busiest_leader(cluster, topic)
        proxy = proxies.proxy(victim)
        # First a black hole (requests in flight get no answer: request.timeout.ms
        # expires), then a disabled proxy (connections refused); the broker stays
        # leader for the cluster all along.
        proxy.black_hole()
        time.sleep(REQUEST_TIMEOUT_MS / 1000 + 1)
        _, error = bounded(producer.flush, 1.0, "flush")
        assert isinstance(error, KafkaTimeoutError), f"flush under partition: {error!r}"
        proxy.disable()
        time.sleep(4.0)
        assert leader_of(cluster, topic, 0) >= 0
        proxies.heal()
        faults.append(("partitioned", victim, work.sent))
        for i, at in enumerate((0.35, 0.55, 0.75)):
            work.wait_progress(at)
            killed = leader_of(cluster, topic, i)
            cluster.kill_broker(killed)
            faults.append(("killed", killed, work.sent))
            time.sleep(2.0)
            cluster.start_broker(killed)
            cluster.wait_for_topic(topic, in_sync=True, timeout=120)
        work.join(600)
        bounded(producer.flush, 120.0, "flush")
        stats = check_exactly_once(cluster.bootstrap_servers, topic, work.futures,
                                   allow_failed=False, partition_order=True,
                                   timeout=300)
        retries = producer.metrics()["record-retry-total"]
        print(f"faults (kind, broker, records sent by then) {faults}: {stats}; "
              f"retries {retries}")
        assert retries > 0, "the faults never reached the producer"
    finally:
        bounded(producer.close, 10.0, "close")
        proxies.heal()
        restore(cluster, topic)


# -- (b) transactions, coordinator partitioned mid-commit --------------------------------------

def java_string_hash(text: str) -> int:
    """Java's String.hashCode (UTF-16 code units), as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def transaction_coordinator(cluster, transactional_id: str) -> int:
    """The broker leading the transactional id's __transaction_state partition
    (Kafka: Utils.abs(id.hashCode) % partitions), from the cluster's own metadata."""
    with cluster.admin() as admin:       # kprod.admin
        partitions = admin.describe_topics("__transaction_state",
                                           timeout=10)["__transaction_state"].partitions
    h = java_string_hash(transactional_id)
    index = 0 if h == -(1 << 31) else abs(h) % len(partitions)
    return partitions[index].leader


def test_transactions_coordinator_partitioned_mid_commit(three_brokers, proxies, make_topic):
    transactions_partitioned(three_brokers, proxies, make_topic, transactions=30)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_transactions_coordinator_partitioned_mid_commit_200(three_brokers, proxies,
                                                             make_topic):
    transactions_partitioned(three_brokers, proxies, make_topic, transactions=200)


def transactions_partitioned(cluster, proxies, make_topic, transactions: int) -> None:
    per_txn = 20
    topic = make_topic(partitions=3, replication_factor=3, cluster=cluster)
    txn_id = f"txn-partition-{uuid.uuid4().hex}"
    producer = proxied_producer(cluster, **{"transactional.id": txn_id,
                                            "transaction.timeout.ms": 60000,
                                            "max.block.ms": 60000})
    committed, aborted, outcomes = set(), set(), {"commit-timeout-retried": 0}
    # Every third transaction is aborted; every 7th committed one is partitioned.
    faulted = set([n for n in range(transactions) if n % 3 != 2][1::7])
    faults = []
    try:
        producer.init_transactions(60)
        for n in range(transactions):
            records = [b"%d:%d" % (n, i) for i in range(per_txn)]
            producer.begin_transaction()
            for i, value in enumerate(records):
                producer.send(topic, value, key=b"k%d" % (i % 7))
            if n % 3 == 2:
                if n % 2:
                    bounded(producer.flush, 30.0, "flush")     # aborted records in the log
                producer.abort_transaction(30)
                aborted.update(records)
                continue
            if n in faulted:
                bounded(producer.flush, 30.0, "flush")   # only EndTxn is left to send
                coordinator = transaction_coordinator(cluster, txn_id)
                proxy = proxies.proxy(coordinator)
                # EndTxn's answer is slowed down so the link goes while it is in
                # flight: the broker commits, the producer never hears it.
                proxy.latency(400, stream="downstream")
                cut = threading.Timer(0.15, proxy.disable)
                heal = threading.Timer(0.15 + REQUEST_TIMEOUT_MS / 1000 + 2, proxies.heal)
                cut.start()
                heal.start()
            commit_started = time.monotonic()
            for _attempt in range(6):
                try:
                    producer.commit_transaction(30)
                    break
                except KafkaTimeoutError:          # retriable: call commit again
                    outcomes["commit-timeout-retried"] += 1
            else:
                raise AssertionError(f"transaction {n}: commit never completed")
            if n in faulted:
                faults.append((n, coordinator, round(time.monotonic() - commit_started, 1)))
                heal.join()
            committed.update(records)
        bounded(producer.flush, 10.0, "flush")
    finally:
        bounded(producer.close, 10.0, "close")
        proxies.heal()
    got = [r[4] for r in read_committed(cluster.bootstrap_servers, [topic], timeout=120)]
    counts = {v: got.count(v) for v in set(got)}
    dups = [v for v, c in counts.items() if c > 1]
    assert not dups, f"{len(dups)} committed records twice, e.g. {dups[:5]}"
    leaked = set(got) & aborted
    assert not leaked, f"{len(leaked)} aborted records visible, e.g. {sorted(leaked)[:5]}"
    missing = committed - set(got)
    assert not missing, f"{len(missing)} committed records missing, e.g. {sorted(missing)[:5]}"
    assert set(got) == committed
    print(f"{transactions} transactions, {len(committed) // per_txn} committed, "
          f"{len(aborted) // per_txn} aborted; coordinator partitioned mid-commit at "
          f"(txn, broker, commit seconds) {faults}; {outcomes}")


# -- (c) latency and a bandwidth cap ------------------------------------------------------------

def test_latency_jitter_and_bandwidth_cap(three_brokers, proxies, make_topic):
    """Paced below both links' capacity, so the latencies are the network's, not a
    queue's: the same run clean and with the toxics (printed, never asserted)."""
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = proxied_producer(three_brokers, **{"linger.ms": 20, "batch.size": 65536,
                                                  "request.timeout.ms": 30000})
    count, size, rate = 10_000, 1000, 2000
    runs: dict = {}
    futures: list = []
    try:
        producer.partitions_for(topic)
        for label in ("clean", "latency 200+-100 ms, 5 MB/s"):
            if label != "clean":
                for proxy in proxies.all():
                    proxy.latency(200, 100, stream="downstream")
                    proxy.bandwidth(5000, stream="upstream")
            latencies = paced_sends(producer, topic, futures, count, size, rate)
            start = time.monotonic()
            bounded(producer.flush, 120.0, "flush")
            runs[label] = {"drain s": round(time.monotonic() - start, 2),
                           "p50 ms": round(percentile(latencies, 0.5) * 1000),
                           "p99 ms": round(percentile(latencies, 0.99) * 1000)}
        proxies.heal()
        stats = check_exactly_once(three_brokers.bootstrap_servers, topic, futures,
                                   allow_failed=False)
        print(f"{count} x {size} B at {rate}/s per run, send-to-ack: {runs}; {stats}")
    finally:
        bounded(producer.close, 10.0, "close")


def paced_sends(producer, topic: str, futures: list, count: int, size: int,
                rate: float) -> list[float]:
    """``count`` keyed records of ``size`` bytes at ``rate``/s (KeyedWorkload's value
    format, padded); returns each record's send-to-acknowledgement seconds."""
    latencies: list[float] = []
    first = len(futures)
    start = time.monotonic()
    for i in range(count):
        n = first + i
        k, s = n % 997, n // 997
        sent_at = time.monotonic()

        def acked(metadata, error, sent_at=sent_at):
            latencies.append(time.monotonic() - sent_at)

        value = (b"%d:%d" % (k, s)).ljust(size)
        futures.append((k, s, producer.send(topic, value, key=b"k%d" % k, callback=acked)))
        if i % 100 == 99:
            ahead = (i + 1) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    return latencies


# -- (d) connection resets with idempotence off ------------------------------------------------

def test_reset_peer_mid_request_without_idempotence(three_brokers, proxies, make_topic):
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = proxied_producer(three_brokers, **{"enable.idempotence": False,
                                                  "max.in.flight.requests.per.connection": 5,
                                                  "request.timeout.ms": 5000})
    try:
        producer.partitions_for(topic)
        work = KeyedWorkload(producer, topic, total=40_000, rate=4000).start()
        work.wait_progress(0.1)
        resets = 0
        while work.thread.is_alive() and resets < 16:
            # Downstream: the broker wrote the records, the answer is cut (a retry
            # duplicates them); upstream: the request is cut part-way.
            stream = "downstream" if resets % 2 == 0 else "upstream"
            for proxy in proxies.all():
                proxy.reset_peer(0, stream=stream)
            time.sleep(0.1)
            proxies.heal()
            resets += 1
            time.sleep(0.5)
        work.join(300)
        bounded(producer.flush, 120.0, "flush")
        stats = check_at_least_once(three_brokers.bootstrap_servers, topic, work.futures)
        retries = producer.metrics()["record-retry-total"]
        print(f"{resets} reset rounds: {stats}; retries {retries}")
        assert retries > 0, "the resets never reached the producer"
        assert stats["acked"] == stats["sent"], stats
    finally:
        bounded(producer.close, 10.0, "close")


# -- (e) flush / close bounded while a broker is a black hole ----------------------------------

def test_flush_and_close_bounded_under_black_hole(three_brokers, proxies, make_topic):
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = proxied_producer(three_brokers)
    try:
        producer.partitions_for(topic)
        for proxy in proxies.all():
            proxy.black_hole()
        futures = [producer.send(topic, b"%d" % i, key=b"k%d" % i) for i in range(3000)]
        _, error = bounded(producer.flush, 2.0, "flush")
        assert isinstance(error, KafkaTimeoutError), repr(error)
        for timeout in (0.5, 0.0):
            _, error = bounded(producer.flush, timeout, "flush")
            assert isinstance(error, KafkaTimeoutError), repr(error)
    finally:
        elapsed, _ = bounded(producer.close, 2.0, "close")
        proxies.heal()
    assert all(f.done() for f in futures)
    errors = {type(f.exception(0)) for f in futures}
    assert errors == {ProducerClosedError}, errors     # nothing got through the hole
    print(f"close(2.0) returned after {elapsed:.2f} s with {len(futures)} records pending")


# -- (f) sliced responses, connections cut after N bytes ---------------------------------------

def test_sliced_and_truncated_links_exactly_once(three_brokers, proxies, make_topic):
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = proxied_producer(three_brokers)
    try:
        producer.partitions_for(topic)
        for proxy in proxies.all():      # every answer arrives a few bytes at a time
            proxy.slicer(7, 5, delay_us=20, stream="downstream")
        work = KeyedWorkload(producer, topic, total=30_000, rate=5000).start()
        work.wait_progress(0.2)
        for limit, stream in ((20_000, "upstream"), (3_000, "downstream"),
                              (150_000, "upstream")):
            for proxy in proxies.all():   # connections cut mid-request / mid-response
                proxy.limit_data(limit, stream=stream)
            time.sleep(0.7)
            for proxy in proxies.all():
                proxy.remove_toxic(f"limit_data_{stream}")
            time.sleep(0.7)
        work.join(300)
        bounded(producer.flush, 120.0, "flush")
        stats = check_exactly_once(three_brokers.bootstrap_servers, topic, work.futures,
                                   allow_failed=False, partition_order=True)
        print(f"sliced + truncated: {stats}; retries "
              f"{producer.metrics()['record-retry-total']}")
    finally:
        bounded(producer.close, 10.0, "close")


# -- (g) answers later than request.timeout.ms -------------------------------------------------

def test_answers_later_than_request_timeout_exactly_once(three_brokers, proxies, make_topic):
    """Every answer of one leader delayed 4.5 s (> request.timeout.ms = 3 s) for 8 s: the
    broker wrote what the producer then gives up on and retries; the idempotent retries
    must be recognised as duplicates (KIP-98), never written twice."""
    topic = make_topic(partitions=PARTITIONS, replication_factor=3, cluster=three_brokers)
    producer = proxied_producer(three_brokers)
    try:
        producer.partitions_for(topic)
        work = KeyedWorkload(producer, topic, total=30_000, rate=3000).start()
        work.wait_progress(0.2)
        victim = busiest_leader(three_brokers, topic)
        proxies.proxy(victim).latency(REQUEST_TIMEOUT_MS + 1500, stream="downstream")
        time.sleep(8.0)
        proxies.heal()
        work.join(300)
        bounded(producer.flush, 120.0, "flush")
        stats = check_exactly_once(three_brokers.bootstrap_servers, topic, work.futures,
                                   allow_failed=False, partition_order=True)
        retries = producer.metrics()["record-retry-total"]
        print(f"answers of broker {victim} late: {stats}; retries {retries}")
        assert retries > 0, "no request timed out"
    finally:
        bounded(producer.close, 10.0, "close")
