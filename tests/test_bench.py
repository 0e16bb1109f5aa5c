"""bench/: the harness itself. Settings matched across clients, validation of counts, the
Java runner's output, the raw ceiling writer, the pacer baseline and the CPU split; real
short runs of the Java runner and the ceiling client against the broker, read back by
confluent-kafka's consumer, and of paced runners through the harness's run_client."""
from __future__ import annotations

import collections
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from bench import harness, raw, report
from bench.clients import java, settings
from bench.clients._common import (
    CDF_QUANTILES, CUSTOMER_SCHEMA, Clock, customers, header_pool, latency_summary, records,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _spec(**over):
    spec = {"bootstrap": "127.0.0.1:9092", "topic": "t", "num_records": 1000,
            "warmup_records": 1, "partitions": 6, "key_size": 0, "headers": 0,
            "payload_file": "/dev/null", "acks": "all", "compression": "none",
            "idempotence": True, "batch_size": 16384, "linger_ms": 5, "rate": 0,
            "latency": False}
    spec.update(over)
    return spec


# -- matched settings ----------------------------------------------------------------------

# Each client's spelling read back into the neutral form of settings.matched(); what a
# client cannot express is None (and must be listed in settings.UNMATCHABLE).
def _read_kprod(c):
    return {"acks": c["acks"], "idempotence": c["enable.idempotence"],
            "linger_ms": c["linger.ms"], "batch_size": c["batch.size"],
            "max_in_flight": c["max.in.flight.requests.per.connection"],
            "buffer_bytes": c["buffer.memory"], "max_request_size": c["max.request.size"],
            "compression": c["compression.type"],
            "send_buffer": {-1: "os"}.get(c["send.buffer.bytes"], c["send.buffer.bytes"])}


def _read_java(p):
    return {"acks": p["acks"],
            "idempotence": {"true": True, "false": False}[p["enable.idempotence"]],
            "linger_ms": int(p["linger.ms"]), "batch_size": int(p["batch.size"]),
            "max_in_flight": int(p["max.in.flight.requests.per.connection"]),
            "buffer_bytes": int(p["buffer.memory"]), "max_request_size": int(p["max.request.size"]),
            "compression": p["compression.type"],
            "send_buffer": {"-1": "os"}.get(p["send.buffer.bytes"], p["send.buffer.bytes"])}


def _read_confluent(c):
    # bytes must be the limit: the message-count limits may not bind before 32 MiB does
    assert c["queue.buffering.max.messages"] * 100 > c["queue.buffering.max.kbytes"] * 1024
    assert c["batch.num.messages"] * 100 > c["batch.size"]
    return {"acks": c["acks"], "idempotence": c["enable.idempotence"],
            "linger_ms": c["linger.ms"], "batch_size": c["batch.size"],
            "max_in_flight": c["max.in.flight.requests.per.connection"],
            "buffer_bytes": c["queue.buffering.max.kbytes"] * 1024,
            "max_request_size": c["message.max.bytes"], "compression": c["compression.type"],
            "send_buffer": {0: "os"}.get(c["socket.send.buffer.bytes"],
                                         c["socket.send.buffer.bytes"])}


def _python_acks(a):
    return {0: "0", 1: "1", "all": "all"}[a]


def _read_kafka_python(c):
    return {"acks": _python_acks(c["acks"]), "idempotence": c["enable_idempotence"],
            "linger_ms": c["linger_ms"], "batch_size": c["batch_size"],
            "max_in_flight": c["max_in_flight_requests_per_connection"], "buffer_bytes": None,
            "max_request_size": c["max_request_size"],
            "compression": c["compression_type"] or "none",
            "send_buffer": "os" if c["send_buffer_bytes"] is None else c["send_buffer_bytes"]}


def _read_aiokafka(c):
    return {"acks": _python_acks(c["acks"]), "idempotence": c["enable_idempotence"],
            "linger_ms": c["linger_ms"], "batch_size": c["max_batch_size"],
            "max_in_flight": None, "buffer_bytes": None,
            "max_request_size": c["max_request_size"],
            "compression": c["compression_type"] or "none",
            # aiokafka has no send-buffer option and never sets SO_SNDBUF: the OS default
            "send_buffer": c.get("send_buffer", "os")}


READERS = {
    "kprod": (settings.kprod_config, _read_kprod),
    "java": (settings.java_props, _read_java),
    "confluent": (settings.confluent_config, _read_confluent),
    "kafka-python": (settings.kafka_python_config, _read_kafka_python),
    "aiokafka": (settings.aiokafka_config, _read_aiokafka),
}


@pytest.mark.parametrize("scenario", [s for s in harness.SCENARIOS])
def test_every_client_gets_the_scenarios_settings(scenario, tmp_path):
    sc = harness.SCENARIOS[scenario]
    spec = {k: v for k, v in harness.make_spec(_Cluster(tmp_path), tmp_path, sc, "t", 10, 1,
                                               None).items() if k != "avro"}
    want = settings.matched(spec)
    want.pop("tls", None)
    for client, (build, read) in READERS.items():
        got = read(build(spec))
        for key, value in got.items():
            if value is None:   # cannot be expressed: must be said in the report
                assert client in settings.UNMATCHABLE, (client, key)
            else:
                assert value == want[key], (scenario, client, key, value, want[key])
    assert want["max_in_flight"] == 5 and want["buffer_bytes"] == 32 * 2 ** 20
    assert want["batch_size"] == sc.batch_size and want["linger_ms"] == harness.LINGER_MS


def test_tls_settings_pin_one_protocol_and_suite_for_every_client():
    spec = _spec(tls={"ca": "/ca.pem"})
    assert settings.matched(spec)["tls"] == "TLSv1.3 TLS_AES_128_GCM_SHA256"
    props = settings.java_props(spec)
    assert (props["ssl.enabled.protocols"], props["ssl.cipher.suites"]) == (
        "TLSv1.3", "TLS_AES_128_GCM_SHA256")
    assert settings.kprod_config(spec)["ssl.enabled.protocols"] == ["TLSv1.3"]
    assert settings.confluent_config(spec)["security.protocol"] == "SSL"
    assert settings.kafka_python_config(spec)["ssl_cafile"] == "/ca.pem"


def test_every_throughput_scenario_runs_at_16k_and_1m():
    bases = collections.defaultdict(set)
    for name, sc in harness.SCENARIOS.items():
        if not sc.paced:
            bases[name.split("/")[0]].add(sc.batch_size)
    assert bases and all(sizes == {16384, 1_000_000} for sizes in bases.values())
    assert {"100B", "1KiB", "keyed", "headers", "acks0", "acks1", "no-idem", "lz4", "zstd",
            "tls", "avro"} <= set(bases)


class _Cluster:   # what make_spec reads of a KafkaCluster
    bootstrap_servers = "127.0.0.1:9092"

    def __init__(self, tmp):
        self.tls = type("Tls", (), {"ca_file": tmp / "ca.pem"})

    def bootstrap_for(self, listener):
        return "127.0.0.1:9093"


# -- records -------------------------------------------------------------------------------

def test_records_keys_and_headers_are_the_same_pools_the_java_runner_builds(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"AAA\nBBB\n")
    keys, values, headers = records(_spec(payload_file=str(path), key_size=16, headers=3))
    assert values == [b"AAA", b"BBB"]
    assert keys == [b"0000000000000000", b"0000000000007919"]
    assert headers[1] == [("trace-id", b"0000000000104729"), ("source", b"kprod-bench"),
                          ("schema", b"v1")]
    assert header_pool(2, 0) == [None, None]
    assert records(_spec(payload_file=str(path)))[0] == [None, None]


def test_latency_summary_picks_quantiles_like_the_java_runner():
    lat = [float(i) for i in range(1, 1001)]   # 1..1000 ms
    s = latency_summary(lat[::-1])
    assert (s["p50"], s["p99"], s["p999"], s["max"], s["count"]) == (501.0, 991.0, 1000.0,
                                                                     1000.0, 1000)
    assert [q for q, _ in s["cdf"]] == CDF_QUANTILES + [1.0]
    assert latency_summary([]) == {}


# -- validation ----------------------------------------------------------------------------

GOOD = {"sent": 1000, "acked": 1000, "errors": 0, "first_error": None, "warmup_acked": 1}


def test_a_run_is_valid_only_with_every_record_on_the_broker():
    assert harness.validate(GOOD, 1000, 1, 1001) == []
    short = harness.validate(GOOD, 1000, 1, 1000)   # one record lost on the way
    assert short and "broker has 1000 records, expected 1001" in short[0]
    assert harness.validate(GOOD, 1000, 1, 1002)    # duplicates are no better
    assert harness.validate({**GOOD, "acked": 999}, 1000, 1, 1001)
    assert harness.validate({**GOOD, "errors": 1, "first_error": "x"}, 1000, 1, 1001)
    assert harness.validate({**GOOD, "warmup_acked": 0}, 1000, 1, 1001)


def test_broker_cpu_is_read_at_the_clocks_marks():
    import io
    readings = iter([10.0, 12.5])
    stream = io.StringIO("noise\nKPROD-BENCH-CLOCK start\nKPROD-BENCH-CLOCK stop\n{}\n")
    out, window = harness.read_output(stream, lambda: next(readings))
    assert (out, window) == ("noise\n{}\n", 2.5)
    assert harness.read_output(io.StringIO("{}\n"), lambda: 1.0) == ("{}\n", None)


def _run(scenario, client, repeat, rate, valid=True, **kw):
    fields = dict(valid=valid, elapsed_s=1000 / rate, records_per_s=rate, mb_per_s=rate / 1e4,
                  cpu_s=0.01, cpu_s_per_m=10.0, max_rss_mb=40.0, broker_count=1001)
    return harness.Run(scenario, client, repeat, 1000, **{**fields, **kw})


def test_invalid_runs_are_left_out_and_ratios_are_within_a_repeat():
    clients = ["kprod", "java", "ceiling"]
    s = "100B/1M"
    runs = [_run(s, "kprod", 0, 1000), _run(s, "java", 0, 500), _run(s, "ceiling", 0, 2000),
            _run(s, "kprod", 1, 3000), _run(s, "java", 1, 2000), _run(s, "ceiling", 1, 4000),
            _run(s, "kprod", 2, 9e9, valid=False, problem="broker has 1 records"),
            _run(s, "java", 2, 100), _run(s, "ceiling", 2, 1000)]
    summary = report.summarize(runs, clients, [s])
    d = summary[s]
    assert d["kprod"]["records_per_s"]["n"] == 2 and d["kprod"]["records_per_s"]["max"] == 3000
    assert d["kprod"]["invalid_runs"] == ["repeat 3: broker has 1 records"]
    # kprod / java in repeats 1 and 2 only: 2.0 and 1.5
    assert d["java"]["kprod_ratio"] == {"median": 1.75, "min": 1.5, "max": 2.0, "n": 2}
    # java / ceiling in every repeat: 0.25, 0.5, 0.1
    assert d["java"]["ceiling_fraction"] == {"median": 0.25, "min": 0.1, "max": 0.5, "n": 3}
    assert d["ceiling"]["ceiling_fraction"] is None
    text = report.markdown(summary, clients, {"started": "x", "cpus": 2, "repeats": 3,
                                              "java_warmup": 10}, [s])
    assert "repeat 3: broker has 1 records" in text
    assert "| 100B/1M | 1.75x (1.50x–2.00x) |" in text


def test_a_loaded_run_is_flagged_in_the_report():
    s = "100B/16K"
    runs = [_run(s, "kprod", 0, 1000, loaded=True, loadavg=3.1)]
    summary = report.summarize(runs, ["kprod"], [s])
    text = report.markdown(summary, ["kprod"], {"started": "x", "cpus": 2, "repeats": 1}, [s])
    assert "**Loaded machine: during 1 of 1 runs" in text
    busy = report.markdown(summary, ["kprod"], {"started": "x", "cpus": 2, "repeats": 1,
                                               "loadavg_start": [2.5, 1.0, 1.0]}, [s])
    assert "busy before the first run (1-minute load average 2.50)" in busy


# -- planning ------------------------------------------------------------------------------

def test_plan_interleaves_repeats_rotates_clients_and_leaves_out_what_cannot_run():
    clients = list(harness.CLIENTS)
    plan = harness.make_plan(clients, ["100B/16K", "avro/1M", "paced-1k"], 3)
    assert [r for r, _, _ in plan] == sorted(r for r, _, _ in plan)   # repeat by repeat
    first = [c for r, s, c in plan if s == "100B/16K" and r == 0]
    second = [c for r, s, c in plan if s == "100B/16K" and r == 1]
    unpaced = [c for c in clients if c != "pacer"]   # the pacer baseline: paced only
    assert first == unpaced
    assert second == [c for c in clients[1:] + clients[:1] if c != "pacer"]
    assert "pacer" in {c for _, s, c in plan if s == "paced-1k"}
    assert {c for _, s, c in plan if s == "avro/1M"} == {"kprod", "confluent"}
    assert "ceiling" not in {c for _, s, c in plan if s == "paced-1k"}
    assert "java" in {c for _, s, c in plan if s == "paced-1k"}
    keyed = harness.make_plan(clients, ["keyed/1M"], 1)
    assert {"kprod", "confluent", "java", "ceiling"} <= {c for _, _, c in keyed}
    assert "kafka-python" in {c for _, _, c in harness.make_plan(clients, ["keyed/1M"], 1, True)}


def test_slow_clients_are_sized_to_run_ten_seconds():
    assert harness.records_for("kprod", 1_000_000, {}, False) == 1_000_000
    assert harness.records_for("kafka-python", 1_000_000, {"kafka-python": 50_000.0},
                               False) >= 500_000


def test_bulk_runs_get_their_floor_of_records_unless_a_count_is_asked_for():
    bulk, plain = harness.SCENARIOS["bulk-arrow/1M"], harness.SCENARIOS["100B/1M"]
    assert harness.scenario_records(bulk, 2_000_000, False) == harness.BULK_RECORDS
    assert harness.scenario_records(plain, 2_000_000, False) == 2_000_000
    assert harness.scenario_records(bulk, 2_000_000, True) == 2_000_000      # --records
    assert harness.scenario_records(bulk, 8_000_000, False) == 8_000_000
    assert all(harness.SCENARIOS[s].min_records == harness.BULK_RECORDS
               for s in harness.SCENARIOS if harness.SCENARIOS[s].bulk)


def test_full_and_quick_scenarios_exist():
    assert set(harness.FULL_SCENARIOS) <= set(harness.SCENARIOS)
    assert set(harness.QUICK_SCENARIOS) <= set(harness.SCENARIOS)
    assert not {s for s in harness.QUICK_SCENARIOS
                if harness.SCENARIOS[s].tls or harness.SCENARIOS[s].avro}   # no extras


# -- the Java runner -----------------------------------------------------------------------

SAMPLE = ('KPROD-BENCH-RESULT {"sent": 2000, "acked": 2000, "errors": 0, "first_error": null, '
          '"warmup_acked": 501, "warmup_errors": 0, "elapsed_s": 0.125, "cpu_s": 0.2, '
          '"max_rss_mb": 180.5, "latency_ms": {"p50": 1.5, "p99": 3.0, "p999": 4.0, '
          '"max": 5.0, "count": 2000, "cdf": [[0.0, 0.5], [1.0, 5.0]]}, "notes": []}')


def test_java_result_line_is_parsed():
    out = "log line\n" + SAMPLE + "\nother\n"
    result = java.parse_result(out)
    assert (result["sent"], result["acked"], result["warmup_acked"]) == (2000, 2000, 501)
    assert result["elapsed_s"] == 0.125 and result["cpu_s"] == 0.2
    assert result["latency_ms"]["p999"] == 4.0 and result["first_error"] is None
    with pytest.raises(java.JavaRunnerError):
        java.parse_result("Exception in thread main\n")
    with pytest.raises(java.JavaRunnerError, match="elapsed_s"):
        java.parse_result('KPROD-BENCH-RESULT {"sent": 1, "acked": 1, "errors": 0, '
                          '"cpu_s": 1, "warmup_acked": 1}')


def test_java_properties_carry_the_spec(tmp_path):
    props = java.bench_properties(_spec(warmup_records=501, key_size=16, headers=3, rate=1000,
                                        latency=True))
    assert props["warmup.records"] == "500"   # + the one warm-up record
    assert (props["key.size"], props["headers"], props["latency"]) == ("16", "3", "true")
    path = tmp_path / "p.properties"
    java.write_properties(str(path), {"a.b": "x=y:z\\w"})
    assert path.read_text() == "a.b=x\\=y\\:z\\\\w\n"


def _run_module(module, spec):
    proc = subprocess.run([sys.executable, "-m", module, json.dumps(spec)], capture_output=True,
                          text=True, timeout=300, env=ENV, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _payload(tmp_path):
    return harness.payload_file(tmp_path, 100)


@pytest.mark.skipif(not any((pathlib.Path(p) / "javac").exists()
                            for p in os.environ.get("PATH", "").split(os.pathsep)),
                    reason="no javac")
def test_java_runner_sends_the_same_records_keys_and_headers(kafka, make_topic, tmp_path):
    from tests.reference import consume
    topic = make_topic(partitions=3)
    spec = _spec(bootstrap=kafka.bootstrap_servers, topic=topic, num_records=2000,
                 warmup_records=301, key_size=16, headers=3, payload_file=_payload(tmp_path),
                 partitions=3)
    result = _run_module("bench.clients.java", spec)
    assert (result["acked"], result["errors"], result["warmup_acked"]) == (2000, 0, 301)
    assert result["elapsed_s"] > 0 and result["cpu_s"] > 0
    messages = consume(kafka.bootstrap_servers, topic, 2301)
    keys, values, headers = records(spec)
    sent = collections.Counter((keys[i % 1024], values[i % 1024], tuple(headers[i % 1024]))
                               for i in [0] + list(range(300)) + list(range(2000)))
    got = collections.Counter((m.key(), m.value(), tuple(m.headers())) for m in messages)
    assert got == sent


# -- the ceiling client --------------------------------------------------------------------

def test_raw_batch_layout_and_crc():
    import crc32c
    import struct
    batch = raw.encode_batch([raw.encode_record(0, b"k", b"v", [("h", b"x")]),
                              raw.encode_record(1, None, b"w")], timestamp_ms=1)
    base, length, epoch, magic, crc = struct.unpack_from(">qiibI", batch)
    assert (base, length, magic) == (0, len(batch) - 12, 2)
    assert crc == crc32c.crc32c(batch[21:])
    assert struct.unpack_from(">i", batch, 57)[0] == 2   # record count
    one, n = raw.fill_batch([(None, b"x" * 100, None)], 16384)
    assert len(one) <= 16384 < len(raw.fill_batch([(None, b"x" * 100, None)], 10 ** 9,
                                                   limit=n + 1)[0])


def test_produce_response_parser_checks_bounds():
    import struct
    body = struct.pack(">iih", 7, 1, 1) + b"t" + struct.pack(">iihqqqi", 1, 2, 0, 10, -1, 0, 0)
    assert raw.parse_produce_response(body) == (7, [("t", 2, 0, 10)])
    with pytest.raises(ValueError, match="truncated"):
        raw.parse_produce_response(body[:-6])


@pytest.mark.parametrize("acks,codec", [("all", "none"), ("1", "lz4"), ("0", "zstd")])
def test_ceiling_client_stores_exactly_the_records_it_counts(kafka, make_topic, tmp_path,
                                                             acks, codec):
    from tests.reference import consume
    topic = make_topic(partitions=3)
    spec = _spec(bootstrap=kafka.bootstrap_servers, topic=topic, num_records=3001,
                 key_size=16, headers=1, payload_file=_payload(tmp_path), partitions=3,
                 acks=acks, compression=codec, idempotence=False)
    result = _run_module("bench.clients.ceiling", spec)
    assert (result["acked"], result["errors"], result["warmup_acked"]) == (3001, 0, 1)
    assert result["elapsed_s"] > 0 and result["cpu_s"] >= 0
    assert result["cpu_user_s"] + result["cpu_system_s"] == pytest.approx(result["cpu_s"])
    messages = consume(kafka.bootstrap_servers, topic, 3002)   # independent reader
    keys, values, headers = records(spec)
    pool = list(zip(keys, values, headers))
    per_batch = raw.ceiling_batch(pool, spec["batch_size"], codec)[1]
    full, rest = divmod(3001, per_batch)
    indices = [0] + list(range(per_batch)) * full + list(range(rest))   # warm-up first
    want = collections.Counter((keys[i % 1024], values[i % 1024], tuple(headers[i % 1024]))
                               for i in indices)
    got = collections.Counter((m.key(), m.value(), tuple(m.headers())) for m in messages)
    assert got == want


# -- the bulk-* scenarios' warm-up ----------------------------------------------------------

def test_bulk_clients_warm_up_a_buffer_memory_and_the_others_keep_their_warm_up():
    bulk, plain = harness.SCENARIOS["bulk-keyed/1M"], harness.SCENARIOS["100B/1M"]
    worth = 1 + settings.BUFFER_BYTES // (16 + 100)
    assert settings.bulk_warmup_records(116) == worth - 1
    for client in settings.BULK_WARMED:
        assert harness.warmup_records(client, bulk, 500) == worth
        assert harness.warmup_records(client, plain, 500) == 1
    assert harness.warmup_records("java", bulk, 500) == 501
    assert harness.warmup_records("kafka-python", bulk, 500) == 1


@pytest.mark.parametrize("client,bulk", [("kprod", "arrow"), ("kprod", "numpy"),
                                         ("confluent", "arrow"), ("ceiling", "arrow")])
def test_bulk_runners_send_their_warm_up_before_the_clock_and_count_it_apart(
        kafka, make_topic, tmp_path, client, bulk):
    from tests.reference import consume
    topic = make_topic(partitions=3)
    spec = _spec(bootstrap=kafka.bootstrap_servers, topic=topic, num_records=2000,
                 warmup_records=3001, key_size=16, payload_file=_payload(tmp_path),
                 partitions=3, acks="1", idempotence=False, bulk=bulk)
    result = _run_module(f"bench.clients.{client}", spec)
    assert (result["acked"], result["errors"], result["warmup_acked"]) == (2000, 0, 3001)
    from confluent_kafka import Consumer
    watermarks = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "w"})
    try:
        assert harness.end_offsets(watermarks, topic, 3) == 5001   # nothing more either
    finally:
        watermarks.close()
    messages = consume(kafka.bootstrap_servers, topic, 5001)   # independent reader
    if client != "ceiling":      # the ceiling repeats its batch; the bulk runners cycle
        keys, values, _ = records(spec)
        want = collections.Counter((keys[i % 1024], values[i % 1024])
                                   for i in [0, *range(3000), *range(2000)])
        assert collections.Counter((m.key(), m.value()) for m in messages) == want


