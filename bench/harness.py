"""End-to-end benchmark: kprod against its peers and the broker's own ceiling, one broker.

Run: ``python -m bench.harness`` (``make bench``; ``--quick`` for ``make bench-quick``).
It starts a single-node KRaft broker with the full JIT (kprod.testing), warms it up,
then for every repeat, scenario and client (the client order rotates per repeat)
creates a fresh topic and runs ``python -m bench.clients.<client> '<json spec>'``.

Every client gets the same settings (bench.clients.settings, printed per scenario), the
same records and the same clock: one warm-up record sent and flushed before it (the JVM
also sends ``--java-warmup`` records first; in the bulk-* scenarios kprod, confluent-kafka
and the ceiling also send a buffer.memory's worth through their bulk path first, see
settings.bulk_warmup_records), then from the first timed send until
flush() returns, CPU over the same window. The ``ceiling`` client pushes pre-built
batches in raw pipelined Produce requests: what the broker takes when the client costs
almost nothing; every rate is also reported as a fraction of it, within the same repeat.
The ``pacer`` client (paced scenarios only) is the kprod runner's paced loop without
any Kafka client: the CPU that pacing and latency bookkeeping cost by themselves.

A run is valid only if the broker's end offsets grew by exactly the records sent
(warm-up included; the pacer writes nothing, so for it by exactly 0), every record was
acknowledged and no delivery failed. Each run also
records the broker's CPU (from /proc), the load average at its start and the CPU other
processes used meanwhile; a run on a busy machine is flagged "loaded".

Output: Markdown on stdout, bench/results/<stamp>.json and three charts
bench/results/<stamp>-{ceiling,cpu,latency}.png (bench.report).
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
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from bench import system
from bench.clients import settings

CLIENTS = ["kprod", "confluent", "java", "kprod-aio", "kafka-python", "aiokafka", "ceiling",
           "pacer"]
MODULES = {"kafka-python": "kafka_python", "kprod-aio": "kprod_aio"}
# per-record Python send loops (asyncio ones too): sized to run >= SLOW_SECONDS
SLOW = {"kafka-python", "aiokafka", "kprod-aio"}
SLOW_SECONDS = 10.0
# Clients left out of most scenarios to keep `make bench` within 15 minutes (their runs
# take >= 10 s); --all-clients runs them everywhere.
PART_TIME = {"kafka-python", "aiokafka", "kprod-aio"}
# Baselines that connect to no broker: their runs are valid only if the broker got 0
# records (the topic is created and counted as for every client). The pacer: the kprod
# runner's paced loop with a stand-in send() that acknowledges at once.
WRITES_NOTHING = {"pacer"}
PACED_ONLY = {"pacer": "the pacer baseline measures pacing, which only paced scenarios do"}
LINGER_MS = 5
KIB16, MB1 = 16384, 1_000_000
RESULTS = pathlib.Path(__file__).parent / "results"
LOADED_OTHER_CORES = 0.3      # CPU of other processes during a run, in cores


@dataclass(frozen=True)
class Scenario:
    name: str
    about: str
    value_size: int = 100
    key_size: int = 0
    headers: int = 0
    partitions: int = 6
    acks: str = "all"
    compression: str = "none"
    idempotence: bool = True
    batch_size: int = KIB16
    rate: int = 0             # records/s, 0 = unthrottled; paced runs keep latencies
    seconds: float = 0.0      # paced runs: how long to send
    tls: bool = False         # the broker's SSL listener, TLS 1.3 with one suite
    avro: bool = False        # Customer dicts through each client's schema-registry serializer
    everyone: bool = False    # the part-time clients run it too
    bulk: str = ""            # "numpy" / "arrow": kprod sends one send_many() of columns
    # A floor on a fast client's records when --records is not given: at the broker's
    # ceiling (4-5M records/s here) the default would be a run of a fifth of a second.
    min_records: int = 0
    not_run: Tuple[Tuple[str, str], ...] = ()   # (client, why it cannot run this scenario)

    @property
    def paced(self) -> bool:
        return self.rate > 0


def _both(base: Scenario) -> List[Scenario]:
    """A throughput scenario at batch.size 16 KiB and at 1 MB."""
    return [dataclasses.replace(base, name=f"{base.name}/16K", batch_size=KIB16),
            dataclasses.replace(base, name=f"{base.name}/1M", batch_size=MB1)]


_AVRO_NOT_RUN = (("java", "the runner sends byte[] (no Avro serializer on the cached "
                  "classpath: Confluent's KafkaAvroSerializer is not on Maven Central)"),
                 ("ceiling", "sends pre-built bytes"),
                 ("kafka-python", "no schema-registry Avro serializer of its own"),
                 ("aiokafka", "no schema-registry Avro serializer of its own"),
                 ("kprod-aio", "the asyncio runner sends bytes (kprod runs the Avro path)"))

# Records of a bulk-* run (unless --records): about a second for kprod and the ceiling.
BULK_RECORDS = 4_000_000
_BULK_NOT_RUN = (("kprod-aio", "the asyncio runner sends record by record (kprod runs "
                 "the bulk path)"),)

SCENARIOS = {s.name: s for s in [
    Scenario("100B/16K", "100 B values, no keys, acks=all, idempotent", everyone=True),
    Scenario("100B/1M", "100 B values, no keys, acks=all, idempotent", batch_size=MB1),
    *_both(Scenario("1KiB", "1 KiB values, no keys", value_size=1024)),
    *_both(Scenario("keyed", "16 B keys + 100 B values (murmur2 over 6 partitions)",
                    key_size=16)),
    *_both(Scenario("headers", "100 B values + 3 headers (trace-id 16 B, source, schema)",
                    headers=3)),
    *_both(Scenario("acks0", "100 B values, acks=0 (idempotence off: it needs acks=all)",
                    acks="0", idempotence=False)),
    *_both(Scenario("acks1", "100 B values, acks=1 (idempotence off)", acks="1",
                    idempotence=False)),
    *_both(Scenario("no-idem", "100 B values, acks=all, idempotence off", idempotence=False)),
    *_both(Scenario("lz4", "100 B values, lz4", compression="lz4")),
    *_both(Scenario("zstd", "100 B values, zstd", compression="zstd")),
    *_both(Scenario("tls", f"100 B values over {settings.TLS_PROTOCOL} "
                    f"{settings.TLS_CIPHER} (pinned on the broker's listener)", tls=True)),
    *_both(Scenario("avro", "Customer records as Avro (Confluent wire format, schema "
                    "registry)", avro=True, not_run=_AVRO_NOT_RUN)),
    # Columnar bulk produce (issue 15): kprod's runner builds the columns before the clock
    # and queues them with one send_many(); confluent-kafka's runner queues the same
    # records with its produce_batch() (bench/clients/confluent.py), every other client
    # sends them one by one. acks=1 as in the goal (idempotence off: it needs
    # acks=all).
    *_both(Scenario("bulk-arrow", "100 B values from a pyarrow binary array, no keys, "
                    "acks=1 (kprod: one send_many)", acks="1", idempotence=False,
                    bulk="arrow", min_records=BULK_RECORDS,
                    not_run=_BULK_NOT_RUN)),
    *_both(Scenario("bulk-numpy", "100 B values from a numpy 'S100' array, no keys, "
                    "acks=1 (kprod: one send_many)", acks="1", idempotence=False,
                    bulk="numpy", min_records=BULK_RECORDS,
                    not_run=_BULK_NOT_RUN)),
    *_both(Scenario("bulk-keyed", "16 B keys + 100 B values from pyarrow arrays, acks=1 "
                    "(kprod: one send_many)", key_size=16, acks="1", idempotence=False,
                    bulk="arrow", min_records=BULK_RECORDS,
                    not_run=_BULK_NOT_RUN)),
    Scenario("paced-1k", "100 B values at 1,000 records/s", rate=1000, seconds=4.0,
             everyone=True, not_run=(("ceiling", "unpaced by design"),)),
    Scenario("paced-10k", "100 B values at 10,000 records/s", rate=10_000,
             seconds=4.0, everyone=True, not_run=(("ceiling", "unpaced by design"),)),
]}
# `make bench`: both batch sizes where they matter most (unkeyed and keyed 100 B), the
# rest at 1 MB, and columnar bulk unkeyed and keyed, to fit 3 repeats (2M records per
# run, 4M in bulk) in about 16 minutes on a quiet 2-core box; every other scenario runs
# with --scenarios (all: --scenarios all).
FULL_SCENARIOS = ["100B/16K", "100B/1M", "keyed/16K", "keyed/1M", "1KiB/1M", "headers/1M",
                  "acks0/1M", "acks1/1M", "no-idem/1M", "lz4/1M", "zstd/1M", "tls/1M",
                  "avro/1M", "bulk-arrow/1M", "bulk-keyed/1M", "paced-1k", "paced-10k"]
QUICK_SCENARIOS = ["100B/16K", "100B/1M", "keyed/1M", "paced-10k"]


@dataclass
class Run:
    scenario: str
    client: str
    repeat: int
    records: int
    warmup_records: int = 1
    valid: bool = False
    problem: str = ""
    elapsed_s: float = 0.0
    records_per_s: float = 0.0
    mb_per_s: float = 0.0
    cpu_s: float = 0.0            # the runner's clock window (see module docstring)
    cpu_s_per_m: float = 0.0
    cpu_user_s: Optional[float] = None     # cpu_s split (getrusage); None: not reported
    cpu_system_s: Optional[float] = None   # (java's runner reports its total only)
    cpu_user_s_per_m: Optional[float] = None
    cpu_system_s_per_m: Optional[float] = None
    cpu_threads_s_per_m: Optional[Dict[str, float]] = None   # by thread name (caller, ...)
    proc_cpu_s: float = 0.0       # wait4: the whole client process tree, start to exit
    max_rss_mb: float = 0.0       # peak RSS of the client's own process image
    broker_count: int = -1
    broker_cpu_s: float = 0.0     # the broker JVM over the runner's clock window
    broker_cpu_s_per_m: float = 0.0
    loadavg: float = 0.0          # 1-minute load average when the run started
    other_cores: float = 0.0      # CPU of everything but client and broker, in cores
    loaded: bool = False
    latency_ms: Optional[Dict[str, Any]] = None
    notes: List[str] = field(default_factory=list)
    serialize_us: Optional[float] = None   # avro: the serializer alone, µs per record


# -- one run -------------------------------------------------------------------------------

def payload_file(workdir: pathlib.Path, size: int) -> str:
    """1024 distinct values of random A-Z, one a line (every runner cycles them)."""
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


def settled_count(read: Any, expected: int, patience: float = 5.0) -> int:
    """The broker's count, re-read for up to ``patience`` s while it is below ``expected``
    (acks=0: flush() returns when the bytes are written, not when the broker has them)."""
    deadline = time.monotonic() + patience
    count = read()
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.2)
        count = read()
    return count


def validate(result: Dict[str, Any], records: int, warmup: int, broker_count: int,
             on_broker: Optional[int] = None) -> List[str]:
    """Why a run is invalid ([] if it is valid): the broker must hold exactly the records
    sent (warm-up included), all acknowledged, none failed. ``on_broker``: what the broker
    must hold instead of ``records + warmup`` (0 for WRITES_NOTHING, which acknowledge
    without sending)."""
    problems = []
    if result.get("errors"):
        problems.append(f"{result['errors']} delivery errors, first: {result.get('first_error')}")
    if result.get("acked") != records:
        problems.append(f"{result.get('acked')} of {records} acknowledged")
    if result.get("warmup_acked") != warmup:
        problems.append(f"{result.get('warmup_acked')} of {warmup} warm-up records acknowledged")
    if on_broker is not None:
        if broker_count != on_broker:
            problems.append(f"broker has {broker_count} records, expected {on_broker} "
                            "(a baseline that writes nothing)")
    elif broker_count != records + warmup:   # a client that drops or duplicates cannot win
        problems.append(f"broker has {broker_count} records, expected {records + warmup} "
                        f"({records} timed + {warmup} warm-up)")
    return problems


def warmup_records(client: str, sc: Scenario, java_warmup: int) -> int:
    """Records ``client`` sends before its clock in ``sc``: one (metadata, connection,
    producer id); the JVM's warm-up on top for java; in the bulk-* scenarios a
    buffer.memory's worth on top for the clients with a bulk path and the ceiling
    (settings.bulk_warmup_records)."""
    if client == "java":
        return java_warmup + 1
    if sc.bulk and client in settings.BULK_WARMED:
        return 1 + settings.bulk_warmup_records(sc.key_size + sc.value_size)
    return 1


def make_spec(cluster: Any, workdir: pathlib.Path, sc: Scenario, topic: str, records: int,
              warmup: int, registry_url: Optional[str]) -> Dict[str, Any]:
    spec: Dict[str, Any] = {
        "bootstrap": cluster.bootstrap_servers, "topic": topic, "num_records": records,
        "warmup_records": warmup, "partitions": sc.partitions, "key_size": sc.key_size,
        "headers": sc.headers, "payload_file": payload_file(workdir, sc.value_size),
        "acks": sc.acks, "compression": sc.compression, "idempotence": sc.idempotence,
        "batch_size": sc.batch_size, "linger_ms": LINGER_MS, "rate": sc.rate,
        "latency": sc.paced, "bulk": sc.bulk}
    if sc.tls:
        spec.update(bootstrap=cluster.bootstrap_for("SSL"), tls={"ca": str(cluster.tls.ca_file)})
    if sc.avro:
        spec["avro"] = {"registry_url": registry_url, "values_file": avro_pool(workdir)[0]}
    return spec


def read_output(stream: Any, broker_cpu: Any) -> Tuple[str, Optional[float]]:
    """A runner's stdout without the clock's marks, and the broker's CPU seconds between
    them (``broker_cpu()`` is read as each mark arrives; None without both marks)."""
    from bench.clients._common import CLOCK_START, CLOCK_STOP
    lines, start, stop = [], None, None
    for line in stream:
        text = line.rstrip("\n")
        if text == CLOCK_START:
            start = broker_cpu()
        elif text == CLOCK_STOP:
            stop = broker_cpu()
        else:
            lines.append(line)
    window = stop - start if start is not None and stop is not None else None
    return "".join(lines), window


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_client(cluster: Any, consumer: Any, workdir: pathlib.Path, sc: Scenario, client: str,
               repeat: int, records: int, warmup: int, timeout: float, env: Dict[str, str],
               registry_url: Optional[str] = None) -> Run:
    n = int(sc.rate * sc.seconds) if sc.paced else records
    run = Run(sc.name, client, repeat, n, warmup_records=warmup)
    topic = f"bench-{sc.name.replace('/', '-')}-{client}-{repeat}-{uuid.uuid4().hex[:6]}"
    cluster.create_topic(topic, sc.partitions, 1)
    try:
        before = end_offsets(consumer, topic, sc.partitions)
        spec = make_spec(cluster, workdir, sc, topic, n, warmup, registry_url)
        record_bytes = sc.key_size + sc.value_size
        if sc.avro:
            record_bytes = avro_pool(workdir)[1]
        module = "bench.clients." + MODULES.get(client, client)
        broker_pid = cluster.pid(cluster.broker_ids[0])
        run.loadavg = os.getloadavg()[0]
        busy0, broker0 = system.busy_seconds(), system.process_cpu_seconds(broker_pid)
        with tempfile.TemporaryFile("w+") as err:
            # own process group: a timeout or Ctrl+C also takes down java.py's JVM
            proc = subprocess.Popen([sys.executable, "-m", module, json.dumps(spec)],
                                    stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                    start_new_session=True)
            killer = threading.Timer(timeout, _kill_group, (proc.pid,))
            killer.start()
            t_start = time.monotonic()
            try:
                out, window = read_output(proc.stdout, lambda: system.process_cpu_seconds(
                    broker_pid))
                _, status, ru = os.wait4(proc.pid, 0)   # this child's CPU (incl. its JVM)
                proc.returncode = os.waitstatus_to_exitcode(status)
            finally:
                killer.cancel()
                if proc.returncode is None:
                    _kill_group(proc.pid)
                    proc.wait()
            wall = time.monotonic() - t_start
            busy1, broker1 = system.busy_seconds(), system.process_cpu_seconds(broker_pid)
            err.seek(0)
            err_text = err.read()
        run.proc_cpu_s = ru.ru_utime + ru.ru_stime
        run.broker_cpu_s = window if window is not None else broker1 - broker0
        run.broker_cpu_s_per_m = run.broker_cpu_s / (n if window is not None else n + warmup) * 1e6
        if window is None:
            run.notes.append("broker CPU over the whole run (no clock marks)")
        run.other_cores = max(0.0, (busy1 - busy0) - run.proc_cpu_s - (broker1 - broker0)) / wall
        # The load average at a run's start counts the previous run's own client and
        # broker (two busy cores make it ~2), so only other processes' CPU during the
        # run flags it; the load average before the first run is reported separately.
        run.loaded = run.other_cores > LOADED_OTHER_CORES
        on_broker = 0 if client in WRITES_NOTHING else None
        run.broker_count = settled_count(
            lambda: end_offsets(consumer, topic, sc.partitions) - before,
            n + warmup if on_broker is None else on_broker)
        lines = out.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = err_text.strip().splitlines()[-3:]
            run.problem = f"exit {proc.returncode}: " + " | ".join(tail)
            return run
        res = json.loads(lines[-1])
        run.elapsed_s, run.cpu_s = res["elapsed_s"], res["cpu_s"]
        run.cpu_user_s, run.cpu_system_s = res.get("cpu_user_s"), res.get("cpu_system_s")
        run.latency_ms = res.get("latency_ms")
        run.notes += list(res.get("notes") or [])
        run.max_rss_mb = res["max_rss_mb"]
        run.serialize_us = res.get("serialize_us")
        run.records_per_s = n / run.elapsed_s if run.elapsed_s else 0.0
        run.mb_per_s = run.records_per_s * record_bytes / 2 ** 20
        run.cpu_s_per_m = run.cpu_s / n * 1e6
        if run.cpu_user_s is not None and run.cpu_system_s is not None:
            run.cpu_user_s_per_m = run.cpu_user_s / n * 1e6
            run.cpu_system_s_per_m = run.cpu_system_s / n * 1e6
        if res.get("cpu_threads_s"):
            run.cpu_threads_s_per_m = {name: cpu / n * 1e6
                                       for name, cpu in res["cpu_threads_s"].items()}
        problems = validate(res, n, warmup, run.broker_count, on_broker)
        if sc.avro and run.broker_count > 0:
            try:
                bad = check_avro(cluster.bootstrap_servers, topic, sc.partitions, registry_url,
                                 avro_pool(workdir)[2])
            except Exception as exc:   # registry or broker trouble: the run doesn't count
                bad = f"avro check failed: {exc!r}"
            if bad:
                problems.append(bad)
        if client in SLOW and not sc.paced and run.elapsed_s < SLOW_SECONDS:
            run.notes.append(f"shorter than {SLOW_SECONDS:.0f} s ({run.elapsed_s:.1f} s)")
        run.problem = "; ".join(problems)
        run.valid = not problems
        return run
    finally:
        with cluster.admin() as admin:           # keep the broker lean; async is fine
            admin.delete_topics([topic], wait=False)


def warm_broker(cluster: Any, seconds: float = 8.0) -> None:
    """Produce idempotent uncompressed, lz4 and zstd records (confluent-kafka) for about
    ``seconds`` so the broker's JIT has compiled its produce path before the first
    measured run; with an SSL listener, over TLS too."""
    from confluent_kafka import Producer
    topic = cluster.create_topic("bench-warmup", 6, 1)
    value = b"W" * 100
    plain = {"bootstrap.servers": cluster.bootstrap_servers}
    passes = [(plain, "none", True), (plain, "none", False), (plain, "lz4", False),
              (plain, "zstd", False)]
    if "SSL" in cluster.listeners:
        passes.append(({"bootstrap.servers": cluster.bootstrap_for("SSL"),
                        "security.protocol": "SSL", "ssl.ca.location": str(cluster.tls.ca_file)},
                       "none", True))
    for connection, codec, idempotent in passes:
        producer = Producer({**connection, "linger.ms": 5, "compression.type": codec,
                             "acks": "all", "enable.idempotence": idempotent,
                             "batch.size": MB1, "queue.buffering.max.kbytes": 32768})
        deadline = time.monotonic() + seconds / len(passes)
        i = 0
        while time.monotonic() < deadline:
            try:
                producer.produce(topic, value)
            except BufferError:
                producer.poll(0.01)
            i += 1
            if not i & 1023:
                producer.poll(0)
        producer.flush(60)
    with cluster.admin() as admin:
        admin.delete_topics([topic], wait=False)


# -- planning ------------------------------------------------------------------------------

def runs_in(scenario: str, client: str, all_clients: bool) -> Optional[str]:
    """Why ``client`` does not run ``scenario`` (None: it runs)."""
    sc = SCENARIOS[scenario]
    why = dict(sc.not_run).get(client)
    if why:
        return why
    if client in PACED_ONLY and not sc.paced:
        return PACED_ONLY[client]
    if client in PART_TIME and not sc.everyone and not all_clients:
        return "left out to keep make bench within 15 min (--all-clients runs it)"
    return None


def make_plan(clients: List[str], scenarios: List[str], repeats: int,
              all_clients: bool = False) -> List[Tuple[int, str, str]]:
    """(repeat, scenario, client) in run order: repeats interleaved (every scenario once per
    repeat), client order rotating per repeat; clients that don't run a scenario left out."""
    return [(rep, s, c) for rep in range(repeats) for s in scenarios
            for c in clients[rep % len(clients):] + clients[:rep % len(clients)]
            if runs_in(s, c, all_clients) is None]


