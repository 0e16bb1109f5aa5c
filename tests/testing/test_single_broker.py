"""One-broker KafkaCluster: round trips with an independent client, pause/resume, failures."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from kprod.testing import KafkaCluster, KafkaClusterError, java_tool_command
from tests.reference import consume, produce

pytestmark = pytest.mark.kafka  # failure-path tests start their own brokers


def test_round_trip_with_confluent_kafka(kafka: KafkaCluster, make_topic) -> None:
    name = make_topic(partitions=3)
    # Explicit partitions: librdkafka's sticky partitioner may put a quick burst of
    # unkeyed records all on one partition.
    by_partition = {p: [f"value-{p}-{i}".encode() for i in range(100)] for p in range(3)}
    for p, values in by_partition.items():
        assert produce(kafka.bootstrap_servers, name, values, partition=p) == 100
    got = consume(kafka.bootstrap_servers, name, 300)
    for p, values in by_partition.items():
        assert sorted(m.value() for m in got if m.partition() == p) == sorted(values)


def test_bootstrap_and_ids(kafka: KafkaCluster) -> None:
    assert kafka.broker_ids == [1]
    host, port = kafka.bootstrap_servers.split(":")
    assert host == "127.0.0.1" and int(port) > 0
    # The broker answers on the advertised address (its log may have rolled by now
    # in a long session, so the startup line is not checked here).
    with kafka.admin() as admin:
        assert [b.node_id for b in admin.describe_cluster(timeout=10).brokers] == [1]
    assert "server.log" in kafka.log_tail(1, 5)


def test_producer_performance_tool(kafka: KafkaCluster, topic: str) -> None:
    cmd = java_tool_command(
        "org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", "2000",
        "--record-size", "100", "--throughput", "-1",
        "--producer-props", f"bootstrap.servers={kafka.bootstrap_servers}", "acks=all")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "2000 records sent" in out


def test_pause_and_resume(kafka: KafkaCluster, topic: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    producer.produce(topic, b"warm-up")
    assert producer.flush(10) == 0
    kafka.pause_broker(1)
    try:
        with open(f"/proc/{kafka.pid(1)}/stat") as fh:
            assert fh.read().split(")")[1].split()[0] == "T"  # stopped
        producer.produce(topic, b"while-paused")
        assert producer.flush(2) == 1  # a hung broker: no ack
    finally:
        kafka.resume_broker(1)
    assert producer.flush(30) == 0  # delivered once the broker runs again
    values = [m.value() for m in consume(kafka.bootstrap_servers, topic, 2)]
    assert values == [b"warm-up", b"while-paused"]


def test_invalid_config_fails_fast_with_output() -> None:
    started = time.monotonic()
    with pytest.raises(KafkaClusterError, match="num.network.threads"):
        KafkaCluster(broker_config={"num.network.threads": "not-a-number"}).start()
    assert time.monotonic() - started < 30


def test_broker_crash_at_startup_reports_log_tail() -> None:
    """A node that dies while starting (client port taken) fails fast with its log."""
    with socket.socket() as busy, socket.socket() as free:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        free.bind(("127.0.0.1", 0))
        port, controller = busy.getsockname()[1], free.getsockname()[1]
        free.close()
        cluster = KafkaCluster(broker_config={
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
        })
        started = time.monotonic()
        with pytest.raises(KafkaClusterError) as info:
            cluster.start()
    message = str(info.value)
    assert "exited with code" in message and "server.log" in message
    assert "Address already in use" in message
    assert time.monotonic() - started < 60
    assert not cluster.running  # a failed start cleans up


def test_readiness_timeout() -> None:
    cluster = KafkaCluster(startup_timeout=0.5)
    with pytest.raises(KafkaClusterError, match="not ready after"):
        cluster.start()
    assert not cluster.running