# -- bench.broker_cost: the ceiling re-sending kprod's stored batches ---------------------

def test_largest_stored_batch_reads_whole_batches_and_stops_at_a_torn_tail(tmp_path):
    from bench.broker_cost import largest_stored_batch
    small = raw.encode_batch([raw.encode_record(i, None, b"s") for i in range(2)])
    large = raw.encode_batch([raw.encode_record(i, None, b"l" * 10) for i in range(5)])
    torn = raw.encode_batch([raw.encode_record(i, None, b"t") for i in range(9)])[:-3]
    segment = tmp_path / "data" / "topic-a-0" / "00000000000000000000.log"
    segment.parent.mkdir(parents=True)
    import struct
    stored = bytearray(large)
    struct.pack_into(">q", stored, 0, 2)          # as the broker stores it: offset 2 ...
    struct.pack_into(">i", stored, 12, 7)         # ... and the leader's epoch
    segment.write_bytes(small + bytes(stored) + torn)
    # the whole batch (not the torn 9), as a client sends it: base offset 0, epoch -1
    assert largest_stored_batch(tmp_path, "topic-a") == (large, 5)
    with pytest.raises(SystemExit, match="no record batch of topic topic-b"):
        largest_stored_batch(tmp_path, "topic-b")


def test_the_ceiling_resends_a_batch_kprod_stored_and_the_broker_keeps_kprods_records(
        kafka, make_topic, tmp_path):
    from bench.broker_cost import largest_stored_batch, run_ceiling
    from kprod import Producer
    from tests.reference import consume
    source, target = make_topic(partitions=1), make_topic(partitions=3)
    values = [b"kprod-%04d" % i for i in range(300)]
    with Producer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=50) as producer:
        producer.send(source, b"first").get(30)   # the batch below is stored at offset 1
        assert not producer.send_many(source, values).get(30).errors
    stored = largest_stored_batch(kafka.work_dir, source)
    assert stored[1] == 300                       # one batch: linger.ms held them all
    spec = _spec(bootstrap=kafka.bootstrap_servers, topic=target, num_records=900,
                 payload_file=_payload(tmp_path), partitions=3, acks="1", idempotence=False)
    elapsed, requests = run_ceiling(spec, stored)
    assert elapsed > 0 and requests == 1          # three copies, one per partition, fit in one
    got = collections.Counter(m.value() for m in consume(kafka.bootstrap_servers, target, 901))
    warm_up = records(spec)[1][0]                 # run_ceiling's own warm-up record
    assert got == collections.Counter(values * 3 + [warm_up])


