"""Enqueue rate of send_many: how fast one call queues a column (issue 15's goal:
20M records/s for 100 B values from Arrow without keys, 8M/s keyed).

Run: ``python -m bench.bulk_enqueue [--records 2000000] [--bootstrap host:port]``
(without --bootstrap it starts a broker with kprod.testing). For each column kind it
times send_many() alone (wall and the calling thread's CPU), then waits for the
acknowledgements before the next one. buffer.memory is sized to hold the whole call,
so the figure is the caller's cost, not the broker's pace (with less memory the call
waits for the broker, as send() does). Medians of ``--repeats`` calls, each kind after
``--warmups`` untimed calls of its own.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import uuid
from typing import Any, Dict, Iterator, List

import numpy as np


def columns(n: int) -> Dict[str, Dict[str, Any]]:
    import pyarrow as pa
    rnd = np.random.default_rng(7)
    pool = rnd.integers(65, 91, size=(1024, 100), dtype=np.uint8)
    values = np.resize(pool, (n, 100))                       # n rows of 100 B
    flat = np.ascontiguousarray(values).view("S100").reshape(n)
    offsets = np.arange(0, (n + 1) * 100, 100, dtype=np.int32)
    arrow = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                   pa.py_buffer(flat)])
    keys = np.array([b"%016d" % (i * 7919 % 10**16) for i in range(1024)], dtype="S16")
    key_column = np.resize(keys, n)
    key_offsets = np.arange(0, (n + 1) * 16, 16, dtype=np.int32)
    arrow_keys = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(key_offsets),
                                                        pa.py_buffer(key_column)])
    return {
        "arrow, no keys": {"values": arrow},
        "arrow, 16 B keys": {"values": arrow, "keys": arrow_keys},
        "numpy S100, no keys": {"values": flat},
        "numpy S100, 16 B keys": {"values": flat, "keys": key_column},
    }


@contextlib.contextmanager
def broker(bootstrap: str) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    from kprod.testing import KafkaCluster
    with KafkaCluster(brokers=1) as cluster:
        yield cluster.bootstrap_servers


def main(argv: List[str] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=2_000_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmups", type=int, default=2)
    p.add_argument("--partitions", type=int, default=6)
    p.add_argument("--bootstrap", default="")
    args = p.parse_args(argv)
    from confluent_kafka.admin import AdminClient, NewTopic

    from kprod import Producer
    n = args.records
    cases = columns(n)
    with broker(args.bootstrap) as bootstrap:
        topic = f"bulk-enqueue-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result()
        config = {"bootstrap.servers": bootstrap, "acks": "1", "enable.idempotence": False,
                  "batch.size": 1_000_000, "linger.ms": 5,
                  "buffer.memory": 4 * n * 140 + (64 << 20)}
        with Producer(config) as producer:
            producer.partitions_for(topic)
            print(f"{n} records of 100 B per call, batch.size 1 MB, {args.partitions} "
                  f"partitions; medians of {args.repeats} calls, each kind after "
                  f"{args.warmups} untimed calls of its own")
            for name, kwargs in cases.items():
                # Warm-up before the clock: a call that outruns the broker holds more
                # pool buffers than any before it, and a buffer's first use faults its
                # pages in (measured: the first timed calls of a fresh process ran at
                # about half the later rate), so each kind first runs untimed.
                for _ in range(args.warmups):
                    producer.send_many(topic, **kwargs).get(120)
                walls, cpus = [], []
                for _ in range(args.repeats):
                    t0, c0 = time.perf_counter(), time.thread_time()
                    future = producer.send_many(topic, **kwargs)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.thread_time() - c0)
                    metadata = future.get(120)
                    assert not metadata.errors, metadata.errors[:1]
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                print(f"  {name:24s} enqueue {n / wall / 1e6:6.1f} M records/s wall "
                      f"({n / max(walls) / 1e6:.1f}-{n / min(walls) / 1e6:.1f}), "
                      f"{n / cpu / 1e6:6.1f} M records/s per caller CPU second "
                      f"({cpu / n * 1e6 * 1e3:.0f} ms CPU per million)")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
