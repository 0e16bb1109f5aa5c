"""Plugins' life cycle (Java Configurable/Closeable), on_send_error, interceptors that keep
the native send path, and metrics reporters, against the real broker."""
from __future__ import annotations

import math

import pytest

from kprod.errors import SerializationError
from kprod.producer import Producer

from ..native_path import count_slow_calls
from .readback import read_all

GET_TIMEOUT = 30


class Lifecycle:
    """Counts configure()/close() per class (kprod instantiates these itself)."""
    events: list = []

    def configure(self, configs, *extra):
        Lifecycle.events.append((type(self).__name__, "configure", dict(configs), extra))

    def close(self):
        Lifecycle.events.append((type(self).__name__, "close"))


class UpperSerializer(Lifecycle):
    def serialize(self, topic, data, headers=None):
        return None if data is None else data.upper().encode()


class FirstPartitioner(Lifecycle):
    def partition(self, topic, key, key_bytes, value, value_bytes, cluster):
        return 0


class CountingInterceptor(Lifecycle):
    def on_acknowledgement(self, metadata, exception):
        pass


class Reporter(Lifecycle):
    def __init__(self):
        self.names = []

    def init(self, metrics):
        self.names += [m.metric_name for m in metrics]

    def metric_change(self, metric):
        self.names.append(metric.metric_name)

    def metric_removal(self, metric):
        pass


class GivenSerializer:
    """Passed as an instance: Java does not configure those, but closes them."""

    def __init__(self):
        self.configured = 0
        self.closed = 0

    def configure(self, configs, is_key):
        self.configured += 1

    def serialize(self, topic, data, headers=None):
        return data

    def close(self):
        self.closed += 1


def test_configure_and_close_once_for_every_plugin(make_topic, bootstrap):
    Lifecycle.events = []
    topic = make_topic(partitions=2)
    given = GivenSerializer()
    producer = Producer({
        "bootstrap.servers": bootstrap, "client.id": "plugins-test",
        "key.serializer": given,
        "value.serializer": UpperSerializer,
        "partitioner.class": FirstPartitioner,
        "interceptor.classes": [CountingInterceptor],
        "metric.reporters": [Reporter],
    })
    producer.send(topic, "hello", key=b"k").get(GET_TIMEOUT)
    configured = [e for e in Lifecycle.events if e[1] == "configure"]
    assert [e[0] for e in configured] == ["Reporter", "FirstPartitioner", "UpperSerializer",
                                          "CountingInterceptor"]
    for _, _, configs, _extra in configured:
        assert configs["client.id"] == "plugins-test"
        assert configs["bootstrap.servers"] == (bootstrap,)
    value_configure = next(e for e in configured if e[0] == "UpperSerializer")
    assert value_configure[3] == (False,)            # configure(configs, is_key=False)
    assert given.configured == 0
    producer.close(10)
    producer.close(10)
    closed = [e[0] for e in Lifecycle.events if e[1] == "close"]
    assert closed == ["CountingInterceptor", "Reporter", "FirstPartitioner",
                      "UpperSerializer"]
    assert given.closed == 1
    assert [m.value for m in read_all(bootstrap, topic, 1)] == [b"HELLO"]


def test_plugins_made_before_a_failure_are_closed(bootstrap):
    Lifecycle.events = []
    with pytest.raises(Exception, match="interceptor.classes"):
        Producer(bootstrap_servers=bootstrap, partitioner_class=FirstPartitioner,
                 interceptor_classes=[object()])
    assert ("FirstPartitioner", "close") in Lifecycle.events


class SendErrors:
    def __init__(self):
        self.errors = []

    def on_send_error(self, record, exception):
        self.errors.append((record.topic, record.value, type(exception)))


class AcknowledgeOnly:
    def __init__(self):
        self.acks = []

    def on_acknowledgement(self, metadata, exception):
        self.acks.append((metadata, exception))


def test_errors_raised_inside_send_reach_the_interceptors(make_topic, make_producer):
    topic = make_topic()
    errors, acks = SendErrors(), AcknowledgeOnly()
    producer = make_producer(interceptor_classes=[errors, acks])
    with pytest.raises(SerializationError):
        producer.send(topic, "not bytes")
    with pytest.raises(ValueError, match="Invalid timestamp: -5"):
        producer.send(topic, b"v", timestamp=-5)
    with pytest.raises(TypeError, match="callback"):
        producer.send(topic, b"v", callback=42)
    assert errors.errors == [(topic, "not bytes", SerializationError),
                             (topic, b"v", ValueError), (topic, b"v", TypeError)]
    # Without on_send_error, Java's onSendError calls on_acknowledgement(offset -1, error).
    assert [(m.topic, m.offset, type(e)) for m, e in acks.acks] == [
        (topic, -1, SerializationError), (topic, -1, ValueError), (topic, -1, TypeError)]


