"""A protobuf encoder for the part of OpenTelemetry's MetricsData that KIP-714 pushes:
number gauges and sums with attributes (opentelemetry-proto, opentelemetry/proto/
metrics/v1/metrics.proto, common/v1/common.proto, resource/v1/resource.proto).

Written by hand (varints, length-delimited fields, fixed64) so kprod needs no
protobuf runtime. The field numbers are the .proto's; each is named where it is used.
"""
from __future__ import annotations

import struct
from typing import Dict, NamedTuple, Sequence, Tuple, Union

AttributeValue = Union[str, bool, int, float]

# AggregationTemporality (metrics.proto)
DELTA = 1
CUMULATIVE = 2

# Wire types (protobuf encoding)
_VARINT, _FIXED64, _LEN = 0, 1, 2

_DOUBLE = struct.Struct("<d")
_FIXED = struct.Struct("<Q")


class Point(NamedTuple):
    """One NumberDataPoint of a gauge or sum."""

    attributes: Tuple[Tuple[str, AttributeValue], ...]
    value: float
    start_time_unix_nano: int
    time_unix_nano: int


class Metric(NamedTuple):
    """A Metric holding a Gauge (``sum`` False) or a monotonic Sum."""

    name: str
    description: str
    unit: str
    points: Sequence[Point]
    sum: bool = False
    temporality: int = CUMULATIVE   # Sum only


def _varint(buf: bytearray, n: int) -> None:
    if 0 <= n < 0x80:
        buf.append(n)
        return
    if n < 0:
        n &= (1 << 64) - 1          # int64 negatives: ten-byte two's complement
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _key(buf: bytearray, field: int, wire_type: int) -> None:
    _varint(buf, (field << 3) | wire_type)     # one byte for the fields below 16


def _bytes_field(buf: bytearray, field: int, data: Union[bytes, bytearray]) -> None:
    _key(buf, field, _LEN)
    _varint(buf, len(data))
    buf += data


def _string_field(buf: bytearray, field: int, text: str, oneof: bool = False) -> None:
    if text or oneof:             # proto3: an empty string is not written, but in a oneof
        _bytes_field(buf, field, text.encode("utf-8"))


def _any_value(value: AttributeValue) -> bytearray:
    """AnyValue: string_value 1, bool_value 2, int_value 3, double_value 4."""
    out = bytearray()
    if isinstance(value, str):
        _string_field(out, 1, value, oneof=True)
    elif isinstance(value, bool):
        _key(out, 2, _VARINT)
        out.append(1 if value else 0)
    elif isinstance(value, int):
        _key(out, 3, _VARINT)
        _varint(out, value)
    elif isinstance(value, float):
        _key(out, 4, _FIXED64)
        out += _DOUBLE.pack(value)
    else:
        raise TypeError(f"OTLP attribute value must be str, bool, int or float, not "
                        f"{type(value).__name__}")
    return out


def _key_value(key: str, value: AttributeValue) -> bytearray:
    """KeyValue: key 1, value 2 (AnyValue)."""
    out = bytearray()
    _string_field(out, 1, key)
    _bytes_field(out, 2, _any_value(value))
    return out


def _number_point(point: Point) -> bytearray:
    """NumberDataPoint: start_time_unix_nano 2 (fixed64), time_unix_nano 3 (fixed64),
    as_double 4 (double), attributes 7 (KeyValue)."""
    out = bytearray()
    if point.start_time_unix_nano:        # proto3: a zero scalar is not written
        _key(out, 2, _FIXED64)
        out += _FIXED.pack(point.start_time_unix_nano)
    if point.time_unix_nano:
        _key(out, 3, _FIXED64)
        out += _FIXED.pack(point.time_unix_nano)
    _key(out, 4, _FIXED64)                # a oneof member: written even when zero
    out += _DOUBLE.pack(float(point.value))
    for key, value in point.attributes:
        _bytes_field(out, 7, _key_value(key, value))
    return out


def _metric(metric: Metric) -> bytearray:
    """Metric: name 1, description 2, unit 3, gauge 5 (Gauge: data_points 1) or sum 7
    (Sum: data_points 1, aggregation_temporality 2, is_monotonic 3)."""
    out = bytearray()
    _string_field(out, 1, metric.name)
    _string_field(out, 2, metric.description)
    _string_field(out, 3, metric.unit)
    data = bytearray()
    for point in metric.points:
        _bytes_field(data, 1, _number_point(point))
    if metric.sum:
        _key(data, 2, _VARINT)
        _varint(data, metric.temporality)
        _key(data, 3, _VARINT)
        data.append(1)                    # monotonic: totals only grow
        _bytes_field(out, 7, data)
    else:
        _bytes_field(out, 5, data)
    return out


def encode_metrics_data(metrics: Sequence[Metric],
                        resource: Dict[str, AttributeValue]) -> bytes:
    """MetricsData { resource_metrics 1: ResourceMetrics { resource 1: Resource
    { attributes 1 }, scope_metrics 2: ScopeMetrics { metrics 2 } } }."""
    resource_msg = bytearray()
    for key, value in resource.items():
        _bytes_field(resource_msg, 1, _key_value(key, value))
    scope = bytearray()
    for metric in metrics:
        _bytes_field(scope, 2, _metric(metric))
    resource_metrics = bytearray()
    _bytes_field(resource_metrics, 1, resource_msg)
    _bytes_field(resource_metrics, 2, scope)
    out = bytearray()
    _bytes_field(out, 1, resource_metrics)
    return bytes(out)

