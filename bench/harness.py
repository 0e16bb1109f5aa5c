"""End-to-end benchmark: kprod against its peers, each in its own process, one broker.

Run: ``python -m bench.harness`` (``make bench``; ``--quick`` for ``make bench-quick``).
It starts a single-node KRaft broker (kprod.testing), then for every repeat, scenario
and client (client order rotates per repeat) creates a fresh topic, runs
``python -m bench.clients.<client> '<json spec>'``, and checks the broker's end
offsets: a run whose count on the broker differs from the records sent, or with
delivery errors, is marked invalid and left out of the medians.

Reported per client and scenario: records/s and MB/s (median, min-max), the ratio
kprod / peer computed within each repeat, CPU seconds per million records, peak RSS
(the client process's VmHWM; the JVM's) and, in the latency scenario, p50/p99/max
send->ack latency. Output: Markdown on the terminal, bench/results/<stamp>.json and
bench/results/<stamp>.png.

Two scenarios need more than the plain broker and are only set up when selected: "tls"
adds an SSL listener (generated CA, server certificate for 127.0.0.1) and "avro" starts
a local schema registry (Apicurio, Confluent-compatible API) and checks a sample of each
run's records: Confluent wire format (magic byte 0, schema id) decoding to one of the
values sent. Clients that cannot run a scenario are listed as n/a with the reason.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

CLIENTS = ["kprod", "confluent", "kafka-python", "aiokafka", "kprod-aio", "java"]
MODULES = {"kafka-python": "kafka_python", "kprod-aio": "kprod_aio"}
SLOW = {"kafka-python", "aiokafka"}   # pure-Python senders: fewer records (rates are per record)
SLOW_DIVISOR = 5
BATCH_SIZE, LINGER_MS = 16384, 5
RESULTS = pathlib.Path(__file__).parent / "results"


@dataclass(frozen=True)
class Scenario:
    name: str
    about: str
    value_size: int = 100
    key_size: int = 0
    partitions: int = 6
    acks: str = "all"
    compression: str = "none"
    idempotence: bool = True
    rate: int = 0             # records/s, 0 = unthrottled
    seconds: float = 0.0      # fixed-rate scenarios: how long to send
    listener: str = "PLAINTEXT"   # "SSL": the broker's TLS listener (server cert verified)
    avro: bool = False        # Customer dicts through each client's schema-registry serializer
    not_run: Tuple[Tuple[str, str], ...] = ()   # (client, why it cannot run this scenario)

    @property
    def latency(self) -> bool:
        return self.rate > 0


SCENARIOS = {s.name: s for s in [
    Scenario("100B", "100 B values, no keys, acks=all, idempotent"),
    Scenario("keyed", "16 B keys + 100 B values (murmur2 over 6 partitions)", key_size=16),
    Scenario("1KiB", "1 KiB values, no keys", value_size=1024),
    Scenario("acks1", "100 B values, acks=1 (idempotence off: it needs acks=all)",
             acks="1", idempotence=False),
    Scenario("no-idem", "100 B values, acks=all, idempotence off", idempotence=False),
    Scenario("lz4", "100 B values, lz4", compression="lz4"),
    Scenario("zstd", "100 B values, zstd", compression="zstd"),
    Scenario("tls", "100 B values, acks=all, idempotent, over TLS (SSL listener)",
             listener="SSL"),
    Scenario("avro", "Customer records as Avro (Confluent wire format, schema registry), "
             "acks=all, idempotent", avro=True, not_run=(
                 ("kafka-python", "no schema-registry Avro serializer of its own"),
                 ("aiokafka", "no schema-registry Avro serializer of its own"),
                 ("kprod-aio", "the asyncio runner sends bytes (kprod runs the Avro path)"),
                 ("java", "ProducerPerformance only sends byte[] payloads (no serializer "
                  "option; Confluent's KafkaAvroSerializer is not on Maven Central)"))),
    Scenario("latency", "100 B values at 10k records/s, send->ack latency", rate=10_000,
             seconds=3.0),
]}
QUICK_SCENARIOS = ["100B", "keyed", "lz4", "latency"]

# What the runners cannot make equal; printed with every report.
UNMATCHED = [
    "Every client: acks, compression codec, idempotence, batch size 16384 and linger 5 ms "
    "are set explicitly; codec levels are each client's default (kprod and Java: lz4 9 = "
    "fast compressor, zstd 3).",
    "kafka-python and aiokafka get 1/%d of the records in throughput scenarios (they are "
    "much slower; rates are per record)." % SLOW_DIVISOR,
    "java (ProducerPerformance) has no key option: the keyed scenario runs unkeyed there. "
    "It picks each value at random from the same payload file; the Python runners cycle it.",
    "CPU: Python runners report getrusage(RUSAGE_SELF) over the timed produce loop (all "
    "threads, librdkafka's included); java reports the whole JVM (startup and JIT included), "
    "so its CPU/M records is pessimistic on short runs. Whole-process CPU of every client "
    "is in the JSON (proc_cpu_s).",
    "java's latency percentiles are whole milliseconds; its clock includes the first metadata "
    "fetch and a cold JIT, while the Python runners fetch the topic's metadata before "
    "their clock starts.",
    "confluent-kafka: batch.size is librdkafka's (max bytes of a partition's MessageSet); "
    "batch.num.messages and queue.buffering.max.messages stay at their defaults; delivery "
    "reports are served by poll() every 256 records (every record when paced).",
    "tls: every client verifies the broker's certificate (PEM CA, hostname 127.0.0.1) and "
    "uses its own TLS stack's defaults (protocol version and cipher suite are not pinned: "
    "Python's ssl module for kprod, kafka-python and aiokafka, librdkafka's OpenSSL, "
    "Java's JSSE). Counts are still verified over PLAINTEXT.",
    "avro: the same 1024 distinct Customer dicts (id int, name string, email null or "
    "string) for both clients; kprod: Producer with value.serializer = "
    "kprod.schema_registry.AvroSerializer, send(topic, dict); confluent: SerializingProducer "
    "with confluent_kafka.schema_registry.avro.AvroSerializer, produce(topic, value=dict). "
    "Both register the schema under <topic>-value before the clock starts (no HTTP in the "
    "timed loop). MB/s counts the encoded value (5 B header + Avro binary, see "
    "avro_value_bytes in the JSON), not the dicts' size. 'Serializer alone' calls each "
    "serializer the way its producer does (kprod: serializer(topic, value, headers); "
    "confluent: serializer(value, SerializationContext(topic, VALUE, headers)), a new "
    "context per record as SerializingProducer.produce makes one).",
]


@dataclass
class Run:
    scenario: str
    client: str
    repeat: int
    records: int
    valid: bool = False
    problem: str = ""
    elapsed_s: float = 0.0
    records_per_s: float = 0.0
    mb_per_s: float = 0.0
    cpu_s: float = 0.0            # as reported by the runner (see UNMATCHED)
    cpu_s_per_m: float = 0.0
    proc_cpu_s: float = 0.0       # wait4: whole client process tree
    max_rss_mb: float = 0.0       # peak RSS of the client's own process image
    broker_count: int = -1
    latency_ms: Optional[Dict[str, float]] = None
    notes: Optional[List[str]] = None
    serialize_us: Optional[float] = None   # avro: the serializer alone, µs per record


# -- one run -------------------------------------------------------------------------------

def payload_file(workdir: pathlib.Path, size: int) -> str:
    """1024 distinct values of random A-Z (like ProducerPerformance's own payloads), one a line."""
    path = workdir / f"values-{size}.txt"
    if not path.exists():
        rnd = random.Random(size)
        path.write_bytes(b"\n".join(bytes(rnd.choices(range(65, 91), k=size))
                                    for _ in range(1024)) + b"\n")
    return str(path)


_AVRO_POOLS: Dict[pathlib.Path, Tuple[str, float, frozenset]] = {}


def avro_pool(workdir: pathlib.Path) -> Tuple[str, float, frozenset]:
    """The Avro scenario's values: (JSON file of the Customer dicts, mean encoded size in
    bytes including the 5-byte Confluent header, the dicts as canonical JSON strings)."""
    if workdir not in _AVRO_POOLS:
        import io

        import fastavro

        from bench.clients._common import CUSTOMER_SCHEMA, customers
        values = customers()
        path = workdir / "customers.json"
        path.write_text(json.dumps(values))
        parsed = fastavro.parse_schema(CUSTOMER_SCHEMA)
        sizes = []
        for v in values:
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, v)
            sizes.append(5 + len(buf.getvalue()))
        _AVRO_POOLS[workdir] = (str(path), statistics.mean(sizes),
                                frozenset(json.dumps(v, sort_keys=True) for v in values))
    return _AVRO_POOLS[workdir]


