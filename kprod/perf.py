"""``kprod-perf`` / ``python -m kprod.perf``: a producer load generator.

Modelled on Kafka's ``kafka-producer-perf-test`` (``ProducerPerformance``): same
options, same output shape. Example::

    kprod-perf --bootstrap-server 127.0.0.1:9092 --topic t --num-records 1000000 \\
        --record-size 100 --throughput -1 --producer-props acks=all linger.ms=5

Every ``--reporting-interval`` ms (default 5000) a progress line; at the end one
summary line with p50/p95/p99/p99.9 send->ack latency. Latency is measured per
record from ``send()`` to its callback; like Java, at most ~500k records are
sampled for the percentiles. Exit status 1 if any record failed or the run failed
(a missing topic, ...: one line on stderr), 2 for unusable settings.
"""
from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

MAX_SAMPLES = 500_000


class Stats:
    """Window and total counters; updated from the producer's I/O thread (callbacks)."""

    def __init__(self, num_records: int, interval_s: float, out=sys.stdout) -> None:
        self.out = out
        self.interval_s = interval_s
        self.start = self.window_start = time.monotonic()
        self.sampling = max(1, num_records // MAX_SAMPLES)
        self.samples: List[float] = []
        self.count = self.bytes = 0
        self.latency_sum = self.latency_max = 0.0
        self.w_count = self.w_bytes = 0
        self.w_latency_sum = self.w_latency_max = 0.0
        self.errors = 0
        self.first_error: Optional[BaseException] = None
        self.lock = threading.Lock()   # the final summary reads while callbacks may still run

    def record(self, index: int, latency_ms: float, size: int, now: float) -> None:
        with self.lock:
            self.count += 1
            self.bytes += size
            self.latency_sum += latency_ms
            if latency_ms > self.latency_max:
                self.latency_max = latency_ms
            self.w_count += 1
            self.w_bytes += size
            self.w_latency_sum += latency_ms
            if latency_ms > self.w_latency_max:
                self.w_latency_max = latency_ms
            if index % self.sampling == 0:
                self.samples.append(latency_ms)
            if now - self.window_start >= self.interval_s:
                self._print_window(now)

    def _print_window(self, now: float) -> None:
        elapsed = max(now - self.window_start, 1e-9)
        print(f"{self.w_count} records sent, {self.w_count / elapsed:.1f} records/sec "
              f"({self.w_bytes / elapsed / 2 ** 20:.2f} MB/sec), "
              f"{self.w_latency_sum / max(self.w_count, 1):.1f} ms avg latency, "
              f"{self.w_latency_max:.1f} ms max latency.", file=self.out, flush=True)
        self.window_start = now
        self.w_count = self.w_bytes = 0
        self.w_latency_sum = self.w_latency_max = 0.0

    def summary(self, end: float) -> str:
        with self.lock:
            elapsed = max(end - self.start, 1e-9)
            lat = sorted(self.samples)
            pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0  # noqa
            return (f"{self.count} records sent, {self.count / elapsed:.1f} records/sec "
                    f"({self.bytes / elapsed / 2 ** 20:.2f} MB/sec), "
                    f"{self.latency_sum / max(self.count, 1):.2f} ms avg latency, "
                    f"{self.latency_max:.2f} ms max latency, {pick(0.5):.2f} ms 50th, "
                    f"{pick(0.95):.2f} ms 95th, {pick(0.99):.2f} ms 99th, "
                    f"{pick(0.999):.2f} ms 99.9th.")


class _Callback:
    """One per record (as in Java): remembers send time, index and size."""

    __slots__ = ("stats", "index", "sent", "size")

    def __init__(self, stats: Stats, index: int, sent: float, size: int) -> None:
        self.stats, self.index, self.sent, self.size = stats, index, sent, size

    def __call__(self, metadata, exc) -> None:
        now = time.monotonic()
        if exc is not None:
            stats = self.stats
            with stats.lock:
                stats.errors += 1
                if stats.first_error is None:
                    stats.first_error = exc
                    print(f"Error sending record: {exc!r}", file=sys.stderr, flush=True)
            return
        self.stats.record(self.index, (now - self.sent) * 1000.0, self.size, now)


def parse_props(items: Sequence[str]) -> Dict[str, str]:
    props = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"invalid producer property {item!r}: expected NAME=VALUE")
        props[name.strip()] = value.strip()
    return props


