"""KIP-714 against a real broker: a broker of its own with a test-only ClientTelemetry
receiver (java/TelemetryRecorder.java, compiled here with javac against the cached
kafka-clients jar) that decodes each accepted push with the OpenTelemetry classes
Kafka ships and appends it to a file. A client-metrics subscription made with Kafka's
own ClientMetricsCommand decides what kprod pushes."""
from __future__ import annotations

import base64
import json
import pathlib
import shutil
import subprocess
import time
import uuid
from typing import Callable, List, Optional, Set, Tuple

import pytest

from kprod import Producer, compression
from kprod._internals import telemetry as telemetry_module
from kprod.testing import KafkaCluster
from kprod.testing.artifacts import java_executable, java_tool_command, kafka_clients_jar

pytestmark = pytest.mark.kafka

JAVA_SOURCE = pathlib.Path(__file__).parent / "java" / "TelemetryRecorder.java"
PRODUCER = "org.apache.kafka.producer."
# The metrics KIP-714 lists for producers that kprod computes.
KIP_714_PRODUCER_METRICS = {
    PRODUCER + "record.queue.time.avg", PRODUCER + "record.queue.time.max",
    PRODUCER + "node.request.latency.avg", PRODUCER + "node.request.latency.max",
    PRODUCER + "connection.creation.rate", PRODUCER + "connection.creation.total",
}
# One subscription, made once per broker, for every client id starting with this.
SUBSCRIBED = "kprod-sub-"
CLIENT_ID = SUBSCRIBED + "main"