def check_avro(bootstrap: str, topic: str, partitions: int, registry_url: str,
               pool: frozenset) -> str:
    """Read the first record of every non-empty partition back (PLAINTEXT): each must be
    magic byte 0 + the schema id registered under ``<topic>-value`` + Avro binary that
    decodes, with the registry's schema, to one of the dicts sent. '' if so, else why."""
    import io
    import struct
    import urllib.request

    import fastavro
    from confluent_kafka import Consumer, TopicPartition

    def get(path: str) -> Any:
        with urllib.request.urlopen(registry_url + path, timeout=10) as resp:
            return json.load(resp)

    expected_id = get(f"/subjects/{topic}-value/versions/latest")["id"]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kprod-bench-avro-check",
                         "enable.auto.commit": False})
    try:
        assign = []
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                assign.append(TopicPartition(topic, p, low))
        if not assign:
            return "avro check: no records on the broker"
        consumer.assign(assign)
        firsts: Dict[int, bytes] = {}
        deadline = time.monotonic() + 30
        while len(firsts) < len(assign) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                return f"avro check: {msg.error()}"
            firsts.setdefault(msg.partition(), msg.value())
        if len(firsts) < len(assign):
            return f"avro check: read {len(firsts)} of {len(assign)} partitions' first record"
    finally:
        consumer.close()
    schemas: Dict[int, Any] = {}
    for partition, value in sorted(firsts.items()):
        if len(value) < 6:
            return f"avro check: partition {partition}: {len(value)}-byte value"
        magic, schema_id = struct.unpack(">bI", value[:5])
        if magic != 0 or schema_id != expected_id:
            return (f"avro check: partition {partition}: magic byte {magic}, schema id "
                    f"{schema_id} (registered: {expected_id})")
        if schema_id not in schemas:
            schemas[schema_id] = fastavro.parse_schema(
                json.loads(get(f"/schemas/ids/{schema_id}")["schema"]))
        body = io.BytesIO(value[5:])
        record = fastavro.schemaless_reader(body, schemas[schema_id], None)
        if body.tell() != len(value) - 5 or json.dumps(record, sort_keys=True) not in pool:
            return f"avro check: partition {partition}: decoded {record!r}, not a value sent"
    return ""