# -- the pacer baseline and the CPU split --------------------------------------------------

def test_the_pacer_runs_in_paced_scenarios_only_and_by_default():
    assert "pacer" in harness.CLIENTS   # the default client list
    for name, sc in harness.SCENARIOS.items():
        why = harness.runs_in(name, "pacer", all_clients=True)
        if sc.paced:
            assert why is None, name
        else:
            assert why == harness.PACED_ONLY["pacer"], name
    plan = harness.make_plan(["kprod", "pacer"], ["100B/16K", "paced-10k"], 2)
    assert {(s, c) for _, s, c in plan} == {("100B/16K", "kprod"), ("paced-10k", "kprod"),
                                            ("paced-10k", "pacer")}


def test_a_baseline_that_writes_nothing_must_leave_the_broker_empty():
    assert harness.validate(GOOD, 1000, 1, 0, on_broker=0) == []
    stray = harness.validate(GOOD, 1000, 1, 1, on_broker=0)
    assert stray == ["broker has 1 records, expected 0 (a baseline that writes nothing)"]
    assert harness.validate(GOOD, 1000, 1, 1001, on_broker=0)   # a real client's count
    assert harness.validate({**GOOD, "acked": 999}, 1000, 1, 0, on_broker=0)
    assert harness.validate(GOOD, 1000, 1, 0)   # real clients: still records + warm-up