def read_config_file(path: str) -> Dict[str, str]:
    """A Java-style .properties file (``name=value`` lines, ``#`` comments)."""
    props = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "!")):
                props.update(parse_props([line]))
    return props


def load_payloads(path: str, delimiter: str) -> List[bytes]:
    with open(path, encoding="utf-8") as f:   # UTF-8 text, like ProducerPerformance
        payloads = [p.encode() for p in f.read().split(delimiter) if p]
    if not payloads:
        raise ValueError(f"payload file {path} has no payloads")
    return payloads


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kprod-perf", description="Produce records as fast as possible (or at a fixed "
        "rate) and report throughput and latency, like kafka-producer-perf-test.")
    p.add_argument("--topic", required=True, help="produce records to this topic")
    p.add_argument("--num-records", type=int, required=True, help="number of records")
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--record-size", type=int, help="value size in bytes (random A-Z)")
    size.add_argument("--payload-file", help="UTF-8 file of payloads; one is picked at "
                      "random per record")
    p.add_argument("--payload-delimiter", default="\n",
                   help="payload separator in --payload-file (default: newline)")
    p.add_argument("--throughput", type=float, required=True,
                   help="records/s to aim for; -1 = unthrottled")
    p.add_argument("--producer-props", nargs="+", default=[], metavar="NAME=VALUE",
                   help="producer settings (Kafka names), e.g. acks=all linger.ms=5")
    p.add_argument("--producer.config", "--producer-config", dest="producer_config",
                   help="producer settings file (.properties); --producer-props win")
    p.add_argument("--bootstrap-server", help="host:port; overrides bootstrap.servers")
    p.add_argument("--reporting-interval", type=int, default=5000, metavar="MS",
                   help="progress line interval in ms (default 5000)")
    p.add_argument("--print-metrics", action="store_true",
                   help="print the producer's metrics at the end")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num_records < 1:
        parser.error("--num-records must be >= 1")
    if args.record_size is not None and args.record_size < 0:
        parser.error("--record-size must be >= 0")
    try:
        props = read_config_file(args.producer_config) if args.producer_config else {}
        props.update(parse_props(args.producer_props))
        if args.payload_file:
            payloads = load_payloads(args.payload_file,
                                     args.payload_delimiter.encode().decode("unicode_escape"))
        else:   # one random payload reused for every record, as ProducerPerformance does
            payloads = [bytes(random.choices(range(65, 91), k=args.record_size))]
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if args.bootstrap_server:
        props["bootstrap.servers"] = args.bootstrap_server
    if "bootstrap.servers" not in props:
        parser.error("give --bootstrap-server or bootstrap.servers in --producer-props")

    from kprod.errors import KafkaError
    from kprod.producer import Producer

    try:
        producer = Producer(props)
    except KafkaError as exc:
        print(f"kprod-perf: {exc}", file=sys.stderr)
        return 2
    n, topic = args.num_records, args.topic
    stats = Stats(n, args.reporting_interval / 1000.0)
    interval = 1.0 / args.throughput if args.throughput > 0 else 0.0
    single = payloads[0] if len(payloads) == 1 else None
    send, monotonic, choice = producer.send, time.monotonic, random.choice
    failure: Optional[KafkaError] = None
    try:
        start = monotonic()
        stats.start = stats.window_start = start
        for i in range(n):
            value = single if single is not None else choice(payloads)
            if interval:   # throttle: record i is due at start + i * interval
                ahead = start + i * interval - monotonic()
                if ahead > 0.001:
                    time.sleep(ahead)
            now = monotonic()
            send(topic, value, callback=_Callback(stats, i, now, len(value)))
        producer.flush()
        end = monotonic()
    except KeyboardInterrupt:
        end = monotonic()
        print("interrupted", file=sys.stderr)
    except KafkaError as exc:   # a missing topic, a closed producer, ...: one line, no trace
        failure = exc
    finally:
        metrics = producer.metrics() if args.print_metrics and failure is None else {}
        producer.close(5.0)
    if failure is not None:
        print(f"kprod-perf: {type(failure).__name__}: {failure}", file=sys.stderr)
        return 1
    print(stats.summary(end), flush=True)
    for name, reading in sorted(metrics.items()):
        print(f"{name:<45} : {reading}")
    if stats.errors:
        print(f"{stats.errors} records failed; first error: {stats.first_error!r}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
