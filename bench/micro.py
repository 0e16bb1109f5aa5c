"""Micro-benchmarks of the native hot path, side by side with peers' builders.

Run: ``python -m bench.micro`` (``--quick`` for a short run). Every scenario
runs kprod's RecordBatchBuilder, aiokafka's Cython DefaultRecordBatchBuilder
and kafka-python's pure-Python one on the same records in one process,
interleaved, repeated; medians are reported with the ratio kprod / peer.
Also: lz4/zstd builder cost vs the raw codec on the same bytes, and murmur2
calls/s vs kafka-python's.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

from kprod._native.bufferpool import BufferPool
from kprod._native.murmur2 import murmur2
from kprod._native.batch_builder import RecordBatchBuilder

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
TS = 1_700_000_000_000


def run_kprod(records, batch_size: int, codec: int) -> int:
    pool = BufferPool(64 << 20, batch_size)
    batches = 0
    i = 0
    n = len(records)
    while i < n:
        key, value = records[i]
        buf = pool.allocate(max(batch_size, 200 + len(value) + (len(key) if key else 0)), 0)
        builder = RecordBatchBuilder(buf, compression=codec, write_limit=batch_size)
        append = builder.append
        while i < n:
            key, value = records[i]
            if append(TS, key, value, None) < 0:
                break
            i += 1
        builder.close()
        builder.release_buffer()
        batches += 1
    return batches


_COLUMNS: Dict[int, Tuple[Optional[list], list]] = {}


def _columns(records) -> Tuple[Optional[list], list]:
    """keys and values as two lists (made once per record set, outside the timing)."""
    cols = _COLUMNS.get(id(records))
    if cols is None:
        keys = [k for k, _ in records]
        cols = _COLUMNS[id(records)] = (None if all(k is None for k in keys) else keys,
                                        [v for _, v in records])
    return cols


def run_kprod_bulk(records, batch_size: int, codec: int) -> int:
    """kprod's bulk entry point: append_many loops over the records in C."""
    pool = BufferPool(64 << 20, batch_size)
    keys, values = _columns(records)
    batches = 0
    i = 0
    n = len(values)
    while i < n:
        size = max(batch_size, 200 + len(values[i]) + (len(keys[i]) if keys else 0))
        builder = RecordBatchBuilder(pool.allocate(size, 0), compression=codec,
                                     write_limit=batch_size)
        i = builder.append_many(TS, values, keys, i)
        builder.close()
        builder.release_buffer()
        batches += 1
    return batches


def _run_peer(builder_class, records, batch_size: int, codec: int) -> int:
    """aiokafka's and kafka-python's builders share one API: append until None."""
    batches = 0
    i = 0
    n = len(records)
    while i < n:
        builder = builder_class(2, codec, 0, -1, -1, -1, batch_size)
        append = builder.append
        offset = 0
        while i < n:
            key, value = records[i]
            if append(offset, TS, key, value, []) is None:
                break
            i += 1
            offset += 1
        builder.build()
        batches += 1
    return batches


def run_aiokafka(records, batch_size: int, codec: int) -> int:
    from aiokafka.record._crecords.default_records import DefaultRecordBatchBuilder
    return _run_peer(DefaultRecordBatchBuilder, records, batch_size, codec)


def run_kafka_python(records, batch_size: int, codec: int) -> int:
    from kafka.record.default_records import DefaultRecordBatchBuilder
    return _run_peer(DefaultRecordBatchBuilder, records, batch_size, codec)


CLIENTS: Dict[str, Callable] = {
    "kprod": run_kprod, "kprod-bulk": run_kprod_bulk, "aiokafka": run_aiokafka,
    "kafka-python": run_kafka_python,
}