def test_clock_splits_its_cpu_into_user_and_system(capsys):
    clock = Clock()
    clock.start()
    t0 = time.thread_time()
    while time.thread_time() - t0 < 0.05:   # user time, a few scheduler ticks of it
        pass
    elapsed, cpu = clock.stop()
    user, system = clock.split
    assert user > 0 and system >= 0 and cpu == user + system and elapsed > 0
    assert capsys.readouterr().out.splitlines() == ["KPROD-BENCH-CLOCK start",
                                                    "KPROD-BENCH-CLOCK stop"]


def test_pacer_runner_paces_and_acknowledges_without_a_client(tmp_path):
    spec = _spec(bootstrap="127.0.0.1:1", num_records=2000, rate=10_000, latency=True,
                 payload_file=_payload(tmp_path))   # nothing listens there: never dialled
    result = _run_module("bench.clients.pacer", spec)
    assert (result["sent"], result["acked"], result["errors"], result["warmup_acked"]) == (
        2000, 2000, 0, 1)
    assert result["elapsed_s"] >= 0.19   # 2000 records due over 0.2 s
    assert result["cpu_user_s"] >= 0 and result["cpu_system_s"] >= 0
    assert result["cpu_user_s"] + result["cpu_system_s"] == pytest.approx(result["cpu_s"])
    assert result["latency_ms"]["count"] == 2000 and result["latency_ms"]["p50"] < 1.0
    proc = subprocess.run([sys.executable, "-m", "bench.clients.pacer",
                           json.dumps(_spec(payload_file=_payload(tmp_path)))],
                          capture_output=True, text=True, timeout=60, env=ENV, cwd=ROOT)
    assert proc.returncode != 0 and "paced scenarios only" in proc.stderr


