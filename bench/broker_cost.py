"""Does the broker pay more per record for kprod's bulk requests than for the ceiling's?

    .venv/bin/python -m bench.broker_cost [--scenario bulk-arrow/1M] [--records 2000000]
        [--repeats 5] [--broker-dir /dev/shm] [--pin]

One full-JIT broker, warmed as the harness warms it; then per repeat, in an order that
rotates with the repeat, each on a fresh topic of the scenario:

- ``kprod``: one ``send_many()`` of the scenario's column, as the bulk runner sends it
  (its records, kprod_config's settings, one warm-up record before the clock);
- ``ceiling``: the ceiling client's pipelined requests of its own pre-built batch;
- ``ceiling, kprod's batch``: the same requests, each carrying a batch kprod wrote in the
  warm-up round, read back from the broker's log segment. For an uncompressed v2 batch
  that is the bytes kprod sent, but for the base offset and the partition leader epoch,
  which the broker rewrites and the CRC does not cover.

Per run: records/s, the broker's CPU (cores, and seconds per million records:
/proc utime+stime over the run) and its read syscalls per request (/proc/<pid>/io syscr:
how the request bytes reached it). Medians of the repeats, and same-repeat ratios to the
ceiling. If the ceiling sending kprod's batch runs as fast as the ceiling, kprod's record
encoding costs the broker nothing; a gap that remains comes from how kprod delivers them.
``--pin`` puts the broker on one CPU and this process on the others, so that neither
takes CPU time from the other.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import struct
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from bench import raw
from bench.clients import ceiling
from bench.clients._common import Tally, records
from bench.clients.kprod import columns
from bench.clients.settings import kprod_config
from bench.harness import SCENARIOS, make_spec, warm_broker
from bench.system import process_cpu_seconds
from kprod import Producer
from kprod.testing import KafkaCluster

MODES = ("kprod", "ceiling", "ceiling, kprod's batch")
# RecordBatch v2 (KIP-98): base offset (8) and batch length (4) lead; records count at 57.
_BATCH_HEAD = struct.Struct(">qi")
_RECORDS_AT = 57
_CLIENT_HEAD = struct.Struct(">qii")         # base offset, batch length, leader epoch


def read_syscalls(pid: Optional[int]) -> Optional[int]:
    """Read syscalls process ``pid`` made so far (/proc/<pid>/io), None if unreadable."""
    try:
        with open(f"/proc/{pid}/io") as f:
            fields = dict(line.split(": ", 1) for line in f.read().splitlines())
        return int(fields["syscr"])
    except (OSError, KeyError, ValueError):
        return None


def largest_stored_batch(work_dir: pathlib.Path, topic: str) -> Tuple[bytes, int]:
    """(bytes, record count) of the largest batch in ``topic``'s log segments, with the
    base offset and leader epoch the broker wrote into it reset."""
    best: Tuple[bytes, int] = (b"", 0)
    for segment in work_dir.glob(f"**/{topic}-*/*.log"):
        data = segment.read_bytes()
        pos = 0
        while pos + _RECORDS_AT + 4 <= len(data):
            _, length = _BATCH_HEAD.unpack_from(data, pos)
            end = pos + _BATCH_HEAD.size + length
            if length <= 0 or end > len(data):
                break                       # a torn tail: not a whole batch
            count = struct.unpack_from(">i", data, pos + _RECORDS_AT)[0]
            if count > best[1]:
                best = (data[pos:end], count)
            pos = end
    if not best[1]:
        raise SystemExit(f"no record batch of topic {topic} found under {work_dir}")
    # As a client sends it: base offset 0 (the broker rejects any other) and no leader
    # epoch. Both lie before the CRC's range, which stays valid.
    batch = bytearray(best[0])
    _CLIENT_HEAD.pack_into(batch, 0, 0, len(batch) - _BATCH_HEAD.size, -1)
    return bytes(batch), best[1]


def pin_process(pid: Optional[int], cpus: List[int]) -> None:
    """Every thread of process ``pid`` (the broker JVM) onto ``cpus``; threads it starts
    later inherit the mask of the thread that starts them."""
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except ProcessLookupError:
            pass                                # the thread ended meanwhile


def run_kprod(spec: Dict[str, Any]) -> Tuple[float, int]:
    """(seconds, requests) of one send_many() of the scenario's records, then flush()."""
    keys, values, _ = records(spec)
    n = spec["num_records"]
    value_column = columns(spec["bulk"], values, n)
    key_column = columns(spec["bulk"], keys, n) if spec["key_size"] else None
    producer = Producer(kprod_config(spec))
    try:
        producer.send(spec["topic"], values[0], keys[0]).get(30)   # metadata, connection
        before = producer.metrics()["request-total"]
        start = time.perf_counter()
        future = producer.send_many(spec["topic"], value_column, keys=key_column)
        producer.flush()
        elapsed = time.perf_counter() - start
        bulk = future.get(60)
        if bulk.errors:
            raise SystemExit(f"kprod: {len(bulk.errors)} records failed, first {bulk.errors[0]}")
        return elapsed, int(producer.metrics()["request-total"] - before)
    finally:
        producer.close()