def end_offsets(consumer: Any, topic: str, partitions: int) -> int:
    """Sum of the partitions' high watermarks, asked of the broker (not the client)."""
    from confluent_kafka import KafkaException, TopicPartition
    deadline = time.monotonic() + 20
    while True:
        try:
            return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                       for p in range(partitions))
        except KafkaException:   # stale metadata for a brand-new topic: retry shortly
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_client(cluster: Any, consumer: Any, workdir: pathlib.Path, sc: Scenario, client: str,
               repeat: int, records: int, timeout: float, env: Dict[str, str],
               registry_url: Optional[str] = None) -> Run:
    n = int(sc.rate * sc.seconds) if sc.latency else records
    run = Run(sc.name, client, repeat, n)
    topic = f"bench-{sc.name}-{client}-{repeat}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, sc.partitions, 1)
    try:
        before = end_offsets(consumer, topic, sc.partitions)
        spec = {"bootstrap": cluster.bootstrap_servers, "topic": topic, "num_records": n,
                "key_size": sc.key_size, "payload_file": payload_file(workdir, sc.value_size),
                "acks": sc.acks, "compression": sc.compression, "idempotence": sc.idempotence,
                "batch_size": BATCH_SIZE, "linger_ms": LINGER_MS, "rate": sc.rate,
                "latency": sc.latency}
        record_bytes = sc.key_size + sc.value_size
        if sc.listener != "PLAINTEXT":
            spec.update(bootstrap=cluster.bootstrap_for(sc.listener), security_protocol="SSL",
                        ssl_ca=str(cluster.tls.ca_file))
        if sc.avro:
            values_file, record_bytes, pool = avro_pool(workdir)
            spec["avro"] = {"registry_url": registry_url, "values_file": values_file}
        module = "bench.clients." + MODULES.get(client, client)
        with tempfile.TemporaryFile("w+") as err:
            # own process group: a timeout or Ctrl+C also takes down java.py's JVM
            proc = subprocess.Popen([sys.executable, "-m", module, json.dumps(spec)],
                                    stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                    start_new_session=True)
            killer = threading.Timer(timeout, _kill_group, (proc.pid,))
            killer.start()
            try:
                out = proc.stdout.read()
                _, status, ru = os.wait4(proc.pid, 0)   # this child's CPU (incl. its JVM)
                proc.returncode = os.waitstatus_to_exitcode(status)
            finally:
                killer.cancel()
                if proc.returncode is None:
                    _kill_group(proc.pid)
                    proc.wait()
            err.seek(0)
            err_text = err.read()
        run.proc_cpu_s = ru.ru_utime + ru.ru_stime
        run.broker_count = end_offsets(consumer, topic, sc.partitions) - before
        lines = out.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = err_text.strip().splitlines()[-3:]
            run.problem = f"exit {proc.returncode}: " + " | ".join(tail)
            return run
        res = json.loads(lines[-1])
        run.elapsed_s, run.cpu_s = res["elapsed_s"], res["cpu_s"]
        run.latency_ms, run.notes = res["latency_ms"], res["notes"]
        run.max_rss_mb = res["max_rss_mb"]   # the client's own (see _common.peak_rss_mb)
        run.serialize_us = res.get("serialize_us")
        run.records_per_s = n / run.elapsed_s if run.elapsed_s else 0.0
        run.mb_per_s = run.records_per_s * record_bytes / 2 ** 20
        run.cpu_s_per_m = run.cpu_s / n * 1e6
        problems = []
        if res["errors"]:
            problems.append(f"{res['errors']} delivery errors, first: {res['first_error']}")
        if res["acked"] != n:
            problems.append(f"{res['acked']} of {n} acknowledged")
        if run.broker_count != n:   # a client that drops (or duplicates) records cannot win
            problems.append(f"broker has {run.broker_count} records, expected {n}")
        if sc.avro and run.broker_count > 0:
            try:
                bad = check_avro(cluster.bootstrap_servers, topic, sc.partitions, registry_url,
                                 pool)
            except Exception as exc:   # registry or broker trouble: the run doesn't count
                bad = f"avro check failed: {exc!r}"
            if bad:
                problems.append(bad)
        run.problem = "; ".join(problems)
        run.valid = not problems
        return run
    finally:
        cluster.admin().delete_topics([topic])   # keep the broker lean; async is fine