@pytest.mark.parametrize("client", ["kprod", "confluent", "kprod-aio", "kafka-python",
                                    "aiokafka", "pacer"])
def test_paced_runs_through_the_harness_carry_the_cpu_split(kafka, tmp_path, client):
    """run_client as the harness runs it (its own topic, the broker's count read back):
    the pacer is valid with 0 records on the broker, the others with every record."""
    import dataclasses

    from confluent_kafka import Consumer
    sc = dataclasses.replace(harness.SCENARIOS["paced-10k"], seconds=0.2)   # 2000 records
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers,
                         "group.id": "test-bench-split"})
    try:
        run = harness.run_client(kafka, consumer, tmp_path, sc, client, 0, 0, 1, 120.0, ENV)
    finally:
        consumer.close()
    assert run.valid, run.problem
    assert run.broker_count == (0 if client == "pacer" else 2001)
    assert run.cpu_user_s is not None and run.cpu_system_s is not None
    assert run.cpu_user_s + run.cpu_system_s == pytest.approx(run.cpu_s)
    assert run.cpu_user_s_per_m + run.cpu_system_s_per_m == pytest.approx(run.cpu_s_per_m)
    assert run.latency_ms and run.latency_ms["count"] == 2000
    # where the CPU went: the timed loop's thread and the client's own, which together
    # account for the process's CPU (the scheduler's clock against getrusage's)
    threads = run.cpu_threads_s_per_m
    assert threads and threads["caller"] > 0, threads
    own = {"kprod": "kprod-sender", "kprod-aio": "kprod-sender"}.get(client)
    if own is not None:
        assert threads.get(own, 0) > 0, threads
    if client == "confluent":
        assert any(name.startswith("rdk:") and cpu > 0 for name, cpu in threads.items())
    assert sum(threads.values()) == pytest.approx(run.cpu_s_per_m, rel=0.05,
                                                  abs=0.01 / 2001 * 1e6)


