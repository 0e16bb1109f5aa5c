"""Shared pieces of the broker-failure tests: a paced keyed workload whose values carry a
per-key sequence number, and the exactly-once / per-key-order check against an
independent reader (confluent-kafka)."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from tests.producer.readback import read_all

KEYS = 997


class KeyedWorkload:
    """Sends ``total`` records round-robin over ``KEYS`` keys from a background thread at
    about ``rate`` records/s. Value ``b"<key>:<seq>"``: ``seq`` counts per key from 0."""

    def __init__(self, producer, topic: str, total: int, rate: float) -> None:
        self.producer, self.topic, self.total, self.rate = producer, topic, total, rate
        self.futures: List[Tuple[int, int, object]] = []     # (key, seq, future)
        self.errors: List[BaseException] = []
        self.sent = 0
        self.thread = threading.Thread(target=self._run, name="workload", daemon=True)

    def start(self) -> "KeyedWorkload":
        self.thread.start()
        return self

    def _run(self) -> None:
        send, topic = self.producer.send, self.topic
        seqs = [0] * KEYS
        start = time.monotonic()
        try:
            for n in range(self.total):
                k = n % KEYS
                s = seqs[k]
                seqs[k] = s + 1
                self.futures.append((k, s, send(topic, b"%d:%d" % (k, s), key=b"k%d" % k)))
                self.sent = n + 1
                if n % 500 == 499:
                    ahead = (n + 1) / self.rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
        except BaseException as exc:           # reported by the test
            self.errors.append(exc)

    def wait_progress(self, fraction: float, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while self.sent < fraction * self.total and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise AssertionError(f"workload stuck at {self.sent}/{self.total}")
            time.sleep(0.05)

    def join(self, timeout: float = 300.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"send() stuck at {self.sent}/{self.total}"
        assert not self.errors, self.errors


def check_exactly_once(bootstrap: str, topic: str, futures, allow_failed: bool = True,
                       timeout: float = 180.0, partition_order: bool = False
                       ) -> Dict[str, int]:
    """Every future is complete; every acknowledged record is in the log exactly once;
    a failed record is in the log at most once; per key the sequence numbers strictly
    increase in log order. With ``partition_order`` (one KeyedWorkload, one producer)
    also every partition's records are in send order. Returns counts for the report."""
    incomplete = [(k, s) for k, s, f in futures if not f.done()]
    assert not incomplete, f"{len(incomplete)} futures never completed, e.g. {incomplete[:5]}"
    acked, failed = set(), {}
    for k, s, f in futures:
        exc = f.exception(0)
        if exc is None:
            acked.add((k, s))
        else:
            failed[(k, s)] = exc
    assert allow_failed or not failed, \
        f"{len(failed)} records failed, e.g. {list(failed.items())[:3]}"
    messages = read_all(bootstrap, topic, expected=len(acked), timeout=timeout)
    seen: Dict[Tuple[int, int], int] = defaultdict(int)
    last: Dict[int, Tuple[int, int]] = {}
    partition_of: Dict[int, int] = {}
    for m in messages:
        k, s = (int(x) for x in m.value.split(b":"))
        assert m.key == b"k%d" % k
        seen[(k, s)] += 1
        assert partition_of.setdefault(k, m.partition) == m.partition
        prev = last.get(k)
        assert prev is None or prev[0] < s, \
            f"key {k}: seq {s} at offset {m.offset} after seq {prev[0]} at offset {prev[1]}"
        last[k] = (s, m.offset)
    if partition_order:
        check_partition_order(messages)
    dups = {ks: n for ks, n in seen.items() if n > 1}
    assert not dups, f"{len(dups)} records duplicated, e.g. {list(dups.items())[:5]}"
    missing = acked - set(seen)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    unknown = set(seen) - acked - set(failed)
    assert not unknown, f"records in the log that were never sent: {sorted(unknown)[:5]}"
    return {"sent": len(futures), "acked": len(acked), "failed": len(failed),
            "failed_in_log": len(set(failed) & set(seen)), "log": len(messages),
            "failure_kinds": len({type(e).__name__ for e in failed.values()})}