def run_ceiling(spec: Dict[str, Any], batch: Optional[Tuple[bytes, int]]) -> Tuple[float, int]:
    """(seconds, requests) of the ceiling client's timed requests, carrying ``batch``
    (bytes, record count) or, if None, the ceiling's own."""
    pool, acks = ceiling.record_pool(spec)
    data, per_batch = batch or raw.ceiling_batch(pool, spec["batch_size"],
                                                 spec["compression"])
    requests, counts = ceiling.plan_requests(spec, pool, data, per_batch, acks)
    conn = ceiling.Connection(spec)
    try:
        tally, warm = Tally(), Tally()
        ceiling.warm_up(conn, spec, pool, acks, warm)
        start = time.perf_counter()
        ceiling.send_pipelined(conn, requests, counts, acks, tally)
        elapsed = time.perf_counter() - start
    finally:
        conn.sock.close()
    if tally.errors or tally.acked != spec["num_records"]:
        raise SystemExit(f"ceiling: {tally.acked} of {spec['num_records']} acknowledged, "
                         f"{tally.errors} errors, first {tally.first_error}")
    return elapsed, len(requests)


def measure(cluster: KafkaCluster, mode: str, spec: Dict[str, Any],
            kprod_batch: Tuple[bytes, int]) -> Dict[str, float]:
    """One run of ``mode`` on ``spec``'s topic, with the broker's CPU and reads over it."""
    pid = cluster.pid(cluster.broker_ids[0])
    records_sent = spec["num_records"]
    cpu0, reads0 = process_cpu_seconds(pid), read_syscalls(pid)
    if mode == "kprod":
        elapsed, requests = run_kprod(spec)
    else:
        elapsed, requests = run_ceiling(spec, kprod_batch if mode != "ceiling" else None)
    cpu, reads = process_cpu_seconds(pid) - cpu0, read_syscalls(pid)
    row = {"records/s": records_sent / elapsed, "broker cores": cpu / elapsed,
           "broker CPU s/M": cpu / records_sent * 1e6}
    if reads is not None and reads0 is not None and requests:
        row["broker reads/request"] = (reads - reads0) / requests
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="bulk-arrow/1M",
                        choices=[s for s in SCENARIOS if SCENARIOS[s].bulk])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--broker-dir", default=None,
                        help="the broker's work directory's parent, e.g. /dev/shm")
    parser.add_argument("--pin", action="store_true",
                        help="the broker's threads on the first CPU, this process's (kprod "
                        "and the ceiling client) on the others: no CPU shared between them")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin:
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least 2 CPUs")
        os.sched_setaffinity(0, cpus[1:])       # threads started later inherit it
    sc = SCENARIOS[args.scenario]
    if sc.compression != "none":
        raise SystemExit("stored batches are re-sent as they are: uncompressed scenarios only")
    rows: Dict[str, List[Dict[str, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="kprod-broker-cost-") as tmp:
        work = pathlib.Path(tempfile.mkdtemp(prefix="kprod-broker-cost-broker-",
                                             dir=args.broker_dir or tmp))
        try:
            with KafkaCluster(brokers=1, fast_startup=False, heap="1g",
                              work_dir=work) as cluster:
                if args.pin:
                    pin_process(cluster.pid(cluster.broker_ids[0]), cpus[:1])
                warm_broker(cluster)
                run_all(cluster, pathlib.Path(tmp), work, sc, args, rows,
                        cpus if args.pin else None)
        finally:
            # on tmpfs a run's logs hold memory (2M records: ~220 MB) until deleted
            shutil.rmtree(work, ignore_errors=True)
    report(rows)


def run_all(cluster: KafkaCluster, tmp: pathlib.Path, work: pathlib.Path, sc: Any,
            args: argparse.Namespace, rows: Dict[str, List[Dict[str, float]]],
            pinned: Optional[List[int]]) -> None:
    """A warm-up round of every mode (which also stores kprod's batch), then the repeats;
    each run on a topic of its own, deleted after it."""
    count = 0

    def fresh_spec() -> Dict[str, Any]:
        nonlocal count
        count += 1
        topic = cluster.create_topic(f"broker-cost-{count}", sc.partitions, 1)
        return make_spec(cluster, tmp, sc, topic, args.records, 1, None)

    def delete(spec: Dict[str, Any]) -> None:
        with cluster.admin() as admin:
            admin.delete_topics([spec["topic"]], wait=False)

    spec = fresh_spec()
    run_kprod(spec)
    kprod_batch = largest_stored_batch(work, spec["topic"])
    delete(spec)
    for batch in (None, kprod_batch):
        spec = fresh_spec()
        run_ceiling(spec, batch)
        delete(spec)
    print(f"{args.scenario}: {args.records:,} records per run; kprod's stored batch holds "
          f"{kprod_batch[1]:,} records ({len(kprod_batch[0]):,} B)"
          + (f"; the broker on CPU {pinned[0]}, kprod and the ceiling on {pinned[1:]}"
             if pinned else ""))
    for repeat in range(args.repeats):
        order = MODES[repeat % len(MODES):] + MODES[:repeat % len(MODES)]
        for mode in order:
            spec = fresh_spec()
            row = measure(cluster, mode, spec, kprod_batch)
            delete(spec)
            rows[mode].append(row)
            print(f"  rep {repeat + 1} {mode:24s} " + "  ".join(
                f"{k} {v:,.2f}" for k, v in row.items()), flush=True)


def report(rows: Dict[str, List[Dict[str, float]]]) -> None:
    print("\nmedians of the repeats")
    for mode, runs in rows.items():
        keys = runs[0].keys()
        print(f"  {mode:24s} " + "  ".join(
            f"{k} {statistics.median(r[k] for r in runs):,.2f}" for k in keys))
    ceilings = [r["records/s"] for r in rows["ceiling"]]
    for mode in ("kprod", "ceiling, kprod's batch"):
        ratios = [r["records/s"] / c for r, c in zip(rows[mode], ceilings)]
        print(f"  {mode} / ceiling (records/s, same repeat): median "
              f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
