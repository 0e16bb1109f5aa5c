"""``python -m kprod.perf`` (kprod-perf) as a subprocess against the real broker fixture."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUMMARY = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, ([\d.]+) ms 50th, ([\d.]+) ms 95th, ([\d.]+) ms 99th, "
    r"([\d.]+) ms 99\.9th\.$")
PROGRESS = re.compile(r"^\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg "
                      r"latency, [\d.]+ ms max latency\.$")


def perf(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "kprod.perf", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def end_offset(bootstrap: str, topic: str, partitions: int) -> int:
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kprod-perf-test"})
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in range(partitions))
    finally:
        consumer.close()


def test_unthrottled_run_summary_and_broker_count(kafka, make_topic):
    topic = make_topic(partitions=3)
    res = perf("--bootstrap-server", kafka.bootstrap_servers, "--topic", topic,
               "--num-records", "5000", "--record-size", "100", "--throughput", "-1",
               "--producer-props", "acks=all", "linger.ms=5", "batch.size=16384",
               "compression.type=lz4")
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, last
    assert int(m.group(1)) == 5000
    p50, p95, p99, p999, worst = (float(m.group(i)) for i in (6, 7, 8, 9, 5))
    assert 0 < p50 <= p95 <= p99 <= p999 <= worst
    assert end_offset(kafka.bootstrap_servers, topic, 3) == 5000


def test_throttled_run_progress_lines_and_payload_file(kafka, make_topic, tmp_path):
    from tests.reference import consume

    topic = make_topic()
    payloads = tmp_path / "payloads.txt"
    payloads.write_text("alpha|beta|gamma")
    t0 = time.monotonic()
    res = perf("--bootstrap-server", kafka.bootstrap_servers, "--topic", topic,
               "--num-records", "600", "--payload-file", str(payloads),
               "--payload-delimiter", "|", "--throughput", "400",
               "--reporting-interval", "300", "--producer-props", "acks=1",
               "enable.idempotence=false")
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert SUMMARY.match(lines[-1]) and lines[-1].startswith("600 records sent"), lines[-1]
    assert any(PROGRESS.match(line) for line in lines[:-1]), lines
    assert took >= 1.3   # 600 records at 400/s take ~1.5 s
    assert end_offset(kafka.bootstrap_servers, topic, 1) == 600
    values = {m.value() for m in consume(kafka.bootstrap_servers, topic, 600)}
    assert values <= {b"alpha", b"beta", b"gamma"}


@pytest.mark.parametrize("args, message", [
    (["--topic", "t", "--num-records", "1", "--throughput", "-1"], "--record-size"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1",
      "--bootstrap-server", "127.0.0.1:1", "--producer-props", "acks"], "NAME=VALUE"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1"],
     "bootstrap"),
    (["--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1",
      "--bootstrap-server", "127.0.0.1:1", "--producer-props", "acks=2"], "acks"),
])
def test_usage_errors_exit_2(args, message):
    res = perf(*args, timeout=60)
    assert res.returncode == 2
    assert message in res.stderr


def _assert_one_line_error(res: subprocess.CompletedProcess, status: int, *words: str) -> None:
    assert res.returncode == status, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kprod-perf: "), res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


def test_missing_topic_is_one_line_and_non_zero(kafka):
    res = perf("--bootstrap-server", kafka.bootstrap_servers, "--topic", "perf-no-such-topic",
               "--num-records", "10", "--record-size", "10", "--throughput", "-1",
               "--producer-props", "max.block.ms=2000")
    _assert_one_line_error(res, 1, "KafkaTimeoutError", "perf-no-such-topic", "does not exist")


def test_broker_error_and_bad_setting_are_one_line(kafka):
    res = perf("--bootstrap-server", kafka.bootstrap_servers, "--topic", "no spaces",
               "--num-records", "10", "--record-size", "10", "--throughput", "-1")
    _assert_one_line_error(res, 1, "InvalidTopicError", "no spaces")
    res = perf("--bootstrap-server", kafka.bootstrap_servers, "--topic", "t",
               "--num-records", "10", "--record-size", "10", "--throughput", "-1",
               "--producer-props", "acks=7")
    _assert_one_line_error(res, 2, "acks")
