"""kprod.otel metrics against the real broker: the producer's metrics collected by the
SDK's InMemoryMetricReader, with the values producer.metrics() reports."""
from __future__ import annotations

from kprod import otel

GET_TIMEOUT = 30


def _points(reader):
    """{(instrument name, attributes): (point, metric)} of one collection."""
    points = {}
    data = reader.get_metrics_data()            # None: nothing was observed
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            assert scope.scope.name == "kprod"
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    points[(metric.name, tuple(sorted(point.attributes.items())))] = (
                        point, metric)
    return points


def test_metrics_are_collected_with_real_values(make_topic, make_producer, meter_provider,
                                                metric_reader):
    topic = make_topic()
    producer = make_producer(linger_ms=5, metrics_sample_window_ms=60000)
    client = producer.config["client.id"]
    otel.instrument(producer, meter_provider=meter_provider, tracing=False)
    assert producer.send == producer._send_path.send       # no tracing: send() untouched
    n = 50
    for i in range(n):
        producer.send(topic, b"x" * (10 + i))
    producer.flush(GET_TIMEOUT)
    points = _points(metric_reader)
    mine = (("client_id", client),)
    sent, metric = points[("org.apache.kafka.producer.record.send.total", mine)]
    assert sent.value == n
    assert metric.data.is_monotonic                      # a counter: cumulative sum
    # Per-topic metrics exist only after the first send (added after instrument()).
    topic_attrs = (("client_id", client), ("topic", topic))
    assert points[("org.apache.kafka.producer.topic.record.send.total",
                   topic_attrs)][0].value == n
    byte_total = points[("org.apache.kafka.producer.topic.byte.total", topic_attrs)]
    assert byte_total[0].value == producer.metrics()[f"byte-total{{topic={topic}}}"] > n * 10
    assert byte_total[1].unit == "By"
    rate, metric = points[("org.apache.kafka.producer.record.send.rate", mine)]
    assert rate.value > 0 and not hasattr(metric.data, "is_monotonic")   # a gauge
    assert metric.unit == "1/s"
    assert points[("org.apache.kafka.producer.buffer.total.bytes", mine)][0].value == \
        producer.config["buffer.memory"]
    assert points[("org.apache.kafka.producer.connection.creation.total", mine)][0].value >= 1
    assert points[("org.apache.kafka.producer.batch.split.total", mine)][0].value == 0
    latency = [(p.value, m.unit) for (name, attrs), (p, m) in points.items()
               if name == "org.apache.kafka.producer.node.request.latency.max"
               and dict(attrs)["node_id"].startswith("node-")]
    assert latency and all(value > 0 and unit == "ms" for value, unit in latency)
    # The sends go on counting in later collections.
    producer.send(topic, b"more").get(GET_TIMEOUT)
    assert _points(metric_reader)[("org.apache.kafka.producer.record.send.total",
                                   mine)][0].value == n + 1


def test_two_producers_share_the_instruments(make_topic, make_producer, meter_provider,
                                             metric_reader):
    topic = make_topic()
    first, second = make_producer(), make_producer()
    otel.instrument(first, meter_provider=meter_provider, tracing=False)
    otel.instrument(second, meter_provider=meter_provider, tracing=False)
    for _ in range(3):
        first.send(topic, b"a")
    second.send(topic, b"b")
    first.flush(GET_TIMEOUT)
    second.flush(GET_TIMEOUT)
    totals = {dict(attrs)["client_id"]: point.value
              for (name, attrs), (point, _) in _points(metric_reader).items()
              if name == "org.apache.kafka.producer.record.send.total"}
    assert totals == {first.config["client.id"]: 3, second.config["client.id"]: 1}
    # A closed or uninstrumented producer is no longer reported.
    second.close(10)
    otel.uninstrument(first)
    assert not [name for (name, attrs) in _points(metric_reader)
                if name == "org.apache.kafka.producer.record.send.total"]


def test_metrics_false_registers_nothing(make_topic, make_producer, meter_provider,
                                         metric_reader):
    topic = make_topic()
    producer = make_producer()
    otel.instrument(producer, meter_provider=meter_provider, metrics=False)
    producer.send(topic, b"v").get(GET_TIMEOUT)
    assert _points(metric_reader) == {}
    assert producer.metrics()["record-send-total"] == 1