def make_records(n: int, key_size: int, value_size: int) -> List[Tuple[Optional[bytes], bytes]]:
    import random
    rng = random.Random(42)
    # Semi-compressible values (like logs): random words from a small vocabulary.
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(200)]
    out = []
    for i in range(n):
        value = b" ".join(rng.choice(words) for _ in range(value_size // 4 + 1))[:value_size]
        value = value.ljust(value_size, b".")
        key = (b"key-%012d" % i)[:key_size] if key_size else None
        out.append((key, value))
    return out


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def raw_codec_time(records, batch_size: int, codec: str, repeats: int) -> float:
    """Time the codec alone on the same bytes: each batch's uncompressed records
    region, compressed one batch at a time (as the builder does at close)."""
    import lz4.frame
    import zstandard
    pool = BufferPool(64 << 20, batch_size)
    regions = []
    i = 0
    while i < len(records):
        buf = pool.allocate(batch_size, 0)
        builder = RecordBatchBuilder(buf, compression=0, write_limit=batch_size)
        while i < len(records) and builder.append(TS, records[i][0], records[i][1], None) >= 0:
            i += 1
        regions.append(bytes(builder.close())[61:])
        builder.release_buffer()
    zstd = zstandard.ZstdCompressor(level=3)
    compress = {
        # lz4: Kafka's framing (64 KiB blocks) with the fast compressor (Java's default);
        # zstd: level 3 (Java's default).
        "lz4": lambda b: lz4.frame.compress(b, block_size=lz4.frame.BLOCKSIZE_MAX64KB),
        "zstd": zstd.compress,
    }[codec]

    def run():
        for region in regions:
            compress(region)
    return statistics.median(timed(run) for _ in range(repeats))


def bench_murmur2(quick: bool) -> Dict[str, float]:
    from kafka.partitioner.default import murmur2 as kp_murmur2
    keys = [b"key-%012d" % i for i in range(1000)]
    n_ours = 200 if quick else 1000
    n_theirs = 5 if quick else 20

    def ours():
        for _ in range(n_ours):
            for k in keys:
                murmur2(k)

    def theirs():
        for _ in range(n_theirs):
            for k in keys:
                kp_murmur2(k)
    rate_ours = n_ours * len(keys) / statistics.median(timed(ours) for _ in range(3))
    rate_theirs = n_theirs * len(keys) / statistics.median(timed(theirs) for _ in range(3))
    return {"kprod": rate_ours, "kafka-python": rate_theirs}


def bench_produce_codec(quick: bool) -> Dict[str, float]:
    """Per-request CPU (us, process time) of the Python protocol codec and the native
    one (kprod._native.produce_request / produce_response): Produce v13, 6 partitions of
    one 16 KiB batch."""
    import timeit
    import uuid

    from kprod._internals.protocol import decode_response, encode_request, encode_response
    from kprod._internals.protocol import types as T
    from kprod._native import produce_request, produce_response
    topic_id = uuid.uuid4()
    batches = [memoryview(bytes(16384)) for _ in range(6)]
    body = T.ProduceRequest(acks=-1, timeout_ms=30000, topic_data=[T.TopicProduceData(
        topic_id=topic_id,
        partition_data=[T.PartitionProduceData(index=p, records=b)
                        for p, b in enumerate(batches)])])
    topics = [(topic_id, list(enumerate(batches)))]
    frame = encode_response(0, 13, 1, T.ProduceResponse(responses=[T.TopicProduceResponse(
        topic_id=topic_id, partition_responses=[
            T.PartitionProduceResponse(index=p, base_offset=10 ** 9 + p, log_start_offset=0)
            for p in range(6)])]))
    runs = {
        "encode python": lambda: encode_request(0, 13, 1, "kprod", body),
        "encode native": lambda: produce_request.encode_produce_request(
            13, 1, "kprod", None, -1, 30000, topics),
        "decode python": lambda: decode_response(0, 13, frame, expected_correlation_id=1),
        "decode native": lambda: produce_response.decode_produce_frame(13, frame, 1),
    }
    number = 2000 if quick else 10000
    return {name: statistics.median(timeit.repeat(fn, number=number, repeat=5 if quick else 11,
                                                  timer=time.process_time)) / number * 1e6
            for name, fn in runs.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (fewer records/repeats)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--clients", default="kprod,kprod-bulk,aiokafka,kafka-python")
    parser.add_argument("--codecs", default="none,lz4,zstd,snappy,gzip")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    n = 100_000 if args.quick else 300_000
    clients = [c for c in args.clients.split(",") if c]
    codecs = [c for c in args.codecs.split(",") if c]
    shapes = [("100 B", 0, 100), ("16 B key + 100 B", 16, 100), ("1000 B", 0, 1000)]
    batch_sizes = [("16 KiB", 16384), ("1 MiB", 1 << 20)]
    print(f"# kprod micro-benchmarks (records/s, median of {repeats}; Python "
          f"{sys.version.split()[0]})\n")
    ours = [c for c in clients if c.startswith("kprod")]
    peers = [c for c in clients if not c.startswith("kprod")]
    ratio_cols = [(o, p) for o in ours for p in peers]
    print("| records | batch | codec | " + " | ".join(f"{c} rec/s" for c in clients)
          + " | kprod MB/s | " + " | ".join(f"{o}/{p}" for o, p in ratio_cols) + " |")
    print("|" + "---|" * (4 + len(clients) + len(ratio_cols)))
    for shape, key_size, value_size in shapes:
        count = n if value_size < 1000 else n // 5
        records = make_records(count, key_size, value_size)
        payload = sum(len(v) + (len(k) if k else 0) for k, v in records)
        for batch_name, batch_size in batch_sizes:
            for codec in codecs:
                if (codec != "none" or value_size == 1000) and batch_name == "1 MiB" \
                        and shape != "100 B":
                    continue
                _columns(records)
                times: Dict[str, List[float]] = {c: [] for c in clients}
                for _ in range(repeats):
                    for client in clients:   # interleaved
                        recs = records if client != "kafka-python" else records[:count // 10]
                        elapsed = timed(CLIENTS[client], recs, batch_size, CODECS[codec])
                        times[client].append(len(recs) / elapsed)
                med = {c: statistics.median(v) for c, v in times.items()}
                mbps = med["kprod"] * payload / count / 1e6 if "kprod" in med else 0
                print(f"| {shape} | {batch_name} | {codec} | "
                      + " | ".join(f"{med[c]:,.0f}" for c in clients)
                      + f" | {mbps:,.0f} | "
                      + " | ".join(f"{med[o] / med[p]:.2f}x" for o, p in ratio_cols) + " |")
                sys.stdout.flush()
    print("\n## Builder cost vs the raw codec on the same bytes (100 B values, 16 KiB batches)\n")
    records = make_records(n, 0, 100)
    for codec in ("lz4", "zstd"):
        if codec not in codecs:
            continue
        builder_s = statistics.median(
            timed(run_kprod, records, 16384, CODECS[codec]) for _ in range(repeats))
        codec_s = raw_codec_time(records, 16384, codec, repeats)
        print(f"- {codec}: builder {builder_s * 1e3:.1f} ms, raw codec {codec_s * 1e3:.1f} ms, "
              f"ratio {builder_s / codec_s:.2f}x")
    rates = bench_murmur2(args.quick)
    print(f"\n## murmur2\n\n- kprod {rates['kprod']:,.0f} calls/s, kafka-python "
          f"{rates['kafka-python']:,.0f} calls/s, "
          f"ratio {rates['kprod'] / rates['kafka-python']:.0f}x")
    us = bench_produce_codec(args.quick)
    print("\n## Produce v13 codec, 6 partitions x 16 KiB (us per request, CPU)\n\n" + "\n".join(
        f"- {what}: python {us[what + ' python']:.2f}, native {us[what + ' native']:.2f}, "
        f"ratio {us[what + ' python'] / us[what + ' native']:.1f}x"
        for what in ("encode", "decode")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
