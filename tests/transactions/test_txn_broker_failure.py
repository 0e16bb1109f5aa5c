"""Transactions on the 3-node cluster while the transaction coordinator's broker and
a partition leader are SIGKILLed and restarted: a read_committed consumer
(confluent-kafka) sees exactly the committed records, in order, none aborted."""
from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict

import pytest

from kprod.errors import KafkaError, KafkaTimeoutError, ProducerFencedError
from kprod.producer import Producer

from tests.faults.support import leader_of, restore

from .support import read_committed

pytestmark = pytest.mark.slow

TRANSACTIONS = 200
PER_TXN = 30
KEYS = 12


def test_transactions_survive_coordinator_and_leader_kills(three_brokers, make_topic):
    """On Kafka 4.1 (transactions V2, KIP-890); test_txn_v1_kafka39 runs it on 3.9 (V1)."""
    p = transactions_under_broker_kills(three_brokers, make_topic)
    assert p._txn.implicit_add, "expected the KIP-890 V2 flow on this cluster"


def transactions_under_broker_kills(three_brokers, make_topic) -> Producer:
    """Runs the scenario, checks what read_committed sees; returns the closed producer."""
    t1 = make_topic(partitions=3, replication_factor=3, cluster=three_brokers)
    t2 = make_topic(partitions=3, replication_factor=3, cluster=three_brokers)
    bs = three_brokers.bootstrap_servers
    p = Producer({"bootstrap.servers": bs, "transactional.id": f"txn-kill-{uuid.uuid4().hex}",
                  "linger.ms": 5, "request.timeout.ms": 5000, "delivery.timeout.ms": 30000,
                  "max.block.ms": 60000, "transaction.timeout.ms": 60000,
                  "socket.connection.setup.timeout.ms": 2000,
                  "reconnect.backoff.max.ms": 500})
    committed, aborted, outcomes = set(), set(), defaultdict(int)
    progress = [0]
    failure = []
    faults = {60: "coordinator", 130: "leader"}
    done_faults = []
    gates = {at: threading.Event() for at in faults}   # worker waits for the kill

    def run_transactions():
        try:
            _transactions(p, t1, t2, committed, aborted, outcomes, progress, gates)
        except BaseException as exc:              # reported by the main thread
            failure.append(exc)

    try:
        p.init_transactions(60)
        started = time.monotonic()
        # Transactions run on a worker thread; faults are injected from this thread
        # (kafka nodes die with the thread that started them: PR_SET_PDEATHSIG).
        worker = threading.Thread(target=run_transactions, daemon=True)
        worker.start()
        for at, kind in sorted(faults.items()):
            while progress[0] < at and worker.is_alive():
                time.sleep(0.01)
            victim = (p._txn.coordinators.get("txn") or (None,))[0] if kind == "coordinator" \
                else leader_of(three_brokers, t2, 1)
            if victim is None:
                victim = leader_of(three_brokers, t2, 1)
            three_brokers.kill_broker(victim)
            done_faults.append((progress[0], kind, victim))
            gates[at].set()
            time.sleep(3.0)                      # transactions go on while it is down
            three_brokers.start_broker(victim)
            three_brokers.wait_for_topic(t2, in_sync=True, timeout=120)
        worker.join(400)
        assert not worker.is_alive(), f"transactions stuck at {progress[0]}; {_state(p)}"
        if failure:
            raise failure[0]
        outcomes["seconds"] = round(time.monotonic() - started)
    finally:
        p.close(10)
        restore(three_brokers)
    restarts = [(n, k, v, None) for n, k, v in done_faults]
    assert len(done_faults) == len(faults), done_faults
    print(f"outcomes {dict(outcomes)}; faults {[(n, k, v) for n, k, v, _ in restarts]}")
    assert outcomes["committed"] >= TRANSACTIONS // 2 - 5, outcomes
    got = read_committed(bs, [t1, t2], timeout=120)
    values = defaultdict(int)
    last = {}
    for topic, partition, _offset, _key, value in got:
        values[value] += 1
        n, i = (int(x) for x in value.split(b":"))
        prev = last.get((topic, partition))
        assert prev is None or prev < (n, i), f"{topic}-{partition}: {(n, i)} after {prev}"
        last[(topic, partition)] = (n, i)
    assert all(c == 1 for c in values.values()), \
        [v for v, c in values.items() if c > 1][:5]
    expected = {r[2] for r in committed}
    leaked = set(values) & {r[2] for r in aborted}
    assert not leaked, f"{len(leaked)} aborted records visible, e.g. {sorted(leaked)[:5]}"
    missing = expected - set(values)
    assert not missing, f"{len(missing)} committed records missing, e.g. {sorted(missing)[:5]}"
    assert set(values) == expected
    return p