def test_interceptor_without_on_send_keeps_the_native_path(make_topic, make_producer,
                                                           bootstrap):
    topic = make_topic()
    acks = AcknowledgeOnly()
    producer = make_producer(interceptor_classes=[acks], linger_ms=1000)
    slow_calls = count_slow_calls(producer)
    n = 200
    mine = []
    futures = [producer.send(topic, b"v%d" % i) for i in range(n - 1)]
    futures.append(producer.send(topic, b"last", callback=lambda m, e: mine.append((m, e))))
    producer.flush(GET_TIMEOUT)
    # The first record opens the batch (Python path); the rest append natively, except
    # the one with its own callback (chained with the interceptors' in Python).
    assert len(slow_calls) == 2
    assert sorted(m.offset for m, e in acks.acks if e is None) == list(range(n))
    assert [f.get(0).offset for f in futures] == list(range(n))
    assert mine and mine[0][0].offset == n - 1 and mine[0][1] is None
    assert [m.value for m in read_all(bootstrap, topic, n)][-1] == b"last"


def test_reporter_and_per_topic_metrics_on_a_real_producer(make_topic, make_producer):
    topic = make_topic()
    reporter = Reporter()
    producer = make_producer(metric_reporters=[reporter], metrics_sample_window_ms=60000)
    for i in range(50):
        producer.send(topic, b"x" * (10 + i))
    producer.flush(GET_TIMEOUT)
    m = producer.metrics()
    assert m[f"record-send-total{{topic={topic}}}"] == 50
    assert m[f"record-send-rate{{topic={topic}}}"] > 0
    assert m[f"byte-total{{topic={topic}}}"] > 50 * 10
    assert m[f"record-error-total{{topic={topic}}}"] == 0
    assert 59 < m["record-size-max"] < 100       # the largest record (59-byte value) framed
    assert m["produce-throttle-time-max"] == 0     # no quota on the test broker
    assert not math.isnan(m["produce-throttle-time-avg"])
    assert m["buffer-total-bytes"] == 33554432
    groups = {(n.group, n.name) for n in reporter.names}
    assert ("producer-topic-metrics", "byte-rate") in groups
    assert ("producer-metrics", "record-size-avg") in groups
    # Java's tags: client-id on every metric, topic on the topic group's.
    client = ("client-id", producer.config["client.id"])
    assert all(client in n.tags for n in reporter.names)
    assert any(n.tags == (client, ("topic", topic)) for n in reporter.names
               if n.group == "producer-topic-metrics")


def test_produce_throttle_time_comes_from_a_broker_quota(kafka, make_topic, make_producer):
    """A client-id quota (KIP-13) makes the broker answer with throttle_time_ms
    (KIP-219); produce-throttle-time-avg/max record it. The broker measures the rate
    over at least 10 s (11 one-second samples), so 200 KB at once is 20 KB/s against a
    15 KB/s quota: a throttle of a few seconds."""
    import subprocess
    import uuid

    from kprod.testing.artifacts import java_tool_command

    client_id = f"throttled-{uuid.uuid4().hex[:8]}"
    subprocess.run(java_tool_command(
        "kafka.admin.ConfigCommand", "--bootstrap-server", kafka.bootstrap_servers,
        "--alter", "--add-config", "producer_byte_rate=15000", "--entity-type", "clients",
        "--entity-name", client_id), check=True, capture_output=True, timeout=120)
    topic = make_topic()
    producer = make_producer(client_id=client_id, linger_ms=5, batch_size=16384)
    unthrottled = make_producer()
    for _ in range(200):
        producer.send(topic, b"q" * 1000)
        unthrottled.send(topic, b"u" * 1000)
    producer.flush(60)
    unthrottled.flush(60)
    m = producer.metrics()
    assert m["produce-throttle-time-max"] > 0
    assert 0 < m["produce-throttle-time-avg"] <= m["produce-throttle-time-max"]
    assert unthrottled.metrics()["produce-throttle-time-max"] == 0


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_node_metrics_are_recorded_at_every_level(make_topic, make_producer, level):
    # Java's Selector registers the per-node latency sensors at INFO (KIP-714 pushes
    # node.request.latency by default), so every recording level records them.
    topic = make_topic()
    producer = make_producer(metrics_recording_level=level)
    producer.send(topic, b"v").get(GET_TIMEOUT)
    m = producer.metrics()
    node_latency = [v for k, v in m.items() if k.startswith("request-latency-avg{node-id=")]
    assert len(node_latency) == 1 and node_latency[0] > 0
    assert m["request-latency-avg"] > 0