def _javac(out: pathlib.Path) -> pathlib.Path:
    javac = pathlib.Path(java_executable()).with_name("javac")   # the JDK's, beside java
    if not javac.is_file():
        javac = pathlib.Path(shutil.which("javac") or "javac")
    classes = out / "classes"
    proc = subprocess.run([str(javac), "-d", str(classes), "-cp", str(kafka_clients_jar()),
                           str(JAVA_SOURCE)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"javac {JAVA_SOURCE.name} failed:\n{proc.stderr}"
    return classes


@pytest.fixture(scope="module")
def telemetry_broker(tmp_path_factory):
    """A broker whose metric reporter records every push into ``cluster.pushes_file``."""
    work = tmp_path_factory.mktemp("telemetry")
    classes = _javac(work)
    pushes = work / "pushes.jsonl"
    with KafkaCluster(broker_config={"metric.reporters": "kprodtest.TelemetryRecorder",
                                     "kprod.telemetry.recorder.file": str(pushes)},
                      classpath=[classes]) as cluster:
        cluster.pushes_file = pushes
        subscribe(cluster, "kprod-tests", SUBSCRIBED + ".*", PRODUCER,
                  probe_id=SUBSCRIBED + "probe")
        yield cluster


def client_metrics(cluster: KafkaCluster, *args: str) -> None:
    cmd = java_tool_command("org.apache.kafka.tools.ClientMetricsCommand",
                            "--bootstrap-server", cluster.bootstrap_servers, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def subscribe(cluster: KafkaCluster, name: str, client_id: str, metrics: str,
              probe_id: Optional[str] = None) -> Set[str]:
    """Create the subscription (``client_id`` is a regular expression) and wait until the
    broker hands it out: a client asking before the broker applied it gets an empty
    subscription and, as KIP-714 says, asks again only after the default interval
    (minutes). Probe producers (``probe_id``, default ``client_id``; closed at once, no
    terminating push) ask until one gets it; returns their client instance ids."""
    client_metrics(cluster, "--alter", "--name", name, "--metrics", metrics,
                   "--interval", "500", "--match", f"client_id={client_id}")
    probes: Set[str] = set()
    deadline = time.monotonic() + 60
    while True:
        probe = Producer(bootstrap_servers=cluster.bootstrap_servers,
                         client_id=probe_id or client_id)
        try:
            telemetry = probe._sender.telemetry.telemetry
            wait_for(lambda t=telemetry: t.subscription is not None, 30,
                     "a subscription answer")
            probes.add(kafka_uuid(telemetry.client_instance_id))
            if telemetry.subscription.prefixes == (metrics,):
                return probes
        finally:
            probe.close(0)
        assert time.monotonic() < deadline, f"subscription {name} never handed out"
        time.sleep(0.2)


def kafka_uuid(value: uuid.UUID) -> str:
    """Kafka's Uuid.toString(): URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(value.bytes).rstrip(b"=").decode()


def pushes_of(producer: Producer, path: pathlib.Path) -> List[dict]:
    instance = kafka_uuid(producer._sender.telemetry.telemetry.client_instance_id)
    return [p for p in read_pushes(path) if p["client_instance_id"] == instance]


def read_pushes(path: pathlib.Path) -> List[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_pushes_reach_the_broker_with_java_names_and_a_terminating_push(
        telemetry_broker, make_topic):
    cluster = telemetry_broker
    topic = make_topic(cluster=cluster)
    producer = Producer(bootstrap_servers=cluster.bootstrap_servers, client_id=CLIENT_ID,
                        linger_ms=0)
    try:
        for i in range(200):
            producer.send(topic, f"v{i}".encode())
        producer.flush(30)
        telemetry = producer._sender.telemetry.telemetry
        mine = lambda: pushes_of(producer, cluster.pushes_file)   # noqa: E731
        wait_for(lambda: len(mine()) >= 2, 60, "two pushes from kprod")
        assert not any(p["terminating"] for p in mine())
    finally:
        producer.close(30)
    wait_for(lambda: any(p["terminating"] for p in mine()), 10, "the terminating push")

    pushes = mine()
    assert pushes[-1]["terminating"] and sum(p["terminating"] for p in pushes) == 1
    for push in pushes:
        assert "parse_error" not in push, push.get("parse_error")
        assert push["client_id"] == CLIENT_ID
        assert push["content_type"] == "OTLP"          # the broker's label for MetricsData
        names = {m["name"] for m in push["metrics"]}
        assert all(name.startswith(PRODUCER) for name in names), names
        assert KIP_714_PRODUCER_METRICS <= names, KIP_714_PRODUCER_METRICS - names

    # What the producer did shows up in the values the broker received: the broker
    # asked for delta sums, so the pushes' record-send-total values add up to 200.
    assert telemetry.subscription.delta
    sends = [m for p in pushes for m in p["metrics"]
             if m["name"] == PRODUCER + "record.send.total"]
    assert {m["kind"] for m in sends} == {"monotonic_sum:AGGREGATION_TEMPORALITY_DELTA"}
    assert sum(m["points"][0]["value"] for m in sends) == 200
    last = {m["name"]: m for m in pushes[-1]["metrics"]}
    assert last[PRODUCER + "record.queue.time.max"]["kind"] == "gauge"
    (broker_id,) = cluster.broker_ids
    latency = last[PRODUCER + "node.request.latency.max"]["points"]
    assert [p["attributes"] for p in latency] == [{"node_id": f"node-{broker_id}"}]
    assert latency[0]["value"] > 0
    created = [m["points"][0]["value"] for p in pushes for m in p["metrics"]
               if m["name"] == PRODUCER + "connection.creation.total"]
    assert sum(created) == producer.metrics()["connection-creation-total"] >= 1


def _shapes(pushes: List[dict]) -> Set[Tuple[str, str, Tuple[str, ...]]]:
    """(name, kind, attribute keys) of every pushed metric."""
    return {(m["name"], m["kind"], tuple(sorted(point["attributes"])))
            for push in pushes for m in push["metrics"] for point in m["points"]}


def test_names_kinds_and_attributes_are_the_java_producers(telemetry_broker, make_topic):
    """Kafka's own Java producer (ProducerPerformance) and kprod push to the same broker
    under the same subscription: every metric kprod pushes is one the Java client
    pushes, with the same name, kind (gauge, or monotonic sum with the broker's
    temporality) and attribute keys."""
    cluster = telemetry_broker
    topic = make_topic(cluster=cluster)
    before = len(read_pushes(cluster.pushes_file))
    java = subprocess.run(java_tool_command(
        "org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
        "--num-records", "300", "--throughput", "100", "--record-size", "100",
        "--producer-props", f"bootstrap.servers={cluster.bootstrap_servers}",
        f"client.id={SUBSCRIBED}java"), capture_output=True, text=True, timeout=180)
    assert java.returncode == 0, java.stdout + java.stderr
    java_pushes = [p for p in read_pushes(cluster.pushes_file)[before:]
                   if p["client_id"] == SUBSCRIBED + "java"]
    assert java_pushes

    producer = Producer(bootstrap_servers=cluster.bootstrap_servers,
                        client_id=SUBSCRIBED + "like-java", linger_ms=0)
    try:
        for _ in range(100):
            producer.send(topic, b"x" * 100)
        producer.flush(30)
        wait_for(lambda: pushes_of(producer, cluster.pushes_file), 60, "a kprod push")
    finally:
        producer.close(30)
    java_shapes = _shapes(java_pushes)
    kprod_shapes = _shapes(pushes_of(producer, cluster.pushes_file))
    assert {shape[0] for shape in java_shapes} >= KIP_714_PRODUCER_METRICS
    assert kprod_shapes <= java_shapes, sorted(kprod_shapes - java_shapes)
    assert {shape[0] for shape in kprod_shapes} >= KIP_714_PRODUCER_METRICS


@pytest.mark.parametrize("codec", [compression.GZIP, compression.SNAPPY, compression.LZ4,
                                   compression.ZSTD])
def test_each_compression_type_is_decoded_by_the_broker(telemetry_broker, monkeypatch,
                                                          codec):
    """kprod takes the broker's first listed codec; here it is made to take each one in
    turn, and the broker must decompress the payload and hand it to the receiver."""
    cluster = telemetry_broker
    monkeypatch.setattr(telemetry_module, "_CODECS", frozenset({codec}))
    producer = Producer(bootstrap_servers=cluster.bootstrap_servers,
                        client_id=f"{SUBSCRIBED}codec-{codec}")
    try:
        wait_for(lambda: pushes_of(producer, cluster.pushes_file), 60, "a push")
        assert producer._sender.telemetry.telemetry.subscription.compression_type == codec
    finally:
        producer.close(30)
    pushes = pushes_of(producer, cluster.pushes_file)
    assert pushes[-1]["terminating"]
    for push in pushes:
        assert "parse_error" not in push, push.get("parse_error")
        names = {m["name"] for m in push["metrics"]}
        assert PRODUCER + "record.send.total" in names


def test_a_changed_subscription_is_fetched_again(telemetry_broker):
    """The operator changes the subscription's metrics: the broker refuses the next
    push (UNKNOWN_SUBSCRIPTION_ID), kprod asks again and pushes the new selection."""
    cluster = telemetry_broker
    client_id = "kprod-resubscribe"
    old, new = PRODUCER + "record.send.", PRODUCER + "request."
    subscribe(cluster, client_id, client_id, old)
    try:
        producer = Producer(bootstrap_servers=cluster.bootstrap_servers, client_id=client_id)
        try:
            telemetry = producer._sender.telemetry.telemetry
            wait_for(lambda: pushes_of(producer, cluster.pushes_file), 60, "a push")
            first_id = telemetry.subscription.subscription_id
            client_metrics(cluster, "--alter", "--name", client_id, "--metrics", new)

            def new_selection_pushed() -> bool:
                return any(m["name"].startswith(new)
                           for p in pushes_of(producer, cluster.pushes_file)
                           for m in p["metrics"])

            wait_for(new_selection_pushed, 60, "a push of the new selection")
            assert telemetry.subscription.subscription_id != first_id
            assert telemetry.subscription.prefixes == (new,)
        finally:
            producer.close(30)
    finally:
        client_metrics(cluster, "--delete", "--name", client_id)
    selections = [{m["name"].startswith(new) for m in p["metrics"]}
                  for p in pushes_of(producer, cluster.pushes_file)]
    # every push is wholly the old or wholly the new selection, the old ones first
    assert all(len(s) == 1 for s in selections)
    flags = [s.pop() for s in selections]
    assert flags == sorted(flags) and flags[0] is False and flags[-1] is True


def test_no_subscription_pushes_nothing(telemetry_broker):
    cluster = telemetry_broker
    before = len(read_pushes(cluster.pushes_file))
    producer = Producer(bootstrap_servers=cluster.bootstrap_servers,
                        client_id="kprod-unsubscribed")
    try:
        telemetry = producer._sender.telemetry.telemetry
        # The broker offers the APIs and answers with an empty subscription.
        wait_for(lambda: telemetry.subscription is not None, 30, "the subscription answer")
        assert telemetry.subscription.prefixes == ()
        assert not telemetry.done
    finally:
        producer.close(30)
    assert telemetry.pushes == 0
    assert len(read_pushes(cluster.pushes_file)) == before


def test_broker_without_a_receiver_stops_telemetry(kafka, topic):
    # The shared test broker has no ClientTelemetry plugin: it does not offer the APIs.
    with Producer(bootstrap_servers=kafka.bootstrap_servers) as producer:
        producer.send(topic, b"x").get(30)
        assert producer._sender.telemetry.done


def test_disabled_by_setting(kafka):
    with Producer(bootstrap_servers=kafka.bootstrap_servers,
                  enable_metrics_push=False) as producer:
        assert producer._sender.telemetry is None