def _paced_report(clients, cpu):
    """A summary and its Markdown for paced-10k from synthetic runs: ``cpu`` maps a client
    to (total, user, system) CPU s/M per repeat, user/system None as java reports them."""
    s = "paced-10k"
    runs = [_run(s, c, rep, 10_000, cpu_s_per_m=total, cpu_user_s_per_m=user,
                 cpu_system_s_per_m=system, latency_ms={"p50": 1.0, "p99": 2.0, "p999": 3.0,
                                                        "max": 4.0})
            for c, reps in cpu.items() for rep, (total, user, system) in enumerate(reps)]
    summary = report.summarize(runs, clients, [s])
    meta = {"started": "x", "cpus": 2, "repeats": 3}
    return summary, report.markdown(summary, clients, meta, [s]).splitlines()


def test_paced_report_shows_user_and_system_cpu_and_the_cpu_above_the_pacer():
    clients = ["kprod", "confluent", "java", "pacer"]
    summary, lines = _paced_report(clients, {
        "kprod": [(20.0, 12.0, 8.0), (22.0, 13.0, 9.0), (18.0, 11.0, 7.0)],
        "confluent": [(15.0, 9.0, 6.0), (14.0, 8.0, 6.0), (16.0, 10.0, 6.0)],
        "java": [(30.0, None, None), (31.0, None, None), (29.0, None, None)],
        "pacer": [(9.0, 3.0, 6.0), (10.0, 3.5, 6.5), (8.0, 2.5, 5.5)]})
    d = summary["paced-10k"]
    assert d["kprod"]["cpu_user_s_per_m"]["median"] == 12.0
    assert d["pacer"]["cpu_system_s_per_m"]["median"] == 6.0
    assert d["java"]["cpu_user_s_per_m"] is None
    assert "| client | records/s reached | CPU s / M records | user s / M | system s / M " \
           "| broker CPU s / M | p50 ms | p99 ms | p99.9 ms | max ms |" in lines
    assert "| kprod | 10,000 | 20.00 (18.00–22.00) | 12.00 | 8.00 | 0.00 | 1.00 | 2.00 | " \
           "3.00 | 4.00 |" in lines
    assert any(line.startswith("| java | 10,000 | 30.00 (29.00–31.00) | – | – |")
               for line in lines)
    # medians: kprod 20 - 9 = 11, confluent 15 - 9 = 6, 11 / 6; java left out (JVM pacing)
    line = ("CPU above the pacer alone (median pacer 9.00 s/M): kprod 11.00, confluent 6.00, "
            "kprod ÷ confluent 1.83x")
    table_end = lines.index("| pacer | 10,000 | 9.00 (8.00–10.00) | 3.00 | 6.00 | 0.00 | "
                            "1.00 | 2.00 | 3.00 | 4.00 |")
    assert lines[table_end + 1:table_end + 3] == ["", line]
    assert sum(text.startswith("- pacer: the kprod runner's paced loop") for text in lines) == 1
    # the same-repeat records/s ratio is still there, unchanged
    assert d["confluent"]["kprod_ratio"]["median"] == 1.0


