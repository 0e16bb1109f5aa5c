"""kprod's hand-written OTLP encoder against the official protobuf classes
(opentelemetry-proto, a test-only dependency): every field decodes as written."""
import math

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, MetricsData

from kprod._internals import otlp


def _decode(payload: bytes) -> MetricsData:
    data = MetricsData()
    data.ParseFromString(payload)
    # Nothing the official schema does not know: unknown fields would mean a wrong number.
    assert data.SerializeToString() == payload
    return data


def test_gauge_and_sums_round_trip():
    metrics = [
        otlp.Metric("org.apache.kafka.producer.record.queue.time.avg", "avg wait", "ms",
                    [otlp.Point((), 12.5, 0, 1_700_000_000_123_456_789)]),
        otlp.Metric("org.apache.kafka.producer.node.request.latency.max", "", "",
                    [otlp.Point((("node_id", "node-1"),), 3.0, 0, 5),
                     otlp.Point((("node_id", "node-2"),), 4.25, 0, 5)]),
        otlp.Metric("org.apache.kafka.producer.record.send.total", "", "",
                    [otlp.Point((), 1e6, 1_000, 2_000)], sum=True,
                    temporality=otlp.CUMULATIVE),
        otlp.Metric("org.apache.kafka.producer.request.total", "", "",
                    [otlp.Point((), 7.0, 10, 20)], sum=True, temporality=otlp.DELTA),
    ]
    resource = {"s": "x", "b": True, "i": -3, "f": 0.5}
    data = _decode(otlp.encode_metrics_data(metrics, resource))

    assert len(data.resource_metrics) == 1
    rm = data.resource_metrics[0]
    attrs = {kv.key: kv.value for kv in rm.resource.attributes}
    assert attrs["s"].string_value == "x"
    assert attrs["b"].bool_value is True
    assert attrs["i"].int_value == -3          # negative int64: ten-byte varint
    assert attrs["f"].double_value == 0.5
    assert [kv.value.WhichOneof("value") for kv in rm.resource.attributes] == [
        "string_value", "bool_value", "int_value", "double_value"]

    (scope,) = rm.scope_metrics
    by_name = {m.name: m for m in scope.metrics}
    assert list(by_name) == [m.name for m in metrics]

    gauge = by_name["org.apache.kafka.producer.record.queue.time.avg"]
    assert gauge.WhichOneof("data") == "gauge"
    assert (gauge.description, gauge.unit) == ("avg wait", "ms")
    (point,) = gauge.gauge.data_points
    assert point.as_double == 12.5 and point.WhichOneof("value") == "as_double"
    assert point.time_unix_nano == 1_700_000_000_123_456_789

    node = by_name["org.apache.kafka.producer.node.request.latency.max"]
    assert [(p.attributes[0].key, p.attributes[0].value.string_value, p.as_double)
            for p in node.gauge.data_points] == [("node_id", "node-1", 3.0),
                                                  ("node_id", "node-2", 4.25)]

    total = by_name["org.apache.kafka.producer.record.send.total"]
    assert total.WhichOneof("data") == "sum"
    assert total.sum.is_monotonic
    assert total.sum.aggregation_temporality == AggregationTemporality.Value(
        "AGGREGATION_TEMPORALITY_CUMULATIVE")
    (point,) = total.sum.data_points
    assert (point.start_time_unix_nano, point.time_unix_nano, point.as_double) == (
        1_000, 2_000, 1e6)

    delta = by_name["org.apache.kafka.producer.request.total"]
    assert delta.sum.aggregation_temporality == AggregationTemporality.Value(
        "AGGREGATION_TEMPORALITY_DELTA")


def test_values_and_text_edge_cases():
    long_name = "org.apache.kafka.producer." + "é" * 200       # >127 bytes: 2-byte length
    values = [0.0, -1.5, math.inf, 2.0 ** 60, 5e-324]
    metric = otlp.Metric(long_name, "", "", [otlp.Point((("k", ""),), v, 0, 0)
                                             for v in values])
    data = _decode(otlp.encode_metrics_data([metric], {}))
    (decoded,) = data.resource_metrics[0].scope_metrics[0].metrics
    assert decoded.name == long_name
    assert [p.as_double for p in decoded.gauge.data_points] == values
    assert decoded.gauge.data_points[0].attributes[0].value == AnyValue(string_value="")


def test_empty_payload_is_valid():
    data = _decode(otlp.encode_metrics_data([], {}))
    assert len(data.resource_metrics) == 1
    assert len(data.resource_metrics[0].scope_metrics[0].metrics) == 0


def test_bad_attribute_type_is_a_clear_error():
    import pytest
    metric = otlp.Metric("m", "", "", [otlp.Point((("k", object()),), 1.0, 0, 0)])
    with pytest.raises(TypeError, match="OTLP attribute value must be"):
        otlp.encode_metrics_data([metric], {})


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_text = st.text(max_size=40)
_values = st.one_of(_text, st.booleans(), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=False))
_points = st.builds(
    otlp.Point, st.lists(st.tuples(_text, _text), max_size=3).map(tuple),
    st.floats(allow_nan=False), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
_metrics = st.builds(otlp.Metric, _text, _text, _text, st.lists(_points, max_size=4),
                     st.booleans(), st.sampled_from([otlp.DELTA, otlp.CUMULATIVE]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_metrics, max_size=5), st.dictionaries(_text, _values, max_size=4))
def test_any_payload_is_what_the_official_encoder_writes(metrics, resource):
    """Parsed by the official classes and written back byte for byte, with every value
    where it was put."""
    data = _decode(otlp.encode_metrics_data(metrics, resource))
    decoded_resource = {kv.key: getattr(kv.value, kv.value.WhichOneof("value"))
                        for kv in data.resource_metrics[0].resource.attributes}
    assert decoded_resource == resource
    decoded = data.resource_metrics[0].scope_metrics[0].metrics
    assert len(decoded) == len(metrics)
    for mine, theirs in zip(metrics, decoded):
        assert (theirs.name, theirs.description, theirs.unit) == (
            mine.name, mine.description, mine.unit)
        kind = theirs.WhichOneof("data")
        assert kind == ("sum" if mine.sum else "gauge")
        body = getattr(theirs, kind)
        if mine.sum:
            assert body.is_monotonic and body.aggregation_temporality == mine.temporality
        assert [(tuple((a.key, a.value.string_value) for a in p.attributes), p.as_double,
                 p.start_time_unix_nano, p.time_unix_nano) for p in body.data_points] == [
            (p.attributes, p.value, p.start_time_unix_nano, p.time_unix_nano)
            for p in mine.points]