def _transactions(p, t1, t2, committed, aborted, outcomes, progress, gates) -> None:
    """TRANSACTIONS transactions, even ones committed, odd ones aborted; a transaction
    hit by an error is aborted (and counted as aborted)."""
    for n in range(TRANSACTIONS):
        progress[0] = n
        if n in gates:
            gates[n].wait(60)      # the main thread kills a broker now
        want_commit = n % 2 == 0
        records = [(t1 if i % 2 else t2, b"k%d" % (i % KEYS), b"%d:%d" % (n, i))
                   for i in range(PER_TXN)]
        p.begin_transaction()
        try:
            for topic, key, value in records:
                p.send(topic, value, key=key)
            if want_commit:
                for _attempt in range(10):
                    try:
                        p.commit_transaction(20)
                        break
                    except KafkaTimeoutError:       # retriable: call commit again
                        outcomes["commit-timeout-retried"] += 1
                else:
                    raise AssertionError(f"txn {n}: commit never completed; {_state(p)}")
                committed.update(records)
                outcomes["committed"] += 1
                continue
            if n % 4 == 1:
                p.flush(60)          # the aborted records really reach the log
            raise _Abort()
        except ProducerFencedError:
            raise
        except (_Abort, KafkaError) as exc:
            if not isinstance(exc, _Abort):
                outcomes[f"aborted-after-{type(exc).__name__}"] += 1
            for _attempt in range(10):
                try:
                    p.abort_transaction(20)
                    break
                except KafkaTimeoutError:
                    outcomes["abort-timeout-retried"] += 1
            else:
                raise AssertionError(f"txn {n}: abort never completed; {_state(p)}")
            aborted.update(records)
            outcomes["aborted"] += 1
    progress[0] = TRANSACTIONS


class _Abort(Exception):
    pass


def _state(p: Producer) -> str:
    """Producer internals for a failure message (diagnosing a stuck transaction)."""
    t, idem, acc, sender = p._txn, p._idempotence, p._accumulator, p._sender
    sequences = [(tp, s.next_sequence, s.last_acked_sequence, s.in_flight, s.unresolved, s.epoch)
                 for tp, s in idem.partitions.items()]
    topics = p._metadata.snapshot.topics
    leaders = topics and {name: info.leaders for name, info in topics.items()}
    conns = [(c.node_id, c.state, len(c.in_flight)) for c in sender.network.connections.values()]
    return (f"state={t.state} last_error={t.last_error!r} "
            f"pending={[(r.api, r.target) for r in t.pending]} "
            f"in_flight={t.in_flight and t.in_flight.api} coordinators={t.coordinators} "
            f"incomplete={acc.incomplete_snapshot()} "
            f"queued={[(tp, list(q.batches)) for tp, q in acc.queues.items() if q.batches]} "
            f"sequences={sequences} "
            f"pid={idem.producer_id}/{idem.epoch} bump={idem.bump_requested} "
            f"leaders={leaders} "
            f"sender_in_flight={sender.in_flight_batches} "
            f"conns={conns}")
