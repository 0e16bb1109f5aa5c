"""bench.harness: run planning, the Avro scenario's values and the report, without a broker;
plus one end-to-end smoke run of the tls and avro scenarios (kafka, slow)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from bench import harness
from bench.clients._common import CUSTOMER_SCHEMA, customers

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_customers_are_distinct_deterministic_and_match_the_schema():
    fastavro = pytest.importorskip("fastavro")
    values = customers()
    assert values == customers()
    assert len({json.dumps(v, sort_keys=True) for v in values}) == 1024
    assert all(0 < v["id"] < 2 ** 31 and v["name"] for v in values)
    without_email = sum(v["email"] is None for v in values)
    assert 150 < without_email < 400   # about a quarter: both union branches are exercised
    parsed = fastavro.parse_schema(CUSTOMER_SCHEMA)
    assert all(fastavro.validate(v, parsed) for v in values)


def test_avro_pool_writes_the_values_and_their_encoded_size(tmp_path):
    pytest.importorskip("fastavro")
    path, mean_bytes, pool = harness.avro_pool(tmp_path)
    assert json.loads(pathlib.Path(path).read_text()) == customers()
    assert len(pool) == 1024
    assert 5 + 4 < mean_bytes < 100   # header + a few bytes of id, name, email


def test_plan_leaves_out_clients_that_cannot_run_a_scenario():
    clients = list(harness.CLIENTS)
    plan = harness.make_plan(clients, ["tls", "avro"], 2)
    assert {c for _, s, c in plan if s == "tls"} == set(clients)
    assert {c for _, s, c in plan if s == "avro"} == {"kprod", "confluent"}
    # client order still rotates per repeat
    assert [c for r, s, c in plan if s == "tls" and r == 0] == clients
    assert [c for r, s, c in plan if s == "tls" and r == 1] == clients[1:] + clients[:1]


def test_scenarios_needing_extras_are_in_the_full_list():
    assert harness.SCENARIOS["tls"].listener == "SSL"
    assert harness.SCENARIOS["avro"].avro
    assert not set(harness.QUICK_SCENARIOS) & {"tls", "avro"}   # quick needs no extras


def _run(scenario, client, repeat, rate, valid=True):
    return harness.Run(scenario, client, repeat, 1000, valid=valid, elapsed_s=1000 / rate,
                       records_per_s=rate, mb_per_s=rate / 1e4, cpu_s=0.01, cpu_s_per_m=10.0,
                       max_rss_mb=40.0, broker_count=1000, notes=[],
                       serialize_us=(7.5 if client == "kprod" else 12.25)
                       if scenario == "avro" else None)


def test_report_marks_clients_that_did_not_run_as_na():
    clients = ["kprod", "confluent", "java"]
    runs = [_run("avro", "kprod", r, 40_000 + r) for r in range(3)]
    runs += [_run("avro", "confluent", r, 20_000) for r in range(3)]
    runs += [_run("tls", c, r, rate) for r in range(3)
             for c, rate in (("kprod", 60_000), ("confluent", 30_000), ("java", 20_000))]
    summary = harness.summarize(runs, clients, ["tls", "avro"])
    assert summary["avro"]["java"]["not_run"]
    assert summary["avro"]["confluent"]["kprod_ratio"]["median"] == pytest.approx(2.0, rel=1e-3)
    assert summary["tls"]["java"]["kprod_ratio"]["median"] == pytest.approx(3.0)
    meta = {"started": "x", "kafka": "4.1.2", "cpus": 2, "loadavg": "0", "repeats": 3,
            "avro_value_bytes": 51.3, "registry": "Apicurio"}
    text = harness.markdown(summary, clients, meta)
    avro_rows = [line for line in text.splitlines() if line.startswith("| avro |")]
    assert avro_rows and all(row.rstrip(" |").endswith("n/a") for row in avro_rows)
    assert "invalid" not in text
    assert "- avro/java: not run: ProducerPerformance" in text
    assert "mean encoded value 51.3 B" in text
    assert "### serializer alone" in text
    assert "changed on disk" not in text
    changed = harness.markdown(summary, clients, {**meta, "kprod_changed": "abc1234"})
    assert "**kprod/ changed on disk during the run** (now abc1234)" in changed
    assert "| avro | 7.50 (7.50–7.50) | 12.25 (12.25–12.25) | n/a |" in text


@pytest.mark.kafka
@pytest.mark.slow
def test_harness_runs_tls_and_avro_end_to_end(tmp_path):
    """The harness starts its own broker (with an SSL listener) and schema registry."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--scenarios", "tls,avro", "--clients",
         "kprod,confluent", "--repeats", "1", "--records", "2000", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=400, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [result] = tmp_path.glob("*.json")
    data = json.loads(result.read_text())
    assert {(r["scenario"], r["client"]) for r in data["runs"]} == {
        ("tls", "kprod"), ("tls", "confluent"), ("avro", "kprod"), ("avro", "confluent")}
    assert all(r["valid"] and r["broker_count"] == 2000 for r in data["runs"])
    assert "SSL" in data["meta"]["listeners"]
    assert "| avro |" in proc.stdout
    assert all(r["serialize_us"] > 0 for r in data["runs"] if r["scenario"] == "avro")