def leader_of(cluster, topic: str, partition: int) -> int:
    with cluster.admin() as admin:       # kprod.admin
        leader = admin.describe_topics(topic, timeout=10)[topic].partitions[partition].leader
    return -1 if leader is None else leader


def restore(cluster, topic: Optional[str] = None, timeout: float = 120.0) -> None:
    """Bring every node back (resume paused, start dead) and wait until ``topic`` is
    fully in sync again, so later tests get a healthy cluster."""
    for node_id in cluster.broker_ids:
        node = cluster._node(node_id)
        if node.paused:
            cluster.resume_broker(node_id)
    for node_id in cluster.broker_ids:
        if cluster.pid(node_id) is None:
            cluster.start_broker(node_id)
    if topic is not None:
        cluster.wait_for_topic(topic, in_sync=True, timeout=timeout)


def send_index(value: bytes) -> int:
    """The KeyedWorkload's send counter ``n`` of a record: ``seq * KEYS + key``."""
    k, s = (int(x) for x in value.split(b":"))
    return s * KEYS + k


def check_partition_order(messages) -> None:
    """Per partition, the send counters strictly increase in offset order."""
    last: Dict[int, Tuple[int, int]] = {}
    for m in messages:
        n = send_index(m.value)
        prev = last.get(m.partition)
        assert prev is None or prev[0] < n, \
            f"partition {m.partition}: record #{n} at offset {m.offset} after #{prev[0]} " \
            f"at offset {prev[1]}"
        last[m.partition] = (n, m.offset)


def check_at_least_once(bootstrap: str, topic: str, futures,
                        timeout: float = 180.0) -> Dict[str, int]:
    """Every future is complete and every acknowledged record is in the log at least
    once (idempotence off: a retried request may have been written before). Returns
    counts, with ``duplicates`` = extra copies in the log."""
    incomplete = [(k, s) for k, s, f in futures if not f.done()]
    assert not incomplete, f"{len(incomplete)} futures never completed, e.g. {incomplete[:5]}"
    acked = {(k, s) for k, s, f in futures if f.exception(0) is None}
    sent = {(k, s) for k, s, _ in futures}
    messages = read_all(bootstrap, topic, expected=len(acked), timeout=timeout)
    seen: Dict[Tuple[int, int], int] = defaultdict(int)
    for m in messages:
        k, s = (int(x) for x in m.value.split(b":"))
        assert m.key == b"k%d" % k
        seen[(k, s)] += 1
    missing = acked - set(seen)
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    unknown = set(seen) - sent
    assert not unknown, f"records in the log that were never sent: {sorted(unknown)[:5]}"
    return {"sent": len(futures), "acked": len(acked), "log": len(messages),
            "duplicates": sum(n - 1 for n in seen.values()),
            "duplicated_records": sum(1 for n in seen.values() if n > 1)}


#: flush(timeout) and close(timeout) return within timeout + this (issue 16 (e)).
RETURN_BOUND_S = 1.0


def bounded(call, timeout: float, what: str) -> Tuple[float, Optional[BaseException]]:
    """Run ``call(timeout)`` (a producer's flush or close); assert it returned, or raised,
    within ``timeout + RETURN_BOUND_S``. Returns (seconds, the exception or None)."""
    start = time.monotonic()
    error: Optional[BaseException] = None
    try:
        call(timeout)
    except Exception as exc:       # flush raises KafkaTimeoutError on time-out
        error = exc
    elapsed = time.monotonic() - start
    assert elapsed <= timeout + RETURN_BOUND_S, \
        f"{what}({timeout}) took {elapsed:.2f} s (> timeout + {RETURN_BOUND_S} s)"
    return elapsed, error


def busiest_leader(cluster, topic: str) -> int:
    """The broker leading most of ``topic``'s partitions (all equally busy: keyed)."""
    with cluster.admin() as admin:       # kprod.admin
        partitions = admin.describe_topics(topic, timeout=10)[topic].partitions
    count: Dict[int, int] = defaultdict(int)
    for p in partitions:
        count[p.leader] += 1
    return max(sorted(count), key=lambda b: count[b])
