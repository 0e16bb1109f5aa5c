"""The producer side of the soak (tests/faults/soak.py), in a process of its own so that
its RSS, threads and file descriptors are kprod's and the workload's alone (the fault
injector's confluent-kafka clients live in the parent).

    python -m tests.faults.soak_worker --bootstrap HOST:PORT,... --topic T --seconds S

Phases: baseline (before the producer exists), max rate (unpaced for
--measure-seconds), soak (paced at --rate-fraction of that rate for --seconds), flush,
close, after-close. Every second a sample goes to stdout as one JSON line; the last
line (event "done") has what the checker needs: records sent per key, the failed
ones, and the resources after close. Records: key b"k<key>", value b"<key>:<seq>"
(KeyedWorkload's format), <seq> counting from 0 per key in send order."""
from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import sys
import threading
import time

from kprod.errors import KafkaError
from kprod.producer import Producer

KEYS = 997
FAILED_KEPT = 100_000      # failed records listed individually (the count is exact)


def resources() -> dict:
    """This process's RSS (bytes), OS threads, open fds and GC collections so far."""
    rss = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
                break
    stats = gc.get_stats()
    return {"rss": rss, "threads": len(os.listdir("/proc/self/task")),
            "fds": len(os.listdir("/proc/self/fd")),
            "gc": [s["collections"] for s in stats]}


class Counters:
    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.failed_records: list = []
        self.phase = "baseline"
        self.pool = None            # the producer's BufferPool, once there is one

    def done(self, key: int, seq: int, metadata, error) -> None:
        # On the I/O thread; one integer add per record.
        if error is None:
            self.acked += 1
            return
        self.failed += 1
        if len(self.failed_records) < FAILED_KEPT:
            self.failed_records.append((key, seq, type(error).__name__))


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")
    sys.stdout.flush()


def sampler(counters: Counters, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        pool = counters.pool
        # Bytes the buffer pool holds (in use + free pooled buffers, kept as Java does):
        # RSS may legitimately stay up by that much after a backlog.
        held = pool.total_memory - pool.unallocated_memory if pool is not None else 0
        emit("sample", phase=counters.phase, sent=counters.sent, acked=counters.acked,
             failed=counters.failed, pool_held=held, **resources())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--measure-seconds", type=float, default=10.0)
    ap.add_argument("--rate-fraction", type=float, default=0.5)
    ap.add_argument("--buffer-memory", type=int, default=32 * 1024 * 1024)
    args = ap.parse_args(argv)

    counters = Counters()
    stop = threading.Event()
    sampling = threading.Thread(target=sampler, args=(counters, stop), name="sampler",
                                daemon=True)
    sampling.start()
    gc.collect()
    baseline = resources()
    emit("baseline", **baseline)

    producer = Producer({
        "bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True,
        "linger.ms": 5, "batch.size": 16384, "buffer.memory": args.buffer_memory,
        "request.timeout.ms": 3000, "delivery.timeout.ms": 120000, "max.block.ms": 120000,
        "socket.connection.setup.timeout.ms": 2000, "reconnect.backoff.max.ms": 500})
    counters.pool = producer._pool
    send, topic, done = producer.send, args.topic, counters.done
    seqs = [0] * KEYS
    # 1 KB values: buffer.memory bounds the queued bytes, but each queued record also
    # holds a future and its callback (~400 B of Python objects, not counted in
    # buffer.memory, as in Java). With values of a few bytes a fault's backlog of
    # records would be mostly those objects (docs/GUARANTEES.md).
    pad = b":" + b"x" * 1000

    def send_one() -> None:
        n = counters.sent
        k = n % KEYS
        s = seqs[k]
        seqs[k] = s + 1
        send(topic, b"%d:%d" % (k, s) + pad, key=b"k%d" % k,
             callback=functools.partial(done, k, s))
        counters.sent = n + 1

    producer.partitions_for(topic)
    # The maximum rate: unpaced (send blocks when buffer.memory is full) until the
    # records of --measure-seconds are all acknowledged.
    counters.phase = "measure"
    start = time.monotonic()
    while time.monotonic() - start < args.measure_seconds:
        for _ in range(1000):
            send_one()
    producer.flush(120)
    max_rate = counters.sent / (time.monotonic() - start)
    rate = max_rate * args.rate_fraction
    emit("max_rate", max_rate=max_rate, rate=rate)

    counters.phase = "soak"
    start = time.monotonic()
    emit("soak_started")
    paced_from, sent_from = start, counters.sent
    while time.monotonic() - start < args.seconds:
        for _ in range(200):
            send_one()
        now = time.monotonic()
        ahead = (counters.sent - sent_from) / rate - (now - paced_from)
        if ahead > 0:
            time.sleep(ahead)
        elif ahead < -1.0:
            # Behind by more than a second (send blocked during a fault): catch up
            # at most one second's worth (the time send() was blocked is skipped).
            paced_from, sent_from = now - 1.0, counters.sent
    counters.phase = "flush"
    t = time.monotonic()
    flush_error = None
    try:
        producer.flush(180)
    except KafkaError as exc:           # reported; the checker decides
        flush_error = repr(exc)
    flush_s = time.monotonic() - t
    counters.phase = "close"
    t = time.monotonic()
    producer.close(10)
    close_s = time.monotonic() - t
    counters.phase = "closed"
    counters.pool = None
    # Threads end a moment after close() returns at most; fds are closed by then.
    deadline = time.monotonic() + 5
    while resources()["threads"] > baseline["threads"] and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.collect()
    after = resources()
    stop.set()
    sampling.join()
    emit("done", baseline=baseline, after_close=after, sent=counters.sent,
         acked=counters.acked, failed=counters.failed, failed_records=counters.failed_records,
         sent_per_key=seqs, flush_s=flush_s, close_s=close_s, flush_error=flush_error,
         buffer_memory=args.buffer_memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