def test_cpu_by_thread_is_shared_out_and_reported_per_client():
    from bench.clients._common import thread_cpu_shares
    before = {1: ("python", 1.0), 2: ("kprod-sender", 0.5)}
    after = {1: ("python", 1.3), 2: ("kprod-sender", 0.9), 3: ("rdk:broker1", 0.05)}
    # caller 0.3, the sender 0.4, a thread started in the window 0.05; 0.25 of the
    # process's 1.0 s went to threads that ended meanwhile
    assert thread_cpu_shares(before, after, 1, 1.0) == {
        "caller": 0.3, "kprod-sender": 0.4, "rdk:broker1": 0.05, "exited": 0.25}
    assert "exited" not in thread_cpu_shares(before, after, 1, 0.76)   # clocks' skew
    assert thread_cpu_shares(before, {}, 1, 1.0) is None               # no /proc

    s = "paced-10k"
    lat = {"p50": 1.0, "p99": 2.0, "p999": 3.0, "max": 4.0}
    runs = [_run(s, "kprod", rep, 10_000, latency_ms=lat, cpu_threads_s_per_m=threads)
            for rep, threads in enumerate([
                {"caller": 5.0, "kprod-sender": 6.0, "exited": 0.01},
                {"caller": 6.0, "kprod-sender": 7.0},
                {"caller": 4.0, "kprod-sender": 8.0, "exited": 0.02}])]
    runs += [_run(s, "confluent", 0, 10_000, latency_ms=lat,
                  cpu_threads_s_per_m={"caller": 6.5, "rdk:broker1": 2.5, "rdk:main": 0.04}),
             _run(s, "java", 0, 10_000, latency_ms=lat)]
    clients = ["kprod", "confluent", "java"]
    summary = report.summarize(runs, clients, [s])
    threads = summary[s]["kprod"]["cpu_threads_s_per_m"]
    assert threads["kprod-sender"]["median"] == 7.0 and threads["caller"]["median"] == 5.0
    assert threads["exited"]["median"] == 0.01       # absent from one run: 0 there
    assert summary[s]["java"]["cpu_threads_s_per_m"] == {}
    lines = report.markdown(summary, clients, {"started": "x", "cpus": 2, "repeats": 3},
                            [s]).splitlines()
    assert "- kprod: kprod-sender 7.00, caller 5.00, others 0.010" in lines
    assert "- confluent: caller 6.50, rdk:broker1 2.50, others 0.040" in lines
    assert not any(line.startswith("- java:") for line in lines)


