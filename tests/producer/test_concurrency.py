"""Many threads sending at once: every record delivered exactly once."""
from __future__ import annotations

import threading
from collections import Counter

from .readback import read_all

THREADS = 8
PER_THREAD = 50_000
PARTITIONS = 6


def test_eight_threads_exactly_once(make_topic, make_producer, bootstrap):
    topic = make_topic(partitions=PARTITIONS)
    producer = make_producer({"linger.ms": 5})
    results = [None] * THREADS
    errors = []
    start = threading.Barrier(THREADS)

    def worker(t):
        try:
            start.wait()
            send = producer.send
            # 100-byte values, unique per (thread, i); every 3rd record keyed
            futures = [send(topic, (b"%02d-%07d-" % (t, i)).ljust(100, b"."),
                            key=(b"k%d" % (i % 97)) if i % 3 == 0 else None)
                       for i in range(PER_THREAD)]
            results[t] = futures
        except BaseException as exc:   # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    assert not errors, errors
    assert not any(th.is_alive() for th in threads)
    producer.flush(180)
    acked = Counter()
    offsets = set()
    for futures in results:
        for f in futures:
            md = f.get(0)
            acked[md.partition] += 1
            offsets.add((md.partition, md.offset))
    total = THREADS * PER_THREAD
    assert len(offsets) == total           # no two records share an offset
    assert sum(acked.values()) == total
    assert producer.metrics()["record-send-total"] == total

    messages = read_all(bootstrap, topic, expected=total, timeout=180)
    assert len(messages) == total
    assert Counter(m.partition for m in messages) == acked
    values = [m.value for m in messages]
    expected = {(b"%02d-%07d-" % (t, i)).ljust(100, b".")
                for t in range(THREADS) for i in range(PER_THREAD)}
    assert len(set(values)) == total      # no duplicates
    assert set(values) == expected        # nothing lost
    # each thread's records keep their order within a partition
    last = {}
    for m in messages:
        t, i = int(m.value[:2]), int(m.value[3:10])
        assert last.get((m.partition, t), -1) < i
        last[(m.partition, t)] = i