def warm_broker(cluster: Any, records: int = 300_000) -> None:
    """Produce idempotent uncompressed, plain lz4 and zstd records once (confluent-kafka) so
    the broker's JIT is warm before the first measured run, which would otherwise pay alone;
    with an SSL listener, idempotent uncompressed records over TLS too."""
    from confluent_kafka import Producer
    topic = cluster.create_topic("bench-warmup", 6, 1)
    value = b"W" * 100
    plain = {"bootstrap.servers": cluster.bootstrap_servers}
    passes = [(plain, "none", True), (plain, "lz4", False), (plain, "zstd", False)]
    if "SSL" in cluster.listeners:
        passes.append(({"bootstrap.servers": cluster.bootstrap_for("SSL"),
                        "security.protocol": "SSL", "ssl.ca.location": str(cluster.tls.ca_file)},
                       "none", True))
    for connection, codec, idempotent in passes:
        producer = Producer({**connection, "linger.ms": 5, "compression.type": codec,
                             "acks": "all", "enable.idempotence": idempotent})
        for i in range(records // 3):
            while True:
                try:
                    producer.produce(topic, value)
                    break
                except BufferError:
                    producer.poll(0.01)
            if not i & 1023:
                producer.poll(0)
        producer.flush(60)
    cluster.admin().delete_topics([topic])


# -- summaries -----------------------------------------------------------------------------

def _stats(values: List[float]) -> Optional[Dict[str, float]]:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summarize(runs: List[Run], clients: List[str], scenarios: List[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name in scenarios:
        per: Dict[str, Any] = {}
        for client in clients:
            ok = [r for r in runs if r.scenario == name and r.client == client and r.valid]
            bad = [r for r in runs if r.scenario == name and r.client == client and not r.valid]
            per[client] = {
                "records_per_s": _stats([r.records_per_s for r in ok]),
                "mb_per_s": _stats([r.mb_per_s for r in ok]),
                "cpu_s_per_m": _stats([r.cpu_s_per_m for r in ok]),
                "max_rss_mb": _stats([r.max_rss_mb for r in ok]),
                "serialize_us": _stats([r.serialize_us for r in ok if r.serialize_us]),
                "latency_ms": {q: _stats([r.latency_ms[q] for r in ok if r.latency_ms])
                               for q in ("p50", "p99", "max")},
                "records": ok[0].records if ok else None,
                "notes": sorted({n for r in ok for n in (r.notes or [])}),
                "invalid_runs": [f"repeat {r.repeat}: {r.problem}" for r in bad],
                "not_run": dict(SCENARIOS[name].not_run).get(client),
            }
            # kprod / peer within the same repeat, so drift of the shared box cancels out
            ratios = []
            for r in ok:
                mine = [k for k in runs if k.scenario == name and k.client == "kprod"
                        and k.repeat == r.repeat and k.valid]
                if mine and client != "kprod":
                    ratios.append(mine[0].records_per_s / r.records_per_s)
            per[client]["kprod_ratio"] = _stats(ratios)
            if client == "aiokafka":    # asyncio against asyncio: kprod.aio / aiokafka
                per[client]["aio_ratio"] = _stats([
                    k.records_per_s / r.records_per_s for r in ok for k in runs
                    if k.scenario == name and k.client == "kprod-aio"
                    and k.repeat == r.repeat and k.valid])
        out[name] = per
    return out


def _fmt(st: Optional[Dict[str, float]], fmt: str = "{:,.0f}", spread: bool = True,
         not_run: Optional[str] = None) -> str:
    if not_run:      # the client cannot run this scenario (reason in the notes)
        return "n/a"
    if st is None:   # no valid run
        return "invalid"
    text = fmt.format(st["median"])
    if spread and st["n"] > 1:
        text += f" ({fmt.format(st['min'])}–{fmt.format(st['max'])})"
    return text


def markdown(summary: Dict[str, Any], clients: List[str], meta: Dict[str, Any]) -> str:
    tput = [s for s in summary if not SCENARIOS[s].latency]
    lat = [s for s in summary if SCENARIOS[s].latency]
    head = "| scenario | " + " | ".join(clients) + " |\n|---|" + "---:|" * len(clients)
    lines = [f"## kprod end-to-end benchmark, {meta['started']}",
             f"Kafka {meta['kafka']} (1 broker, KRaft, 127.0.0.1), {meta['cpus']} CPUs, "
             f"load average {meta['loadavg']} at start (a shared box skews everything), "
             f"{meta['repeats']} repeat(s); medians with (min–max). † = see notes."
             + (f" kprod from {meta['kprod_src']}." if meta.get("kprod_src") else "")
             + (f" kprod at {meta['kprod_git']}." if meta.get("kprod_git") else "")
             + (f" **kprod/ changed on disk during the run** (now {meta['kprod_changed']}): "
                "later runs may have measured other code." if meta.get("kprod_changed") else ""),
             ""]

    def table(title: str, key: str, fmt: str, spread: bool = True) -> None:
        lines.extend([f"### {title}", head])
        for s in tput:
            cells = [_fmt(summary[s][c][key], fmt, spread, summary[s][c]["not_run"])
                     + ("†" if summary[s][c]["notes"] else "") for c in clients]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")

    if tput:
        table("records/s", "records_per_s", "{:,.0f}")
    if tput and "kprod" in clients and len(clients) > 1:
        lines.extend(["### kprod ÷ peer (records/s, same repeat)",
                      "| scenario | " + " | ".join(c for c in clients if c != "kprod") + " |",
                      "|---|" + "---:|" * (len(clients) - 1)])
        for s in tput:
            cells = [_fmt(summary[s][c]["kprod_ratio"], "{:.2f}x", True, summary[s][c]["not_run"])
                     for c in clients if c != "kprod"]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")
    if tput and {"kprod-aio", "aiokafka"} <= set(clients):
        lines.extend(["### asyncio: kprod-aio ÷ aiokafka (records/s, same repeat)",
                      "| scenario | ratio |", "|---|---:|"])
        for s in tput:
            d = summary[s]["aiokafka"]
            lines.append(f"| {s} | " + _fmt(d.get("aio_ratio"), "{:.2f}x", True,
                                             d["not_run"] or summary[s]["kprod-aio"]["not_run"])
                         + " |")
        lines.append("")
    if tput:
        table("MB/s (key + value bytes, 2^20" + ("; avro: encoded values" if any(
            SCENARIOS[s].avro for s in tput) else "") + ")", "mb_per_s", "{:.1f}", spread=False)
        table("CPU seconds per million records", "cpu_s_per_m", "{:.2f}", spread=False)
        table("peak RSS MB", "max_rss_mb", "{:.0f}", spread=False)
        avro = [s for s in tput if SCENARIOS[s].avro]
        if avro:
            lines.extend(["### serializer alone, CPU µs per record (Avro; thread CPU time "
                          "over the 1024 values, median of 5 passes, in the runner before its "
                          "clock)", head])
            for s in avro:
                cells = [_fmt(summary[s][c]["serialize_us"], "{:.2f}", True,
                              summary[s][c]["not_run"]) for c in clients]
                lines.append(f"| {s} | " + " | ".join(cells) + " |")
            lines.append("")
        counts = {c: summary[tput[0]][c]["records"] for c in clients}
        lines.append("Records per throughput run: " +
                     ", ".join(f"{c} {n:,}" for c, n in counts.items() if n) + "\n")
    for s in lat:
        sc = SCENARIOS[s]
        lines.extend([f"### latency: {sc.about} ({sc.rate * sc.seconds:,.0f} records), ms",
                      "| client | p50 | p99 | max | CPU s / M rec |", "|---|---:|---:|---:|---:|"])
        for c in clients:
            d = summary[s][c]
            lines.append(f"| {c} | " + " | ".join(_fmt(d["latency_ms"][q], "{:.1f}")
                                                  for q in ("p50", "p99", "max"))
                         + f" | {_fmt(d['cpu_s_per_m'], '{:.2f}', False)} |")
        lines.append("")
    invalid = [f"- {s}/{c} {msg}" for s in summary for c in clients
               for msg in summary[s][c]["invalid_runs"]]
    if invalid:
        lines.extend(["### invalid runs (excluded)"] + invalid + [""])
    notes = sorted({f"- {s}/{c}: {n}" for s in summary for c in clients
                    for n in summary[s][c]["notes"]}
                   | {f"- {s}/{c}: not run: {summary[s][c]['not_run']}" for s in summary
                      for c in clients if summary[s][c]["not_run"]})
    if meta.get("avro_value_bytes"):
        notes.append(f"- avro: mean encoded value {meta['avro_value_bytes']:.1f} B "
                     f"(5 B header + Avro binary); schema registry {meta.get('registry')}")
    lines.extend(["### notes"] + notes + [f"- {u}" for u in UNMATCHED])
    return "\n".join(lines)


def chart(summary: Dict[str, Any], clients: List[str], path: pathlib.Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tput = [s for s in summary if not SCENARIOS[s].latency]
    lat = [s for s in summary if SCENARIOS[s].latency]
    fig, axes = plt.subplots(1, 2 if lat else 1, figsize=(14 if lat else 10, 5),
                             gridspec_kw={"width_ratios": [3, 1]} if lat else None, squeeze=False)
    ax = axes[0][0]
    width = 0.8 / len(clients)
    for i, c in enumerate(clients):
        med, lo, hi = [], [], []
        for s in tput:
            st = summary[s][c]["records_per_s"] or {"median": 0, "min": 0, "max": 0}
            med.append(st["median"])
            lo.append(st["median"] - st["min"])
            hi.append(st["max"] - st["median"])
        xs = [x + i * width for x in range(len(tput))]
        ax.bar(xs, med, width, yerr=[lo, hi], label=c, capsize=2)
    ax.set_xticks([x + width * (len(clients) - 1) / 2 for x in range(len(tput))], tput)
    ax.set_yscale("log")
    ax.set_ylabel("records/s (median, min–max)")
    ax.set_title("throughput")
    ax.legend(fontsize=8)
    if lat:
        ax2 = axes[0][1]
        s = lat[0]
        for q, off in (("p50", -0.2), ("p99", 0.2)):
            vals = [(summary[s][c]["latency_ms"][q] or {"median": 0})["median"] for c in clients]
            ax2.bar([x + off for x in range(len(clients))], vals, 0.4, label=q)
        ax2.set_xticks(range(len(clients)), clients, rotation=30)
        ax2.set_ylabel("ms")
        ax2.set_title(f"send→ack latency at {SCENARIOS[s].rate:,}/s")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main ----------------------------------------------------------------------------------

def git_state(src: Optional[str] = None) -> str:
    """``<short sha>`` of the checkout kprod is imported from, ``+ uncommitted kprod/``
    when its kprod/ differs from that commit (the bench measures the working tree)."""
    root = src or str(pathlib.Path(__file__).resolve().parent.parent)
    try:
        sha = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "kprod"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return sha + (" + uncommitted changes in kprod/" if sha and dirty else "")


def kprod_fingerprint(src: Optional[str] = None) -> str:
    """Digest of (path, size, mtime) of kprod/'s sources and built modules: compared at
    the start and the end of a run, it tells whether the code under test changed midway
    (every run imports kprod afresh, and others may be editing the working tree)."""
    import hashlib
    root = pathlib.Path(src or pathlib.Path(__file__).resolve().parent.parent) / "kprod"
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".pyx", ".pxd", ".so") and path.is_file():
            st = path.stat()
            digest.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def versions() -> Dict[str, str]:
    import aiokafka
    import confluent_kafka
    import fastavro
    import kafka

    import kprod
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return {"kprod": getattr(kprod, "__version__", "?"), "python": platform.python_version(),
            "confluent-kafka": confluent_kafka.__version__,
            "librdkafka": confluent_kafka.libversion()[0], "kafka-python": kafka.__version__,
            "aiokafka": aiokafka.__version__, "fastavro": fastavro.__version__,
            "java": (java.splitlines() or ["?"])[0]}


def make_plan(clients: List[str], scenarios: List[str],
              repeats: int) -> List[Tuple[int, str, str]]:
    """(repeat, scenario, client) in run order: client order rotates per repeat; clients
    that cannot run a scenario (Scenario.not_run) are left out."""
    return [(rep, s, c) for rep in range(repeats) for s in scenarios
            for c in clients[rep % len(clients):] + clients[:rep % len(clients)]
            if c not in dict(SCENARIOS[s].not_run)]


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="short run: " + ",".join(QUICK_SCENARIOS) + ", 1 repeat, 50k records")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--scenarios", default=None, help="comma list of " + ",".join(SCENARIOS))
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--records", type=int, default=None,
                   help=f"records per throughput run (slow clients get 1/{SLOW_DIVISOR})")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--timeout", type=float, default=300.0, help="per run, seconds")
    p.add_argument("--kprod-src", help="benchmark the kprod package of another (built) "
                   "checkout, e.g. to compare branches")
    args = p.parse_args(argv)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    scenarios = (args.scenarios.split(",") if args.scenarios
                 else QUICK_SCENARIOS if args.quick else list(SCENARIOS))
    for bad in [c for c in clients if c not in CLIENTS] + [s for s in scenarios if s not in SCENARIOS]:
        p.error(f"unknown client or scenario {bad!r}")
    repeats = args.repeats or (1 if args.quick else 3)
    records = args.records or (50_000 if args.quick else 100_000)
    if args.quick:   # the fixed-rate scenario runs shorter in quick mode
        SCENARIOS["latency"] = dataclasses.replace(SCENARIOS["latency"], seconds=2.0)

    from confluent_kafka import Consumer
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from kprod.testing import KafkaCluster

    console = Console(stderr=True)
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    meta = {"started": stamp, "cpus": os.cpu_count(), "repeats": repeats,
            "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "records": records, "slow_records": records // SLOW_DIVISOR,
            "batch_size": BATCH_SIZE, "linger_ms": LINGER_MS, "versions": versions(),
            "machine": platform.platform()}
    env = dict(os.environ)
    if args.kprod_src:
        env["KPROD_BENCH_SRC"] = meta["kprod_src"] = os.path.abspath(args.kprod_src)
    meta["kprod_git"] = git_state(meta.get("kprod_src"))
    fingerprint = kprod_fingerprint(meta.get("kprod_src"))
    runs: List[Run] = []
    plan = make_plan(clients, scenarios, repeats)
    # extra listeners and the schema registry only when a selected scenario needs them
    listeners = sorted({SCENARIOS[s].listener for s in scenarios} - {"PLAINTEXT"})
    need_registry = any(SCENARIOS[s].avro for s in scenarios)
    with tempfile.TemporaryDirectory(prefix="kprod-bench-") as tmp:
        with console.status("starting Kafka (1 broker, KRaft)..."):
            # full JIT (fast_startup=False): peak broker throughput matters here
            cluster = KafkaCluster(brokers=1, fast_startup=False, heap="1g",
                                   listeners=listeners).start()
        consumer = registry = None
        try:
            meta["kafka"] = cluster.version
            meta["listeners"] = list(cluster.listeners)
            if need_registry:
                from kprod.testing.registry import SchemaRegistry
                with console.status("starting the schema registry (Apicurio)..."):
                    registry = SchemaRegistry().start()
                meta["registry"] = f"Apicurio Registry {registry.version} (in-memory)"
                meta["avro_value_bytes"] = avro_pool(pathlib.Path(tmp))[1]
            with console.status("warming up the broker..."):
                warm_broker(cluster)
            consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers,
                                 "group.id": "kprod-bench-verify"})
            with Progress("[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=console) as prog:
                task = prog.add_task("runs", total=len(plan))
                for rep, s, c in plan:
                    prog.update(task, description=f"rep {rep + 1} {s:8} {c:12}")
                    n = records // SLOW_DIVISOR if c in SLOW else records
                    run = run_client(cluster, consumer, pathlib.Path(tmp), SCENARIOS[s], c, rep,
                                     n, args.timeout, env, registry.url if registry else None)
                    runs.append(run)
                    lat = f" p99 {run.latency_ms['p99']:.1f} ms" if run.latency_ms else ""
                    status = "ok" if run.valid else f"[red]INVALID: {run.problem}[/red]"
                    prog.console.print(f"{s:8} {c:12} {run.records_per_s:>11,.0f} rec/s "
                                       f"{run.cpu_s_per_m:6.2f} CPU s/M{lat}  {status}")
                    prog.advance(task)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: reporting what ran so far[/yellow]")
        finally:
            if consumer is not None:
                consumer.close()
            if registry is not None:
                registry.stop()
            with console.status("stopping Kafka..."):
                cluster.stop()
    if not runs:
        return 1
    if kprod_fingerprint(meta.get("kprod_src")) != fingerprint:
        meta["kprod_changed"] = git_state(meta.get("kprod_src")) or "?"
        console.print("[yellow]kprod/ changed on disk during the run: later runs may have "
                      "measured other code (--kprod-src with a frozen checkout avoids it)[/yellow]")
    done = [s for s in scenarios if any(r.scenario == s for r in runs)]
    summary = summarize(runs, clients, done)
    report = markdown(summary, clients, meta)
    print(report)
    json_path = out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps({"meta": meta, "unmatched": UNMATCHED,
                                     "scenarios": {s: asdict(SCENARIOS[s]) for s in done},
                                     "summary": summary, "runs": [asdict(r) for r in runs]},
                                    indent=1))
    png_path = out_dir / f"{stamp}.png"
    chart(summary, clients, png_path)
    console.print(f"wrote {json_path} and {png_path}")
    return 0 if all(r.valid for r in runs) else 2


if __name__ == "__main__":
    sys.exit(main())