def scenario_records(scenario: Scenario, records: int, explicit: bool) -> int:
    """A fast client's records in ``scenario``: ``records``, raised to the scenario's
    floor unless the count was asked for (--records, --quick)."""
    return records if explicit else max(records, scenario.min_records)


def records_for(client: str, base: int, slow_rates: Dict[str, float], quick: bool) -> int:
    """Records of a throughput run: ``base`` for fast clients; the slow ones get enough for
    SLOW_SECONDS (quick: 3 s) at their last measured rate."""
    if client not in SLOW:
        return base
    seconds = 3.0 if quick else SLOW_SECONDS
    rate = slow_rates.get(client, 20_000.0 if quick else 40_000.0)
    return max(10_000, int(rate * seconds * 1.5))   # margin: the load of a shared box varies


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
    the start and the end of a run, it tells whether the code under test changed midway."""
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


def main(argv: Optional[List[str]] = None) -> int:
    from bench import report
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="short run: " + ",".join(QUICK_SCENARIOS) + ", 1 repeat, 300k records")
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--all-clients", action="store_true",
                   help="run kafka-python, aiokafka and kprod-aio in every scenario")
    p.add_argument("--scenarios", default=None, help="comma list of " + ",".join(SCENARIOS))
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--records", type=int, default=None,
                   help="records per throughput run of the fast clients (default 2M, "
                        "bulk-* 4M; quick 300k)")
    p.add_argument("--java-warmup", type=int, default=None,
                   help="records the JVM sends before its clock (default 500k, quick 200k)")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--timeout", type=float, default=300.0, help="per run, seconds")
    p.add_argument("--kprod-src", help="benchmark the kprod package of another (built) "
                   "checkout, e.g. to compare branches")
    p.add_argument("--broker-dir", help="the broker's work directory (its logs), e.g. on "
                   "/dev/shm: without disk writeback the runs of a scenario vary less (the "
                   "figures are then of a broker that never waits for its disk)")
    args = p.parse_args(argv)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    scenarios = (list(SCENARIOS) if args.scenarios == "all"
                 else args.scenarios.split(",") if args.scenarios
                 else QUICK_SCENARIOS if args.quick else FULL_SCENARIOS)
    unknown = [c for c in clients if c not in CLIENTS] + [s for s in scenarios
                                                         if s not in SCENARIOS]
    for bad in unknown:
        p.error(f"unknown client or scenario {bad!r}")
    repeats = args.repeats or (1 if args.quick else 3)
    records = args.records or (300_000 if args.quick else 2_000_000)
    java_warmup = args.java_warmup if args.java_warmup is not None else \
        (200_000 if args.quick else 500_000)
    if args.quick:   # paced scenarios run shorter in quick mode
        for name in [s for s in scenarios if SCENARIOS[s].paced]:
            SCENARIOS[name] = dataclasses.replace(SCENARIOS[name], seconds=3.0)

    from confluent_kafka import Consumer
    from rich.console import Console

    from kprod.testing import KafkaCluster

    console = Console(stderr=True)
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    meta: Dict[str, Any] = {
        "started": stamp, "cpus": os.cpu_count(), "repeats": repeats, "quick": args.quick,
        "loadavg_start": list(os.getloadavg()), "records": records, "java_warmup": java_warmup,
        "linger_ms": LINGER_MS, "versions": versions(), "machine": platform.platform()}
    env = dict(os.environ)
    if args.kprod_src:
        env["KPROD_BENCH_SRC"] = meta["kprod_src"] = os.path.abspath(args.kprod_src)
    meta["kprod_git"] = git_state(meta.get("kprod_src"))
    fingerprint = kprod_fingerprint(meta.get("kprod_src"))
    if "java" in clients:
        from bench.clients.java import compiled_classes
        with console.status("compiling bench/java/KprodBench.java..."):
            meta["java_classes"] = str(compiled_classes())
    runs: List[Run] = []
    plan = make_plan(clients, scenarios, repeats, args.all_clients)
    need_tls = any(SCENARIOS[s].tls for s in scenarios)
    need_registry = any(SCENARIOS[s].avro for s in scenarios)
    # TLS 1.3 and one suite, pinned on the broker's listener: every client must use it
    broker_config = {"listener.name.ssl.ssl.enabled.protocols": settings.TLS_PROTOCOL,
                     "listener.name.ssl.ssl.cipher.suites": settings.TLS_CIPHER} if need_tls else {}
    # A deleted run's log files go at once, not after the default minute: the next runs'
    # appends then reuse that memory (on /dev/shm the log is memory). On this VM a page
    # never used before costs the broker about 10 us to fault in, against about 1 us for
    # one used and freed, and a minute of runs is GBs of fresh pages: the broker slowed
    # down 3x over a harness run, for every client alike.
    broker_config["log.segment.delete.delay.ms"] = "0"
    slow_rates: Dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kprod-bench-") as tmp:
        with console.status("starting Kafka (1 broker, KRaft, full JIT)..."):
            # fast_startup=False: no -XX:TieredStopAtLevel=1, the broker runs C2-compiled
            broker_dir = tempfile.mkdtemp(prefix="kprod-bench-broker-",
                                          dir=args.broker_dir) if args.broker_dir else None
            cluster = KafkaCluster(brokers=1, fast_startup=False, heap="1g",
                                   listeners=["SSL"] if need_tls else [],
                                   broker_config=broker_config, work_dir=broker_dir).start()
            meta["broker_dir"] = broker_dir or "a temporary directory (disk)"
        meta["broker_jvm"] = " ".join(cluster.jvm_options)
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
                warm_broker(cluster, 4.0 if args.quick else 10.0)
            consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers,
                                 "group.id": "kprod-bench-verify"})
            for i, (rep, s, c) in enumerate(plan):
                n = records_for(c, scenario_records(SCENARIOS[s], records,
                                                    bool(args.records or args.quick)),
                                slow_rates, args.quick)
                warmup = warmup_records(c, SCENARIOS[s], java_warmup)
                run = run_client(cluster, consumer, pathlib.Path(tmp), SCENARIOS[s], c, rep,
                                 n, warmup, args.timeout, env,
                                 registry.url if registry else None)
                runs.append(run)
                if c in SLOW and run.valid and not SCENARIOS[s].paced:
                    slow_rates[c] = run.records_per_s
                lat = f" p99 {run.latency_ms['p99']:.1f} ms" if run.latency_ms else ""
                status = "ok" if run.valid else f"INVALID: {run.problem}"
                console.print(f"[{i + 1}/{len(plan)}] rep {rep + 1} {s:10} {c:12} "
                              f"{run.records_per_s:>11,.0f} rec/s {run.cpu_s_per_m:6.2f} CPU s/M"
                              f"{lat} load {run.loadavg:.1f}{' LOADED' if run.loaded else ''}"
                              f"  {status}", highlight=False, markup=False, soft_wrap=True)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: reporting what ran so far[/yellow]")
        finally:
            if consumer is not None:
                consumer.close()
            if registry is not None:
                registry.stop()
            with console.status("stopping Kafka..."):
                cluster.stop()
            if broker_dir:
                shutil.rmtree(broker_dir, ignore_errors=True)
    if not runs:
        return 1
    meta["loadavg_end"] = list(os.getloadavg())
    meta["finished"] = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    if kprod_fingerprint(meta.get("kprod_src")) != fingerprint:
        meta["kprod_changed"] = git_state(meta.get("kprod_src")) or "?"
        console.print("[yellow]kprod/ changed on disk during the run: later runs may have "
                      "measured other code (--kprod-src with a frozen checkout avoids it)[/yellow]")
    done = [s for s in scenarios if any(r.scenario == s for r in runs)]
    skipped = {s: {c: why for c in clients if (why := runs_in(s, c, args.all_clients))}
               for s in done}
    summary = report.summarize(runs, clients, done, skipped)
    text = report.markdown(summary, clients, meta, done)
    print(text)
    json_path = out_dir / f"{stamp}.json"
    json_path.write_text(json.dumps({"meta": meta, "unmatched": report.UNMATCHED,
                                     "settings": {s: settings_of(s) for s in done},
                                     "scenarios": {s: asdict(SCENARIOS[s]) for s in done},
                                     "summary": summary, "runs": [asdict(r) for r in runs]},
                                    indent=1))
    charts = report.charts(summary, clients, done, out_dir / stamp)
    console.print(f"wrote {json_path}, " + ", ".join(str(c) for c in charts))
    return 0 if all(r.valid for r in runs) else 2


def settings_of(scenario: str) -> Dict[str, Any]:
    """The matched settings of a scenario, as printed in the report."""
    sc = SCENARIOS[scenario]
    return settings.matched({"acks": sc.acks, "idempotence": sc.idempotence,
                             "linger_ms": LINGER_MS, "batch_size": sc.batch_size,
                             "compression": sc.compression, "tls": sc.tls})


if __name__ == "__main__":
    sys.exit(main())
