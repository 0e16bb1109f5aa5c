"""The producer's metrics under the names KIP-714 gives them when pushed.

Java derives a pushed name from the metric's group and name: the group without its
``-metrics`` suffix, dashes as dots, under ``org.apache.kafka.``; tags become
attributes with underscores (``node-id`` -> ``node_id``), and the client id is left
out (the broker knows it). So ``record-queue-time-avg`` of producer-metrics is
``org.apache.kafka.producer.record.queue.time.avg`` and producer-node-metrics'
``request-latency-max`` of broker 1 is ``org.apache.kafka.producer.node.request.latency.max``
with ``node_id="node-1"``. Cumulative totals (``*-total``) are sums, the rest gauges.
(tests/telemetry/test_real_broker.py checks these against what Kafka's Java producer
pushes to the same broker.)
"""
from __future__ import annotations

from typing import Iterable, List, Tuple

from kprod._internals.telemetry import Sample

PREFIX = "org.apache.kafka."

#: (group, name, tags, value): a metric as a Java-style registry names it.
NamedValue = Tuple[str, str, Iterable[Tuple[str, str]], float]


def telemetry_name(group: str, name: str) -> str:
    """``("producer-node-metrics", "request-latency-avg")`` ->
    ``org.apache.kafka.producer.node.request.latency.avg``."""
    if group.endswith("-metrics"):
        group = group[:-len("-metrics")]
    return PREFIX + f"{group}.{name}".replace("-", ".")


def samples(metrics: Iterable[NamedValue]) -> List[Sample]:
    """Samples of metrics named by group, name and tags."""
    out = []
    for group, name, tags, value in metrics:
        attributes = tuple((key.replace("-", "_"), str(tag)) for key, tag in tags
                           if key != "client-id")
        out.append(Sample(telemetry_name(group, name), float(value), attributes,
                          name.endswith("-total")))
    return out
