"""The producer's metrics under the names KIP-714 gives them when pushed.

Java derives a pushed name from the metric's group and name: the group without its
``-metrics`` suffix, dashes as dots, under ``org.apache.kafka.``; tags become
attributes with underscores (``node-id`` -> ``node_id``), and the client id is left
out (the broker knows it). So ``record-queue-time-avg`` of producer-metrics is
``org.apache.kafka.producer.record.queue.time.avg`` and producer-node-metrics'
``request-latency-max`` of broker 1 is ``org.apache.kafka.producer.node.request.latency.max``
with ``node_id="node-1"``. Cumulative totals (``*-total``) are sums, the rest gauges.
"""
from __future__ import annotations

from typing import List, Mapping

from kprod._internals.telemetry import Sample

PREFIX = "org.apache.kafka."


def telemetry_name(group: str, name: str) -> str:
    """``("producer-node-metrics", "request-latency-avg")`` ->
    ``org.apache.kafka.producer.node.request.latency.avg``."""
    if group.endswith("-metrics"):
        group = group[:-len("-metrics")]
    return PREFIX + f"{group}.{name}".replace("-", ".")


def producer_samples(metrics: Mapping[str, float],
                     per_node: Mapping[int, Mapping[str, float]]) -> List[Sample]:
    """``Producer.metrics()`` (producer-metrics) and the per-broker Produce latencies
    (producer-node-metrics) as samples."""
    samples = [Sample(telemetry_name("producer-metrics", name), float(value), (),
                      name.endswith("-total"))
               for name, value in metrics.items()]
    for node_id, values in per_node.items():
        attributes = (("node_id", f"node-{node_id}"),)
        for name, value in values.items():
            samples.append(Sample(telemetry_name("producer-node-metrics", name), float(value),
                                  attributes, name.endswith("-total")))
    return samples

