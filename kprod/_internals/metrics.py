"""The producer's metrics: Java's producer-metrics, producer-topic-metrics and
producer-node-metrics groups, with the same names and meanings (Java ``SenderMetrics``).

Recorded by the I/O thread per batch, per request and per response, never per record.
Rates, averages and maxima are windowed (``metrics.sample.window.ms`` x
``metrics.num.samples``, see :mod:`kprod._internals.stats`); totals are cumulative.
As in Java, record-send-rate/total count the records put into Produce requests (a
retried batch counts again), record-size-avg/max are over each batch's largest
record. Every one is INFO level, as Java's producer metrics are (the per-node
latency sensors of Java's Selector too: KIP-714 pushes them by default).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from kprod._internals.stats import (
    Avg, Clock, CumulativeSum, Gauge, Max, MetricConfig, MetricName, MetricsRegistry, Rate,
    Sensor,
)
from kprod._native.clock import monotonic_ms

GROUP = "producer-metrics"
TOPIC_GROUP = "producer-topic-metrics"
NODE_GROUP = "producer-node-metrics"


class _TopicSensors:
    """The sensors of one topic (producer-topic-metrics)."""
    __slots__ = ("records", "bytes", "errors", "retries", "compression")

    def __init__(self, records: Sensor, bytes_: Sensor, errors: Sensor, retries: Sensor,
                 compression: Sensor) -> None:
        self.records = records
        self.bytes = bytes_
        self.errors = errors
        self.retries = retries
        self.compression = compression


class ProducerMetrics:
    def __init__(self, config: Optional[MetricConfig] = None, level: str = "INFO",
                 reporters: Sequence[Any] = (), clock: Clock = monotonic_ms,
                 memory: Optional[Callable[[], Any]] = None, client_id: str = "") -> None:
        """``memory()`` returns the buffer pool (for the buffer gauges), if any; every
        metric is tagged with ``client_id`` as in Java (not in the metrics() keys)."""
        self._tags: Tuple[Tuple[str, str], ...] = (("client-id", client_id),) if client_id \
            else ()
        self.registry = registry = MetricsRegistry(config or MetricConfig(30000, 2), level,
                                                   reporters, clock)
        self._clock = clock
        self._topics: Dict[str, _TopicSensors] = {}
        self._nodes: Dict[int, Sensor] = {}
        self.sends = self._sensor("records-per-request", GROUP, (
            ("record-send-rate", "records sent per second", Rate),
            ("record-send-total", "records sent", CumulativeSum),
            ("records-per-request-avg", "average records per request", Avg)))
        self.requests = self._sensor("requests", GROUP, (
            ("request-rate", "requests sent per second", Rate),
            ("request-total", "requests sent", CumulativeSum)))
        self.batch_size = self._sensor("batch-size", GROUP, (
            ("batch-size-avg", "average bytes per partition per request", Avg),
            ("batch-size-max", "largest bytes per partition per request", Max)))
        self.compression = self._sensor("compression-rate", GROUP, (
            ("compression-rate-avg", "average compressed/uncompressed batch size", Avg),))
        self.queue_time = self._sensor("queue-time", GROUP, (
            ("record-queue-time-avg", "average ms a batch waited in the accumulator", Avg),
            ("record-queue-time-max", "longest ms a batch waited in the accumulator", Max)))
        self.latency = self._sensor("request-time", GROUP, (
            ("request-latency-avg", "average request latency in ms", Avg),
            ("request-latency-max", "largest request latency in ms", Max)))
        self.throttle = self._sensor("produce-throttle-time", GROUP, (
            ("produce-throttle-time-avg", "average ms a broker throttled requests", Avg),
            ("produce-throttle-time-max", "longest ms a broker throttled a request", Max)))
        self.retries = self._sensor("record-retries", GROUP, (
            ("record-retry-rate", "retried records per second", Rate),
            ("record-retry-total", "retried records", CumulativeSum)))
        self.errors = self._sensor("errors", GROUP, (
            ("record-error-rate", "failed records per second", Rate),
            ("record-error-total", "failed records", CumulativeSum)))
        self.connections = self._sensor("connections-created", GROUP, (
            ("connection-creation-rate", "new connections per second", Rate),))
        self.record_size = self._sensor("record-size", GROUP, (
            ("record-size-avg", "average of each batch's largest record size", Avg),
            ("record-size-max", "largest record size", Max)))
        if memory is not None:
            registry.add(MetricName("buffer-available-bytes", GROUP,
                                    "buffer memory not in use", self._tags),
                         Gauge(lambda: memory().available_memory))
            registry.add(MetricName("buffer-total-bytes", GROUP,
                                    "buffer memory (buffer.memory)", self._tags),
                         Gauge(lambda: memory().total_memory))

    def _sensor(self, name: str, group: str, stats, tags=(), level: str = "INFO") -> Sensor:
        registry = self.registry
        sensor, created = registry.sensor(name, level)
        if created:
            for metric, description, kind in stats:
                registry.add(MetricName(metric, group, description, self._tags + tuple(tags)),
                             kind(sensor.samples))
        return sensor

    def _topic(self, topic: str) -> _TopicSensors:
        sensors = self._topics.get(topic)
        if sensors is None:
            tags = (("topic", topic),)
            sensors = _TopicSensors(
                self._sensor(f"topic.{topic}.records-per-batch", TOPIC_GROUP, (
                    ("record-send-rate", "records sent per second", Rate),
                    ("record-send-total", "records sent", CumulativeSum)), tags),
                self._sensor(f"topic.{topic}.bytes", TOPIC_GROUP, (
                    ("byte-rate", "bytes sent per second", Rate),
                    ("byte-total", "bytes sent", CumulativeSum)), tags),
                self._sensor(f"topic.{topic}.record-errors", TOPIC_GROUP, (
                    ("record-error-rate", "failed records per second", Rate),
                    ("record-error-total", "failed records", CumulativeSum)), tags),
                self._sensor(f"topic.{topic}.record-retries", TOPIC_GROUP, (
                    ("record-retry-rate", "retried records per second", Rate),
                    ("record-retry-total", "retried records", CumulativeSum)), tags),
                self._sensor(f"topic.{topic}.compression-rate", TOPIC_GROUP, (
                    ("compression-rate", "average compressed/uncompressed batch size",
                     Avg),), tags))
            self._topics[topic] = sensors
        return sensors

    # -- recording (I/O thread) ------------------------------------------------------
    def record_batch(self, topic: str, records: int, size: int, max_record_size: int,
                     first_attempt: bool, queue_ms: float = 0.0,
                     compression_ratio: Optional[float] = None) -> None:
        """A batch put into a Produce request."""
        now = self._clock()
        sensors = self._topics.get(topic) or self._topic(topic)
        sensors.records.record(records, now)
        sensors.bytes.record(size, now)
        self.batch_size.record(size, now)
        if max_record_size > 0:
            self.record_size.record(max_record_size, now)
        if first_attempt:
            # record-queue-time / compression-rate: first attempts only (a retry is the
            # same batch, already counted).
            self.queue_time.record(queue_ms, now)
            if compression_ratio is not None:
                self.compression.record(compression_ratio, now)
                sensors.compression.record(compression_ratio, now)

    def record_connection(self) -> None:
        """A connection was made (connection-creation-rate; the total is the
        connection counters')."""
        self.connections.record(1, self._clock())

    def record_request(self, records: int) -> None:
        now = self._clock()
        self.requests.record(1, now)
        self.sends.record(records, now)

    def record_latency(self, ms: float, node_id: Optional[int] = None) -> None:
        now = self._clock()
        self.latency.record(ms, now)
        if node_id is not None:
            sensor = self._nodes.get(node_id)
            if sensor is None:
                sensor = self._nodes[node_id] = self._sensor(
                    f"node-{node_id}.latency", NODE_GROUP, (
                        ("request-latency-avg", "average request latency in ms", Avg),
                        ("request-latency-max", "largest request latency in ms", Max)),
                    (("node-id", f"node-{node_id}"),))
            sensor.record(ms, now)

    def record_throttle(self, ms: float) -> None:
        self.throttle.record(ms)

    def record_error(self, topic: str, records: int) -> None:
        now = self._clock()
        self.errors.record(records, now)
        self._topic(topic).errors.record(records, now)

    def record_retry(self, topic: str, records: int) -> None:
        now = self._clock()
        self.retries.record(records, now)
        self._topic(topic).retries.record(records, now)

    # -- reading ---------------------------------------------------------------------
    def snapshot(self, buffer_available: Optional[int] = None,
                 buffer_total: Optional[int] = None) -> Dict[str, float]:
        values = self.registry.values()
        if buffer_available is not None:
            values["buffer-available-bytes"] = buffer_available
        if buffer_total is not None:
            values["buffer-total-bytes"] = buffer_total
        return values

    def close(self) -> None:
        self.registry.close()

