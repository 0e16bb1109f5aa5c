"""Fault injection against the real broker (SIGSTOP/SIGCONT)."""
from __future__ import annotations

import threading
import time

import pytest

from .readback import by_partition, read_all

PARTITIONS = 3


@pytest.mark.slow
def test_broker_paused_longer_than_request_timeout(kafka, make_topic, make_producer, bootstrap):
    """Idempotent producer, broker frozen for > request.timeout.ms mid-stream: after it
    resumes every record is acknowledged exactly once, in order (values carry a
    sequence number), even though requests written before the pause are retried."""
    topic = make_topic(partitions=PARTITIONS)
    producer = make_producer({"enable.idempotence": True, "acks": "all",
                              "request.timeout.ms": 3000, "delivery.timeout.ms": 180000,
                              "linger.ms": 5, "batch.size": 4096,
                              "socket.connection.setup.timeout.ms": 2000,
                              "max.block.ms": 180000})
    producer.partitions_for(topic)
    futures = []
    stop = threading.Event()
    errors = []

    def produce():
        seq = 0
        try:
            while not stop.is_set() or seq < 3000:
                futures.append(producer.send(topic, b"%08d" % seq, key=b"k%d" % (seq % 10)))
                seq += 1
                if seq % 200 == 0:
                    time.sleep(0.02)
        except BaseException as exc:
            errors.append(exc)

    th = threading.Thread(target=produce)
    th.start()
    try:
        time.sleep(1.0)
        kafka.pause_broker(1)
        time.sleep(5.0)          # > request.timeout.ms: in-flight requests time out
    finally:
        kafka.resume_broker(1)
    time.sleep(1.0)
    stop.set()
    th.join(120)
    assert not th.is_alive() and not errors, errors
    producer.flush(180)
    mds = [f.get(0) for f in futures]          # every record acknowledged, none failed
    # the pause really hit in-flight requests (otherwise this test proves little)
    assert producer.metrics()["record-retry-total"] > 0
    n = len(futures)
    messages = read_all(bootstrap, topic, expected=n, timeout=120)
    assert len(messages) == n, "records lost or duplicated"
    seqs = [int(m.value) for m in messages]
    assert sorted(seqs) == list(range(n))
    for partition, msgs in by_partition(messages).items():
        s = [int(m.value) for m in msgs]
        assert s == sorted(s), f"partition {partition} out of order"
    # RecordMetadata agrees with the log (offsets may be -1 only for broker-recognised
    # duplicates; those must still be in the log exactly once, checked above)
    where = {(m.partition, m.offset): int(m.value) for m in messages}
    for seq, md in enumerate(mds):
        if md.offset >= 0:
            assert where[(md.partition, md.offset)] == seq