def test_a_bulk_clients_threads_are_shown_though_each_is_under_a_twentieth_of_a_second():
    per = {"kprod": {"not_run": None, "cpu_threads_s_per_m": {
        "caller": {"median": 0.045}, "kprod-sender": {"median": 0.048},
        "python": {"median": 0.002}}}}
    assert report.thread_lines(per, ["kprod"]) == [
        "- kprod: kprod-sender 0.048, caller 0.045, others 0.002"]


def test_paced_report_without_a_valid_pacer_run_has_no_pacer_line():
    cpu = {"kprod": [(20.0, 12.0, 8.0)], "confluent": [(15.0, 9.0, 6.0)]}
    for clients in (["kprod", "confluent"], ["kprod", "confluent", "pacer"]):
        _, lines = _paced_report(clients, cpu)
        assert not any("above the pacer" in text for text in lines)
        assert not any(text.startswith("- pacer:") for text in lines)


def test_throughput_tables_have_no_pacer_column():
    s = "100B/16K"
    runs = [_run(s, "kprod", 0, 1000), _run(s, "confluent", 0, 500)]
    clients = ["kprod", "confluent", "pacer"]
    summary = report.summarize(runs, clients, [s], {s: {"pacer": harness.PACED_ONLY["pacer"]}})
    text = report.markdown(summary, clients, {"started": "x", "cpus": 2, "repeats": 1}, [s])
    assert "| scenario | kprod | confluent |" in text and "| pacer" not in text
    assert f"- not run, pacer: {harness.PACED_ONLY['pacer']}: {s}" in text


# -- end to end ----------------------------------------------------------------------------

def test_customers_are_distinct_deterministic_and_match_the_schema():
    fastavro = pytest.importorskip("fastavro")
    values = customers()
    assert values == customers()
    assert len({json.dumps(v, sort_keys=True) for v in values}) == 1024
    parsed = fastavro.parse_schema(CUSTOMER_SCHEMA)
    assert all(fastavro.validate(v, parsed) for v in values)


@pytest.mark.kafka
@pytest.mark.slow
def test_harness_runs_tls_and_avro_end_to_end(tmp_path):
    """The harness starts its own broker (TLS 1.3 listener pinned to one suite) and schema
    registry; the ceiling client exits unless it negotiated exactly that suite."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--scenarios", "tls/16K,avro/1M", "--clients",
         "kprod,confluent,java,ceiling", "--repeats", "1", "--records", "3000",
         "--java-warmup", "1000", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=ENV, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [result] = tmp_path.glob("*.json")
    data = json.loads(result.read_text())
    assert {(r["scenario"], r["client"]) for r in data["runs"]} == {
        ("tls/16K", "kprod"), ("tls/16K", "confluent"), ("tls/16K", "java"),
        ("tls/16K", "ceiling"), ("avro/1M", "kprod"), ("avro/1M", "confluent")}
    assert all(r["valid"] and r["broker_count"] == 3000 + r["warmup_records"]
               for r in data["runs"])
    assert "SSL" in data["meta"]["listeners"]
    assert "| avro/1M |" in proc.stdout and "TLSv1.3 TLS_AES_128_GCM_SHA256" in proc.stdout
    assert len(list(tmp_path.glob("*.png"))) == 2   # ceiling and CPU (no paced scenario)
